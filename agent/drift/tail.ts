/**
 * The far tail of a score's no-drift distribution, fitted and read in one place. Two thousand
 * bootstrap windows (calibrate.ts) pin down the 80th percentile well but not the 1-in-100,000
 * quantile a daily false-alarm budget needs, so the far tail is extrapolated from the excesses over
 * the 80th percentile (peaks over threshold) as an exponential tail, either of the score itself or
 * of its square. The square's tail is the lighter one, as the tails of the distances (JS, KS,
 * Wasserstein) are, Gaussian-like; an exponential tail of the raw distance put the thresholds of the
 * bounded ones past their bound, so they could never fire. Each score's tail is chosen by the
 * bootstrap itself (tailFit): whichever of the two follows the bootstrap's own upper quantiles more
 * closely (PSI, which grows like a χ² statistic, and scores whose windows come in bursts keep their
 * own). `summarise` stores the fit in the profile (NullDistribution); `tailQuantile` reads it back
 * as a threshold (judge.ts).
 */
import type { NullDistribution } from './types.js';

/** The tail is fitted above this quantile of the bootstrap. */
export const TAIL_FROM = 0.8;
/** Quantiles of the bootstrap at which the two tail models are compared with it. */
const CHECK_AT = [0.9, 0.95, 0.98, 0.99, 0.995] as const;
/** The lighter tail needs this many of the CHECK_AT quantiles above u to be chosen. */
const MIN_CHECKED = 3;
/** Fewer bootstrap values than this: too few to tell the tails apart, so the score's own is used. */
const MIN_TAIL_CHECK = 200;

/** The mean excess of v^power over u^power, for the values above u in `sorted`. */
function excessOver(sorted: Float64Array, u: number, power: number): number {
  const up = u ** power;
  let ex = 0;
  let m = 0;
  for (const x of sorted) {
    if (x > u) {
      ex += x ** power - up;
      m++;
    }
  }
  return m ? ex / m : 0;
}

/**
 * The tail model of sorted bootstrap values: power 1 (an exponential tail of the value) or 2 (of its
 * square), whichever follows the bootstrap's own quantiles in CHECK_AT more closely, each miss
 * measured against the excess over u there. Power 1 where they tie, where the values are too few, or
 * where fewer than MIN_CHECKED of those quantiles are above u (a share that is almost always 0).
 */
export function tailFit(sorted: Float64Array, u: number): { power: 1 | 2; excess: number } {
  const c = sorted.length;
  const ex1 = excessOver(sorted, u, 1);
  if (c < MIN_TAIL_CHECK) return { power: 1, excess: ex1 };
  const ex2 = excessOver(sorted, u, 2);
  let miss1 = 0;
  let miss2 = 0;
  let checked = 0;
  for (const q of CHECK_AT) {
    const seen = sorted[Math.floor(q * c)]!;
    if (!(seen > u)) continue; // a quantile still at u (a share that is mostly 0) says nothing of the tail
    checked++;
    const scale = seen - u;
    const t = Math.log((1 - TAIL_FROM) / (1 - q));
    miss1 += ((u + ex1 * t - seen) / scale) ** 2;
    miss2 += ((Math.sqrt(u * u + ex2 * t) - seen) / scale) ** 2;
  }
  return checked >= MIN_CHECKED && miss2 < miss1 ? { power: 2, excess: ex2 } : { power: 1, excess: ex1 };
}

/** The no-drift distribution of a score from its bootstrap values: moments, u and the fitted tail. */
export function summarise(v: Float64Array): NullDistribution {
  const c = v.length;
  if (c === 0) return [0, 0, 0, 0, 1];
  let sum = 0;
  for (const x of v) sum += x;
  const mean = sum / c;
  let ss = 0;
  for (const x of v) ss += (x - mean) ** 2;
  const sorted = Float64Array.from(v).sort();
  const u = sorted[Math.min(c - 1, Math.floor(TAIL_FROM * c))]!;
  const { power, excess } = tailFit(sorted, u);
  const r = (x: number): number => Number(x.toPrecision(6));
  return [r(mean), r(c > 1 ? ss / (c - 1) : 0), r(u), r(excess), power];
}

/**
 * The value a no-drift window exceeds with probability `p`: above u, v^power has an exponential
 * tail, so that value is (u^power + excess · ln((1 − TAIL_FROM) / p))^(1/power).
 */
export function tailQuantile(s: NullDistribution, p: number): number {
  const [, , u, excess, power = 1] = s;
  const q = u ** power + excess * Math.log((1 - TAIL_FROM) / Math.min(p, 1 - TAIL_FROM));
  return power === 1 ? q : q ** (1 / power);
}
