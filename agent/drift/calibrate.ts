/**
 * Thresholds calibrated to the window, not copied from tabular tools. For every score key and a
 * ladder of window lengths, the no-drift distribution of the score is bootstrapped from the
 * reference frames themselves: circular block resampling in capture order, with blocks longer than
 * the frames' correlation time, so that consecutive video frames (which repeat one another) count
 * for what they are worth. Each key's bootstrap distribution per length is stored with its fitted
 * far tail (a NullDistribution, tail.ts); the agent turns it into warn and alert thresholds for its
 * own window length and false-alarm target, divided across every score that can raise a verdict
 * (judge.ts).
 *
 * The reference is a sample too. Each bootstrap window is scored against a reference resampled (in
 * blocks) from the other group to the full reference's size, not against one fixed half, so the
 * thresholds include the reference's own sampling noise: what a small folder of 80 images needs,
 * and what a 20,000-frame commissioning run barely notices.
 *
 * The out-of-distribution share needs one more step: every reference frame lies inside the
 * reference's own support, so each half of the reference is tested against the other half's
 * support, which is what a new frame from the same distribution meets.
 *
 * A reference of several runs (cameras: ProfileBuilder.startRun) is split by run instead of in
 * halves: each bootstrap window is drawn from one run and scored against the runs of the other
 * group, so the thresholds allow for a camera the reference never saw, not only for more frames of
 * the one it did.
 */
import { inputFeatures } from '../../protocol/features.js';
import { CONF_BINS } from '../telemetry/detection-stats.js';
import { DEFAULT_QUANTILE_BINS, WHOLE, binOf, featureEdges } from './profile.js';
import { PROFILE_FEATURES } from './profile-schema.js';
import { ScoringReference, WindowCounts } from './scores.js';
import { summarise } from './tail.js';
import type { Calibration, NullDistribution, Profile, ReferenceSeries, WindowMoments } from './types.js';

export const CALIBRATION_METHOD = 'circular block bootstrap against resampled references; exponential tail of the score or of its square over the 80th percentile';
export const DEFAULT_CALIBRATION_WINDOWS = [30, 60, 120, 300, 600, 1200, 3000] as const;
export const DEFAULT_REPLICATES = 2000;
export const DEFAULT_OOD_MARGIN = 0.1;
/** Blocks per bootstrap window (at least twice the block length of the correlation time). */
const BLOCKS_PER_WINDOW = 4;
/** Resampled references per side, shared by every window length (see calibrate). */
const REFERENCE_POOL = 100;
/**
 * Frames count as independent (still images) when the median feature's correlation time is below
 * this. Consecutive video frames repeat the whole scene, so every feature is correlated at once; in
 * a folder of images, chance correlations touch a feature or two.
 */
const INDEPENDENT_TAU = 1.5;

export interface CalibrationOptions {
  readonly windows?: readonly number[];
  readonly replicates?: number;
  readonly seed?: number;
  readonly oodMargin?: number;
  /** Quantile bins per feature, as the profile was built with (default DEFAULT_QUANTILE_BINS). */
  readonly bins?: number;
  /** Reports progress as (done, total) steps. */
  readonly progress?: (done: number, total: number) => void;
}

/** A small deterministic generator (mulberry32), so a profile rebuilt from the same data is identical. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * 1 + 2 Σ ρ_k, summed until the autocorrelation first falls below 0.05, or below its own noise
 * level 2/√n when that is higher: in 80 independent images, chance correlations of ±0.2 are no
 * evidence that frames repeat one another.
 */
export function correlationTime(x: ArrayLike<number>): number {
  const n = x.length;
  if (n < 4) return 1;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  let c0 = 0;
  for (let i = 0; i < n; i++) c0 += (x[i]! - mean) ** 2;
  if (c0 === 0) return 1;
  let tau = 1;
  const cutoff = Math.max(0.05, 2 / Math.sqrt(n));
  const maxLag = Math.floor(n / 4);
  for (let k = 1; k <= maxLag; k++) {
    let ck = 0;
    for (let i = 0; i + k < n; i++) ck += (x[i]! - mean) * (x[i + k]! - mean);
    const rho = ck / c0;
    if (rho < cutoff) break;
    tau += 2 * rho;
  }
  return tau;
}

