/**
 * Drift scores between a reference histogram and a window histogram over the same bins. All work
 * on counts, so their cost is O(bins), not O(frames). Each returns NaN when either side is empty:
 * "no data" must never read as "no drift".
 *
 * - psi:          Population Stability Index, Σ (a − e) · ln(a / e) over bin shares, with every
 *                 share floored at `epsilon` so empty bins give a large but finite score.
 * - jsDistance:   Jensen–Shannon distance (square root of the divergence, log base 2): 0 for
 *                 identical distributions, 1 for disjoint ones. Empty bins need no epsilon.
 * - ksStatistic:  the Kolmogorov–Smirnov statistic on the binned CDFs: max |CDF_a − CDF_e|.
 * - wasserstein1: earth mover's distance on the binned CDFs, Σ |CDF_a − CDF_e| · width, in the
 *                 feature's units; divide by the reference spread to normalise.
 * - chiSquare:    Pearson's χ² of the window's counts against the reference shares. Not a drift
 *                 score: the class mix is scored with jsDistance (`js:classMix`, scores.ts).
 */

export const DEFAULT_EPSILON = 1e-4;

export function total(c: ArrayLike<number>): number {
  let t = 0;
  for (let i = 0; i < c.length; i++) t += c[i]!;
  return t;
}

function checkSameBins(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`histograms have ${a.length} and ${b.length} bins`);
}

/** Both totals, after checking the bins match; undefined when either side is empty. */
function totals(reference: ArrayLike<number>, window: ArrayLike<number>): [number, number] | undefined {
  checkSameBins(reference, window);
  const te = total(reference);
  const ta = total(window);
  return te === 0 || ta === 0 ? undefined : [te, ta];
}

export function psi(reference: ArrayLike<number>, window: ArrayLike<number>, epsilon = DEFAULT_EPSILON): number {
  const t = totals(reference, window);
  if (!t) return Number.NaN;
  const [te, ta] = t;
  let s = 0;
  for (let i = 0; i < reference.length; i++) {
    const e = Math.max(reference[i]! / te, epsilon);
    const a = Math.max(window[i]! / ta, epsilon);
    s += (a - e) * Math.log(a / e);
  }
  return s;
}

export function jsDistance(reference: ArrayLike<number>, window: ArrayLike<number>): number {
  const t = totals(reference, window);
  if (!t) return Number.NaN;
  const [te, ta] = t;
  let d = 0;
  for (let i = 0; i < reference.length; i++) {
    const p = reference[i]! / te;
    const q = window[i]! / ta;
    const m = (p + q) / 2;
    if (p > 0) d += 0.5 * p * Math.log2(p / m);
    if (q > 0) d += 0.5 * q * Math.log2(q / m);
  }
  return Math.sqrt(Math.max(0, Math.min(1, d)));
}

export function ksStatistic(reference: ArrayLike<number>, window: ArrayLike<number>): number {
  const t = totals(reference, window);
  if (!t) return Number.NaN;
  const [te, ta] = t;
  let ce = 0;
  let ca = 0;
  let d = 0;
  for (let i = 0; i < reference.length; i++) {
    ce += reference[i]! / te;
    ca += window[i]! / ta;
    d = Math.max(d, Math.abs(ca - ce));
  }
  return d;
}

/** `widths[i]` is the width of bin i in the feature's units (open-ended bins: a chosen finite width). */
export function wasserstein1(reference: ArrayLike<number>, window: ArrayLike<number>, widths: ArrayLike<number>): number {
  checkSameBins(reference, widths);
  const t = totals(reference, window);
  if (!t) return Number.NaN;
  const [te, ta] = t;
  let ce = 0;
  let ca = 0;
  let w = 0;
  // Mass moves across the boundary after bin i by |CDF difference| over the distance between the
  // centres of bins i and i+1.
  for (let i = 0; i < reference.length - 1; i++) {
    ce += reference[i]! / te;
    ca += window[i]! / ta;
    w += Math.abs(ca - ce) * (widths[i]! + widths[i + 1]!) / 2;
  }
  return w;
}

export function chiSquare(reference: ArrayLike<number>, window: ArrayLike<number>, epsilon = DEFAULT_EPSILON): number {
  const t = totals(reference, window);
  if (!t) return Number.NaN;
  const [te, ta] = t;
  let x = 0;
  for (let i = 0; i < reference.length; i++) {
    const expected = Math.max(reference[i]! / te, epsilon) * ta;
    const d = window[i]! - expected;
    x += (d * d) / expected;
  }
  return x;
}

/**
 * One-sided CUSUM for a sustained rise of a standardised statistic (a z-score against the reference's
 * no-drift distribution), too small for any single window to show: S = max(0, S + z − k), signalling
 * while S > h. Unlike Page–Hinkley, which compares a stream with its own running mean, it compares
 * with the reference, so a drift already present when the agent starts is still caught. `k` is the
 * shift it tolerates per observation, `h` the evidence it needs (both in standard deviations).
 * Watch for a fall by feeding −z.
 */
export class Cusum {
  private s = 0;

  /**
   * `cap` (default 2h) bounds the evidence, so that once the process is back at the reference the
   * alarm clears within (cap - h) / k observations (20 at k 0.5, h 10) however long the shift lasted.
   */
  constructor(
    readonly k: number,
    readonly h: number,
    readonly cap = 2 * h,
  ) {}

  /** Adds an observation; returns true while the detector signals. */
  update(z: number): boolean {
    this.s = Math.min(this.cap, Math.max(0, this.s + z - this.k));
    return this.s > this.h;
  }

  /** The accumulated evidence of a rise. */
  get statistic(): number {
    return this.s;
  }

  /** Forgets the past (after an alarm has been handled). */
  reset(): void {
    this.s = 0;
  }
}
