/** `driftline drift A.json B.json`: compare two reference profiles feature by feature. */
import { compareProfiles } from '../agent/drift/compare.js';
import { REFERENCE_REACH } from '../agent/drift/judge.js';
import { judgeOf, marks } from '../agent/drift/profile-marks.js';
import { readProfile } from '../agent/drift/profile.js';
import type { Profile } from '../agent/drift/types.js';
import { driftlineError } from '../lib/errors.js';
import { parse } from './args.js';

export { marks, type Mark } from '../agent/drift/profile-marks.js';

export const summary = 'compare two reference profiles (e.g. training against last week) feature by feature';

export const usage = `driftline drift A.json B.json [--json]

Compares profile B (say, last week's capture folder) against profile A (say, the training data),
both made with 'driftline baseline'. For every feature it prints PSI, Jensen-Shannon distance, the
KS statistic and Wasserstein-1 divided by A's standard deviation, most drifted first. The marks use
A's calibrated thresholds for a window as long as B (1% and 0.1% chance of a mark per comparison
when nothing drifted), or without a calibration the fixed PSI cut-offs of tabular tools (0.1, 0.25);
either way only where the feature's mean or spread moved by its resolution or by half A's standard
deviation. Both profiles are samples: where B is calibrated for A's length, B's thresholds judge A
too, and a row is marked at the lower of the two levels. Where B is more than twice as long as the
longest window A's calibration holds (A is too small a sample to judge it), every row is marked
insufficient-reference instead. See docs/drift.md.

Options:
  --json   print the rows as JSON instead of a table
`;

const f3 = (v: number): string => (Number.isNaN(v) ? 'n/a' : v.toFixed(3));

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, true);
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (positionals.length !== 2) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: 'give two profiles: A.json B.json' });
  const [a, b] = await Promise.all(positionals.map(readProfile)) as [Profile, Profile];
  const rows = compareProfiles(a, b);
  const marked = marks(a, b, rows);
  if (values.json) {
    const withMarks = rows.map((r) => ({ ...r, mark: marked.get(r.feature) ?? 'ok' }));
    process.stdout.write(JSON.stringify({ a: positionals[0], b: positionals[1], sameModel: a.model.sha256 === b.model.sha256, rows: withMarks }) + '\n');
    return 0;
  }
  const out = process.stdout;
  out.write(`A: ${positionals[0]} (${a.frames} frames, ${a.data.source})\nB: ${positionals[1]} (${b.frames} frames, ${b.data.source})\n`);
  if (a.model.sha256 !== b.model.sha256) out.write('note: the profiles come from different models; detection features are not comparable\n');
  if ([...marked.values()].includes('insufficient-reference')) {
    const longest = judgeOf(a).longestCalibrated();
    out.write(`note: insufficient reference: A's calibration holds windows of up to ${longest} frames and judges up to ${REFERENCE_REACH * longest}; B has ${b.frames}. Profile a larger A, or compare a shorter B\n`);
  }
  out.write(`\n${'feature'.padEnd(18)} ${'mean A'.padStart(9)} ${'mean B'.padStart(9)} ${'PSI'.padStart(8)} ${'JS'.padStart(6)} ${'KS'.padStart(6)} ${'W1/sd'.padStart(8)}\n`);
  for (const r of rows) {
    const m = marked.get(r.feature);
    const mark = m ? `  ${m}` : '';
    out.write(`${r.feature.padEnd(18)} ${r.meanA.toPrecision(4).padStart(9)} ${r.meanB.toPrecision(4).padStart(9)} ${f3(r.psi).padStart(8)} ${f3(r.js).padStart(6)} ${f3(r.ks).padStart(6)} ${f3(r.w1).padStart(8)}${mark}\n`);
  }
  return 0;
}