/** [min − margin·w, max + margin·w] of `x` over the ranges, w the range of values or the feature's resolution. */
function supportOf(x: ArrayLike<number>, ranges: readonly { from: number; to: number }[], margin: number, resolution: number): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const { from, to } of ranges) {
    for (let i = from; i < to; i++) {
      if (x[i]! < lo) lo = x[i]!;
      if (x[i]! > hi) hi = x[i]!;
    }
  }
  const w = Math.max(hi - lo, resolution);
  return [lo - margin * w, hi + margin * w];
}

/** Running sums along the frames, so any block's totals cost O(columns). */
class Prefix {
  readonly data: Float64Array;
  constructor(
    readonly columns: number,
    frames: number,
    value: (frame: number, column: number) => number,
  ) {
    this.data = new Float64Array((frames + 1) * columns);
    for (let t = 0; t < frames; t++) {
      const a = t * columns;
      const b = a + columns;
      for (let c = 0; c < columns; c++) this.data[b + c] = this.data[a + c]! + value(t, c);
    }
  }

  /** Adds the totals of frames [from, to) into out. */
  addRange(from: number, to: number, out: Float64Array): void {
    const a = from * this.columns;
    const b = to * this.columns;
    for (let c = 0; c < this.columns; c++) out[c]! += this.data[b + c]! - this.data[a + c]!;
  }
}

