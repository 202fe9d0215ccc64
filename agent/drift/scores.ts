/**
 * One window's drift scores against a reference profile: the same function scores live windows in
 * the agent and bootstrap windows in calibration, so the thresholds are calibrated on exactly the
 * scores they judge. A window is reduced to counts (per-feature bins on the reference's edges,
 * class counts, confidence histograms, flagged frames) and every score costs O(bins), not O(frames).
 *
 * Score keys, in a fixed order decided once per reference (see scoreKeys):
 *   psi:<feature> js:<feature> ks:<feature> w1:<feature>   every per-frame feature
 *   js:classMix                                             kept detections per class
 *   js:conf.<class>                                         candidate confidence histogram per class
 *   rate:uncertain                                          share of frames with an uncertain detection
 *   rate:ood                                                share of frames outside the reference support
 *   rate:oodDetection                                       share of frames with a detection unlike its class's reference
 *   mean:topScore                                           mean top score, for the sequential detector
 */
import { CONF_BINS } from '../telemetry/detection-stats.js';
import { sampleStd } from '../telemetry/frame-record.js';
import { jsDistance, ksStatistic, psi, total, wasserstein1 } from './metrics.js';
import { PROFILE_FEATURES } from './profile-schema.js';
import type { Profile } from './types.js';

export const FEATURE_SCORES = ['psi', 'js', 'ks', 'w1'] as const;
/** Fewer kept detections (class mix) or candidates of a class (its confidence) than this: no score. */
export const MIN_COUNT = 20;
/**
 * Confidence histograms are scored only for classes with at least this share of the reference's
 * detections. A rare class (a defect at 2%) appears in bursts, one part at a time: its histogram
 * swings with every part that passes, and the class mix already watches how often it appears.
 */
export const MIN_CLASS_SHARE = 0.05;
const TOP_SCORE = PROFILE_FEATURES.indexOf('topScore');

export function scoreKeys(names: readonly string[]): string[] {
  const keys: string[] = [];
  for (const f of PROFILE_FEATURES) for (const s of FEATURE_SCORES) keys.push(`${s}:${f}`);
  keys.push('js:classMix');
  for (const n of names) keys.push(`js:conf.${n}`);
  keys.push('rate:uncertain', 'rate:ood', 'rate:oodDetection', 'mean:topScore');
  return keys;
}

/** A window reduced to counts. Allocated once per camera (or per calibration) and refilled. */
export class WindowCounts {
  frames = 0;
  /** Per feature: counts on the reference's bins (underflow, inner bins, overflow). */
  readonly bins: Float64Array[];
  readonly sum = new Float64Array(PROFILE_FEATURES.length);
  readonly sumSq = new Float64Array(PROFILE_FEATURES.length);
  readonly classCounts: Float64Array;
  readonly confHist: Float64Array;
  uncertainFrames = 0;
  oodFrames = 0;
  /** Frames with at least one detection out of its class's distribution (detection-level OOD). */
  oodDetectionFrames = 0;

  constructor(binsPerFeature: readonly number[], numClasses: number) {
    this.bins = binsPerFeature.map((k) => new Float64Array(k));
    this.classCounts = new Float64Array(numClasses);
    this.confHist = new Float64Array(numClasses * CONF_BINS);
  }

  clear(): void {
    this.frames = 0;
    for (const b of this.bins) b.fill(0);
    this.sum.fill(0);
    this.sumSq.fill(0);
    this.classCounts.fill(0);
    this.confHist.fill(0);
    this.uncertainFrames = 0;
    this.oodFrames = 0;
    this.oodDetectionFrames = 0;
  }

  mean(f: number): number {
    return this.frames ? this.sum[f]! / this.frames : Number.NaN;
  }

  std(f: number): number {
    const n = this.frames;
    return sampleStd(n, this.sum[f]! / n, this.sumSq[f]!);
  }
}

