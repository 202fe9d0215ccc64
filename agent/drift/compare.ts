/**
 * Comparing two reference profiles (e.g. training data against last week's capture folder). Each
 * profile has its own bin edges, so the second is re-binned onto the first's edges by linear
 * interpolation of its cumulative counts within its bins, then every metric runs on the first's
 * bins. The same metrics run in the agent on live windows.
 */
import { frameFeatures } from '../../protocol/features.js';
import { jsDistance, ksStatistic, psi } from './metrics.js';
import { PROFILE_FEATURES } from './profile-schema.js';
import type { FeatureProfile, Profile } from './types.js';

/**
 * Per-frame counts (kept detections, candidates, uncertain or out-of-distribution detections: the
 * features defined `whole`): whole numbers, so quantile edges collapse onto them and a bin [1, 2]
 * holds frames with 1 or 2, not values spread between them. A count of few values has a bin per
 * value instead, between half-integer edges (profile.ts, featureEdges); the same rule reads both.
 */
export const COUNT_FEATURES: ReadonlySet<string> = new Set(frameFeatures().filter((d) => d.whole).map((d) => d.name));

/**
 * Cumulative count of `f`'s samples at or below x (`inclusive`) or strictly below x, piecewise
 * linear inside each bin. Zero-width bins (a feature constant over a stretch) are point masses:
 * counted at x only when inclusive. With `whole`, the samples are whole numbers: a bin [lo, hi)
 * holds the integers lo … hi − 1 in equal shares (the last inner bin, closed, lo … hi), so a count
 * sitting on an edge is counted at that edge, not spread towards the next one.
 */
export function cumulativeAt(f: FeatureProfile, x: number, inclusive = true, whole = false): number {
  const e = f.edges;
  const c = f.counts;
  const total = c.reduce((a, b) => a + b, 0);
  if (x < e[0]!) return 0; // a profile's own underflow is empty: its data starts at its first edge
  let cum = c[0]!;
  for (let j = 0; j < e.length - 1; j++) {
    const lo = e[j]!;
    const hi = e[j + 1]!;
    const inBin = c[j + 1]!;
    if (hi === lo) {
      if (x > hi || (inclusive && x === hi)) cum += inBin;
      else return cum;
      continue;
    }
    if (whole) {
      const first = Math.ceil(lo);
      const lastValue = j === e.length - 2 ? Math.floor(hi) : Math.ceil(hi) - 1;
      const values = lastValue - first + 1;
      if (values <= 0) continue;
      const upTo = inclusive ? Math.floor(x) : Math.ceil(x) - 1;
      const below = Math.max(0, Math.min(values, upTo - first + 1));
      cum += (inBin * below) / values;
      if (below < values) return cum;
      continue;
    }
    if (x >= hi) {
      cum += inBin;
      continue;
    }
    return cum + (inBin * (x - lo)) / (hi - lo);
  }
  return x > e[e.length - 1]! ? total : total - c[c.length - 1]!;
}

/** `other`'s counts on `ref`'s bins, treating `other` as continuous within its own bins, or as whole numbers (`whole`). */
export function rebin(other: FeatureProfile, ref: FeatureProfile, whole = false): number[] {
  const total = other.counts.reduce((a, b) => a + b, 0);
  // Bins are [e_j, e_j+1) with the last inner bin closed, as binOf() bins live values.
  const last = ref.edges.length - 1;
  const cdf = ref.edges.map((x, j) => Math.min(total, cumulativeAt(other, x, j === last, whole)));
  const out = [cdf[0]!];
  for (let j = 1; j < cdf.length; j++) out.push(Math.max(0, cdf[j]! - cdf[j - 1]!));
  out.push(Math.max(0, total - cdf[cdf.length - 1]!));
  return out;
}

/**
 * Wasserstein-1 between two profiles' own (piecewise-linear) distributions: ∫ |F_a − F_b| dx over
 * the merged edges, in the feature's units. Unlike binned W1 it sees how far a distribution moved
 * beyond the reference's range.
 */
export function profileWasserstein(a: FeatureProfile, b: FeatureProfile): number {
  const ta = a.counts.reduce((s, c) => s + c, 0);
  const tb = b.counts.reduce((s, c) => s + c, 0);
  if (ta === 0 || tb === 0) return Number.NaN;
  const xs = [...new Set([...a.edges, ...b.edges])].sort((x, y) => x - y);
  // Midpoints too, so a sign change of F_a - F_b inside a segment is followed closely.
  const pts: number[] = [];
  xs.forEach((x, i) => {
    if (i > 0) pts.push((xs[i - 1]! + x) / 2);
    pts.push(x);
  });
  const diff = (x: number): number => Math.abs(cumulativeAt(a, x) / ta - cumulativeAt(b, x) / tb);
  let w = 0;
  for (let i = 1; i < pts.length; i++) w += ((diff(pts[i - 1]!) + diff(pts[i]!)) / 2) * (pts[i]! - pts[i - 1]!);
  return w;
}

export interface FeatureDrift {
  readonly feature: string;
  readonly psi: number;
  readonly js: number;
  readonly ks: number;
  /** Wasserstein-1 divided by the reference's standard deviation. */
  readonly w1: number;
  readonly meanA: number;
  readonly meanB: number;
}

export function compareProfiles(a: Profile, b: Profile): FeatureDrift[] {
  const rows = PROFILE_FEATURES.map((feature): FeatureDrift | undefined => {
    const fa = a.features[feature];
    const fb = b.features[feature];
    if (!fa || !fb) return undefined;
    // Whole numbers where the feature is a count and both profiles' edges say so.
    const onCounts = (e: readonly number[]): boolean => e.every((x) => Number.isInteger(2 * x));
    const whole = COUNT_FEATURES.has(feature) && onCounts(fa.edges) && onCounts(fb.edges);
    const countsB = rebin(fb, fa, whole);
    const spread = fa.std > 0 ? fa.std : 1;
    return {
      feature,
      psi: psi(fa.counts, countsB),
      js: jsDistance(fa.counts, countsB),
      ks: ksStatistic(fa.counts, countsB),
      w1: profileWasserstein(fa, fb) / spread,
      meanA: fa.mean,
      meanB: fb.mean,
    };
  });
  return rows.filter((r): r is FeatureDrift => r !== undefined).sort((x, y) => y.psi - x.psi);
}
