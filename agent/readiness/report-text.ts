/** Sentences report.md and report.html both print, written once. */

/** The conditions section when it has no groups: no columns, or only columns with one value in this set. */
export function noConditionsText(columns: readonly string[]): string {
  return columns.length ? `Every condition column (${columns.join(', ')}) has one value in this set: nothing to compare.` : 'No condition columns.';
}

/** Why a class's threshold misses its targets. */
export function unmetText(name: string, failed: readonly string[], chosenOn: string): string {
  return `No threshold of ${name} that the config can hold (2 decimals) meets every target on ${chosenOn} (${failed.join(', ')}): the one given has the best F1 at production rates.`;
}