/** The reference in the shape scoring needs, prepared once. */
export class ScoringReference {
  readonly keys: string[];
  readonly edges: readonly (readonly number[])[];
  readonly counts: readonly Float64Array[];
  /** Bin widths for Wasserstein-1, in the feature's units (open bins: the mean inner width). */
  readonly widths: readonly Float64Array[];
  /** Divides Wasserstein-1: the reference's standard deviation (or 1 for a constant feature). */
  readonly spread: Float64Array;
  readonly means: Float64Array;
  readonly stds: Float64Array;
  readonly classMix: Float64Array;
  readonly confHist: readonly Float64Array[];
  /** Per class: whether its confidence histogram is scored (MIN_CLASS_SHARE). */
  readonly confScored: readonly boolean[];
  readonly names: readonly string[];

  constructor(p: Pick<Profile, 'features' | 'classMix' | 'confHist' | 'model'>) {
    this.names = p.model.names;
    this.keys = scoreKeys(this.names);
    const fp = PROFILE_FEATURES.map((f) => {
      const x = p.features[f];
      if (!x) throw new Error(`the profile has no feature ${f}`);
      return x;
    });
    this.edges = fp.map((f) => f.edges);
    this.counts = fp.map((f) => Float64Array.from(f.counts));
    this.widths = fp.map((f) => {
      const e = f.edges;
      const inner = e.length > 1 ? (e[e.length - 1]! - e[0]!) / (e.length - 1) : 0;
      const w = new Float64Array(e.length + 1);
      w[0] = inner;
      for (let j = 0; j < e.length - 1; j++) w[j + 1] = e[j + 1]! - e[j]!;
      w[e.length] = inner;
      return w;
    });
    this.spread = Float64Array.from(fp, (f) => (f.std > 0 ? f.std : 1));
    this.means = Float64Array.from(fp, (f) => f.mean);
    this.stds = Float64Array.from(fp, (f) => f.std);
    this.classMix = Float64Array.from(this.names, (n) => p.classMix[n] ?? 0);
    this.confHist = this.names.map((n) => Float64Array.from(p.confHist[n] ?? new Array<number>(CONF_BINS).fill(0)));
    const kept = total(this.classMix);
    this.confScored = this.names.map((_, c) => kept > 0 && this.classMix[c]! / kept >= MIN_CLASS_SHARE);
  }

  binsPerFeature(): number[] {
    return this.edges.map((e) => e.length + 1);
  }

  newCounts(): WindowCounts {
    return new WindowCounts(this.binsPerFeature(), this.names.length);
  }

  /** Writes every score of window `w` into `out` (one slot per key, NaN where undefined). */
  score(w: WindowCounts, out: Float64Array): Float64Array {
    let k = 0;
    for (let f = 0; f < PROFILE_FEATURES.length; f++) {
      const ref = this.counts[f]!;
      const win = w.bins[f]!;
      out[k++] = psi(ref, win);
      out[k++] = jsDistance(ref, win);
      out[k++] = ksStatistic(ref, win);
      out[k++] = wasserstein1(ref, win, this.widths[f]!) / this.spread[f]!;
    }
    out[k++] = total(w.classCounts) >= MIN_COUNT ? jsDistance(this.classMix, w.classCounts) : Number.NaN;
    for (let c = 0; c < this.names.length; c++) {
      const h = w.confHist.subarray(c * CONF_BINS, (c + 1) * CONF_BINS);
      out[k++] = this.confScored[c] && total(h) >= MIN_COUNT ? jsDistance(this.confHist[c]!, h) : Number.NaN;
    }
    const n = w.frames;
    out[k++] = n ? w.uncertainFrames / n : Number.NaN;
    out[k++] = n ? w.oodFrames / n : Number.NaN;
    out[k++] = n ? w.oodDetectionFrames / n : Number.NaN;
    out[k] = w.mean(TOP_SCORE);
    return out;
  }
}