export function calibrate(profile: Pick<Profile, 'features' | 'classMix' | 'confHist' | 'model'>, series: ReferenceSeries, o: CalibrationOptions = {}): Calibration {
  const n = series.frames;
  const nc = profile.model.names.length;
  const ref = new ScoringReference(profile);
  const margin = o.oodMargin ?? DEFAULT_OOD_MARGIN;
  const replicates = o.replicates ?? DEFAULT_REPLICATES;
  const rand = random(o.seed ?? 1);

  const correlationFrames: Record<string, number> = {};
  let longest = 1;
  const taus: number[] = [];
  PROFILE_FEATURES.forEach((f, i) => {
    const tau = correlationTime(series.values[i]!);
    correlationFrames[f] = Math.round(tau * 10) / 10;
    longest = Math.max(longest, tau);
    taus.push(tau);
  });
  const blockFrames = Math.max(1, Math.min(Math.ceil(2 * longest), Math.floor(n / 10) || 1));

  // The reference is split in two groups. With one run (one camera), they are its halves. With
  // several runs (cameras), the even runs and the odd ones: every window below is drawn from one run
  // and scored against the other group, so the no-drift spread includes how much one camera of the
  // line differs from the others, which is what a camera the reference never saw meets.
  const half = Math.floor(n / 2);
  const starts = series.runs && series.runs.length >= 2 ? [...series.runs] : [0, half];
  const runs = starts.map((from, i) => ({ from, to: starts[i + 1] ?? n })).filter((r) => r.to > r.from);
  const groups = [runs.filter((_, i) => i % 2 === 0), runs.filter((_, i) => i % 2 === 1)];
  const groupOf = new Uint8Array(n);
  for (const r of groups[1]!) groupOf.fill(1, r.from, r.to);

  // Out-of-distribution flags of the reference frames, each group against the other's support.
  const support: Record<string, [number, number]> = {};
  const ood = new Uint8Array(n);
  inputFeatures().forEach(({ name: f, resolution: res }, i) => {
    const x = series.values[i]!;
    support[f] = supportOf(x, [{ from: 0, to: n }], margin, res);
    const of = groups.map((g) => supportOf(x, g, margin, res));
    for (let t = 0; t < n; t++) {
      const [lo, hi] = of[1 - groupOf[t]!]!;
      if (x[t]! < lo || x[t]! > hi) ood[t] = 1;
    }
  });

  const uncertainIndex = PROFILE_FEATURES.indexOf('uncertain');
  const oodDetectionIndex = PROFILE_FEATURES.indexOf('oodDetections');
  // Each group is binned on its own quantile edges. A window drawn from one group and binned on
  // the other group's edges can fall past them (under- and overflow), as a new camera's window
  // falls past the reference's; on edges that every frame of the reference shaped, it never could.
  // In a folder of 80 images whose frames hold 0 or 1 uncertain detections, a second folder's frame
  // with 2 lands in overflow: its own resamples must be able to do that too.
  const binningOf = (g: readonly { from: number; to: number }[]): { edges: number[][]; prefix: Prefix[]; w: WindowCounts } => {
    const edges = PROFILE_FEATURES.map((_, i) => {
      const x = series.values[i]!;
      const vals: number[] = [];
      for (const r of g) for (let t = r.from; t < r.to; t++) vals.push(x[t]!);
      return featureEdges(vals, WHOLE[i]!, o.bins ?? DEFAULT_QUANTILE_BINS);
    });
    const prefix = edges.map((e, i) => {
      const x = series.values[i]!;
      return new Prefix(e.length + 1, n, (t, c) => (binOf(e, x[t]!) === c ? 1 : 0));
    });
    return { edges, prefix, w: new WindowCounts(edges.map((e) => e.length + 1), nc) };
  };
  const binnings = groups.map(binningOf);
  const sumPrefix = new Prefix(PROFILE_FEATURES.length, n, (t, c) => series.values[c]![t]!);
  const sqPrefix = new Prefix(PROFILE_FEATURES.length, n, (t, c) => series.values[c]![t]! ** 2);
  const classPrefix = new Prefix(nc, n, (t, c) => series.classCounts[t * nc + c]!);
  const confPrefix = new Prefix(nc * CONF_BINS, n, (t, c) => series.confHist[t * nc * CONF_BINS + c]!);
  const flagOf = [(t: number): number => (series.values[uncertainIndex]![t]! > 0 ? 1 : 0), (t: number): number => ood[t]!, (t: number): number => (series.values[oodDetectionIndex]![t]! > 0 ? 1 : 0)];
  const flagPrefix = new Prefix(flagOf.length, n, (t, c) => flagOf[c]!(t));
  const flags = new Float64Array(flagOf.length);

  type Binning = (typeof binnings)[number];
  const addRange = (b: Binning, from: number, to: number): void => {
    const w = b.w;
    b.prefix.forEach((p, i) => p.addRange(from, to, w.bins[i]!));
    sumPrefix.addRange(from, to, w.sum);
    sqPrefix.addRange(from, to, w.sumSq);
    classPrefix.addRange(from, to, w.classCounts);
    confPrefix.addRange(from, to, w.confHist);
    flagPrefix.addRange(from, to, flags);
    w.frames += to - from;
  };
  type Run = { readonly from: number; readonly to: number };
  /** Adds `length` frames of run h from `start`, wrapping around to the run's first frame. */
  const addWrapped = (b: Binning, h: Run, start: number, length: number): void => {
    const end = start + length;
    if (end <= h.to) addRange(b, start, end);
    else {
      addRange(b, start, h.to);
      addRange(b, h.from, end - (h.to - h.from));
    }
  };
  /** The run holding the k-th frame of `runs` (taken in run order), and k's offset in it. */
  const locate = (runs: readonly Run[], k: number): { run: Run; at: number } => {
    for (const r of runs) {
      if (k < r.to - r.from) return { run: r, at: k };
      k -= r.to - r.from;
    }
    const last = runs[runs.length - 1]!;
    return { run: last, at: last.to - last.from - 1 };
  };

  // Windows drawn from one group are scored against references resampled from the other group: a
  // live window is new data against a reference that is itself a finite sample, and a window drawn
  // from the very frames the reference counted would look closer to it than new data does. Each
  // resampled reference has the full reference's frame count, drawn in blocks of the correlation
  // time from the group's runs, so its sampling noise is the real reference's: large for a folder of
  // 80 images, small for a commissioning run of 20,000 frames.
  const resampledReference = (side: readonly { from: number; to: number }[], sideFrames: number, b: Binning): ScoringReference => {
    const w = b.w;
    w.clear();
    flags.fill(0);
    for (let filled = 0; filled < n; ) {
      const { run: h, at } = locate(side, Math.floor(rand() * sideFrames));
      // A run shorter than a block gives what it has; the next block makes up the rest.
      const got = Math.min(blockFrames, n - filled, h.to - h.from);
      addWrapped(b, h, h.from + at, got);
      filled += got;
    }
    const features: Profile['features'] = {};
    PROFILE_FEATURES.forEach((f, i) => (features[f] = { edges: [...b.edges[i]!], counts: Array.from(w.bins[i]!), mean: w.mean(i), std: w.std(i) }));
    const classMix: Record<string, number> = {};
    const confHist: Record<string, number[]> = {};
    ref.names.forEach((name, c) => {
      classMix[name] = w.classCounts[c]!;
      confHist[name] = Array.from(w.confHist.subarray(c * CONF_BINS, (c + 1) * CONF_BINS));
    });
    return new ScoringReference({ features, classMix, confHist, model: profile.model });
  };
  const framesOf = (g: readonly { from: number; to: number }[]): number => g.reduce((a, r) => a + r.to - r.from, 0);
  const sides = groups.map((g, i) => {
    const other = groups[1 - i]!;
    const binning = binnings[1 - i]!;
    const refs = Array.from({ length: REFERENCE_POOL }, () => resampledReference(other, framesOf(other), binning));
    return { refs, runs: g, frames: framesOf(g), binning };
  });

  // A window of video lies in one run: at most half the shortest run, so it has room to be drawn.
  // Independent frames (a folder of still images) are drawn with replacement, up to the reference's
  // own size. Without an explicit ladder, the longest length that fits is calibrated too when the
  // default ladder stops well short of it, so a small reference still calibrates the window lengths
  // it can speak for (a single camera's 400 frames: 30, 60, 100).
  const shortest = Math.min(...runs.map((r) => r.to - r.from));
  const independent = taus.sort((a, b) => a - b)[Math.floor(taus.length / 2)]! < INDEPENDENT_TAU;
  const maxLength = Math.max(2, independent ? n : Math.floor(shortest / 2));
  const lengths = (o.windows ?? DEFAULT_CALIBRATION_WINDOWS).filter((len) => len >= 2 && len <= maxLength);
  if (!o.windows && (lengths.length === 0 || lengths[lengths.length - 1]! * 1.5 < maxLength)) lengths.push(maxLength);
  const keys = ref.keys;
  const scores = new Float64Array(keys.length);
  const windows: WindowMoments[] = [];
  lengths.forEach((len, li) => {
    // A window is made of few long blocks: a short window of correlated frames is one stretch of
    // the line, far more homogeneous than frames gathered from all over the reference.
    const block = independent ? 1 : Math.min(len, Math.max(2 * blockFrames, Math.ceil(len / BLOCKS_PER_WINDOW)));
    const values = keys.map(() => new Float64Array(replicates));
    const count = new Int32Array(keys.length);
    for (let r = 0; r < replicates; r++) {
      const side = sides[r % 2]!;
      // One run (camera), chosen in proportion to its frames; blocks wrap around within it.
      const h = side.runs.length === 1 ? side.runs[0]! : locate(side.runs, Math.floor(rand() * side.frames)).run;
      const size = h.to - h.from;
      // Binned on the edges of the group it is scored against.
      const b = side.binning;
      const w = b.w;
      w.clear();
      flags.fill(0);
      for (let filled = 0; filled < len; ) {
        const take = Math.min(block, len - filled);
        addWrapped(b, h, h.from + Math.floor(rand() * size), take);
        filled += take;
      }
      w.uncertainFrames = flags[0]!;
      w.oodFrames = flags[1]!;
      w.oodDetectionFrames = flags[2]!;
      side.refs[Math.floor(rand() * REFERENCE_POOL)]!.score(w, scores);
      for (let k = 0; k < keys.length; k++) {
        const v = scores[k]!;
        if (!Number.isNaN(v)) values[k]![count[k]!++] = v;
      }
    }
    const moments: Record<string, NullDistribution> = {};
    keys.forEach((key, k) => (moments[key] = summarise(values[k]!.subarray(0, count[k]!))));
    windows.push({ frames: len, block, moments });
    o.progress?.(li + 1, lengths.length);
  });
  return { method: CALIBRATION_METHOD, referenceFrames: n, replicates, correlationFrames, blockFrames, oodMargin: margin, support, windows, ...(runs.length > 2 || series.runs?.length === 2 ? { runs: runs.length } : {}) };
}
