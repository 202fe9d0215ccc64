/**
 * Detection-level out-of-distribution scoring: how unlike the known classes one detection looks.
 * A defect the detector was never trained on (a burn) is still boxed, and called `scratch` or
 * `bracket` with ~0.9 confidence, so confidence cannot flag it. The detector's own features barely
 * can either: they were trained to ignore whatever does not help name a trained class, and a
 * class-conditional Mahalanobis distance on `embed0` alone ranks burnt parts above known defects
 * no better than chance (AUROC ~0.5, scripts/ood-auroc.ts). What a burn, or any new surface
 * defect, does change is the part's colour. So each detection is described by two blocks,
 * standardised and joined:
 *
 * - `embed0[:, anchor]`, the D features the detector's heads read at the detection's anchor;
 * - 48 appearance statistics of the box in the letterboxed input tensor the model just read:
 *   mean and standard deviation of R, G, B, a soft 6×6 histogram of chromaticity (r, g) =
 *   (R, G) / (R+G+B) over [0.15, 0.55], and a soft 6-bin histogram of brightness, both as square
 *   roots of frequencies, from every other pixel of every other row, at most 16 × 16 pixels a box
 *   (SAMPLES_PER_SIDE). Chromaticity is what makes it
 *   survive a change of light: burns still rank above known defects at gain 0.9 and 1.1 and at
 *   5000 K (a hard 4×4×4 RGB histogram, tried first, fell to AUROC 0.68 at 5000 K).
 *
 * Appearance alone ranks as well (burn vs known defects 0.99), but under a light change every known
 * part drifts past its threshold; the embedding, which the detector made insensitive to light,
 * anchors the distance, and with it 1–3% of known parts pass the cross-fitted 99th percentile at
 * gain 0.9/1.1 or 5000 K, against 40–100% for appearance alone.
 *
 * The reference is one mean per predicted class and one covariance shared by all classes (too few
 * defect samples to estimate a covariance per class), shrunk toward a multiple of the identity
 * (Ledoit–Wolf style, a fixed weight) so that it inverts in 112 dimensions from a few thousand
 * samples; the weight, 0.5, was picked on burnt parts by those false alarms under changed light.
 * It is stored as plain JSON (~100 KB), the inverse Cholesky factor included, so that scoring is
 * one triangular matrix–vector product: the score of a detection is its squared Mahalanobis
 * distance to the mean of the class it was given. Higher is stranger; `quantiles` gives the scale.
 * A scorer allocates its scratch once and score() allocates nothing, so it can run on every
 * detection of every frame: ~6 µs a detection, ~0.12 ms for 20, on a 2-core AMD EPYC; the product
 * runs as WebAssembly SIMD (packed-quadform.ts), ~1 µs of it, and the appearance statistics are now
 * the larger part. npm run bench -- pipeline measures it.
 *
 * What it cannot see: an anomaly of shape alone, in the part's own colours (a dent, a bent edge),
 * rests on the embedding, which hardly separates anything the detector was not trained on.
 */

import { PackedQuadForm, type QuadFormEngine } from './packed-quadform.js';
import { sampleStd } from '../telemetry/frame-record.js';

export const APPEARANCE_DIM = 48;
const CHROMA_BINS = 6;
const CHROMA_LO = 0.15;
const CHROMA_SPAN = 0.4;
const LUMA_BINS = 6;
const EPS = 1e-3;
/** Pixels sampled: at most every PIXEL_STEP-th of every PIXEL_STEP-th row of the box... */
const PIXEL_STEP = 2;
/**
 * ...and at most SAMPLES_PER_SIDE columns of at most SAMPLES_PER_SIDE rows, evenly spread, so a
 * large box costs what a small one does (a 45 px part: 15×15 pixels instead of 23×23, 2.4 times
 * fewer). scripts/ood-auroc.ts --fit 600 --eval 300, shrinkage 0.5: burn vs known defects 0.998
 * with every other pixel, 0.997 with 16 a side, 0.994 with 12 a side.
 */
export const SAMPLES_PER_SIDE = 16;

export interface OodFeatureSpec {
  /** Rows of embed0 used (its D); 0 leaves the embedding out. */
  readonly embeddingDim: number;
  /** Whether the 48 appearance statistics of the box's pixels are part of the vector. */
  readonly appearance: boolean;
}

/** The fitted reference, plain JSON: stored in the reference profile next to the model. */
export interface DetectionOodReference {
  readonly schema: 'driftline.detection-ood/1';
  readonly method: 'mahalanobis-shared-shrinkage';
  readonly features: OodFeatureSpec;
  /** Number of classes the model predicts; a score is taken against the mean of its predicted class. */
  readonly classes: number;
  /** Shrinkage weight toward the scaled identity, 0–1. */
  readonly shrinkage: number;
  /** Samples fitted per class. */
  readonly counts: number[];
  /** Standardisation: z = (x - mean) / scale, per feature. */
  readonly mean: number[];
  readonly scale: number[];
  /** Class means in z units, one row of length dim per class (a class never seen: empty). */
  readonly classMeans: number[][];
  /** Inverse of the Cholesky factor of the shared covariance, lower triangle by rows (dim*(dim+1)/2). */
  readonly whitener: number[];
  /**
   * Quantiles of scores, a scale for thresholds: of the fitted samples' own scores from
   * fitDetectionOod; out of sample (two halves in time, each scored by the other's fit) in a
   * profile, whose p99 is the threshold of `oodDetections` (reference-builder.ts).
   */
  readonly quantiles: { readonly p50: number; readonly p90: number; readonly p99: number };
}

export interface OodSample {
  readonly classIndex: number;
  readonly vector: ArrayLike<number>;
}

export interface FitOptions {
  readonly features: OodFeatureSpec;
  readonly classes: number;
  /** Default 0.5 (chosen on burnt parts, scripts/ood-auroc.ts). */
  readonly shrinkage?: number;
}

export function featureDim(f: OodFeatureSpec): number {
  return f.embeddingDim + (f.appearance ? APPEARANCE_DIM : 0);
}

/** The colour statistics (mean and spread of R, G, B, 0–1): one grey level. */
const COLOUR_FLOOR = 1 / 255;
/**
 * A histogram bin's sqrt(frequency): a quarter of what one sampled pixel of the largest sample
 * (16 × 16) puts in a bin, 1/64. Picked on scripts/ood-auroc.ts at shrinkage 0.5: known parts over
 * the threshold after a JPEG round trip, q92 / q75, 25% / 46% without floors, 2% / 3% at 1/64 (2%
 * on raw renders); burnt parts over it 97–98% without, 90–94% at 1/64, 65–89% at 1/48, 5–11% at
 * 1/16 (burns were caught mostly by bins the reference never reached, as noise is).
 */
const BIN_FLOOR = 1 / (4 * SAMPLES_PER_SIDE);
/** An embedding channel: this fraction of the median channel's scale. */
const EMBEDDING_FLOOR = 1e-2;

/**
 * The least scale each feature is standardised by: its spread in the reference, or its floor if
 * that is larger. Without floors, a feature that hardly varied in the reference divided by ~0: 26
 * of the 36 chromaticity bins no reference part reached, so one pixel of JPEG ringing at a part's
 * edge scored 1e7–1e9 against a threshold of ~230, and an encoded stream of the very line the
 * profile was made on raised a critical alert. The floors sit at or below each feature's
 * resolution (a quarter of one sampled pixel in a bin, one grey level), so a new colour still
 * counts, by how much of the box it covers. The scorer applies them to a stored reference too: for a feature that was
 * constant in the reference that is exactly what a fit with floors stores (its whitening row
 * holds only the shrinkage), so an older profile is fixed where it mattered without a rebuild.
 */
export function scaleFloors(f: OodFeatureSpec, scale: ArrayLike<number>): Float64Array {
  const floors = new Float64Array(featureDim(f));
  const d = f.embeddingDim;
  if (d > 0) {
    const sorted = Float64Array.from({ length: d }, (_, k) => scale[k]!).sort();
    floors.fill(Math.max(1e-6, EMBEDDING_FLOOR * sorted[d >> 1]!), 0, d);
  }
  if (f.appearance) {
    floors.fill(COLOUR_FLOOR, d, d + 6);
    floors.fill(BIN_FLOOR, d + 6, d + APPEARANCE_DIM);
  }
  return floors;
}

/**
 * Writes the 48 appearance statistics of the box (x1, y1, x2, y2 in input pixels) of a CHW tensor
 * into out[offset..offset+48). `hist` is scratch of at least 42 doubles. Allocates nothing.
 */
export function appearanceFeatures(
  input: Float32Array,
  width: number,
  height: number,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  out: Float64Array,
  offset: number,
  hist: Float64Array,
): void {
  const c0 = Math.max(0, Math.floor(x1));
  const r0 = Math.max(0, Math.floor(y1));
  const c1 = Math.min(width, Math.max(c0 + 1, Math.ceil(x2)));
  const r1 = Math.min(height, Math.max(r0 + 1, Math.ceil(y2)));
  // hist: [0..36) chromaticity (r rows, g columns), [36..42) brightness.
  hist.fill(0, 0, 42);
  const plane = width * height;
  const cn = CHROMA_BINS;
  const cmax = CHROMA_BINS - 1;
  const lmax = LUMA_BINS - 1;
  const cScale = cn / CHROMA_SPAN;
  const cShift = (CHROMA_LO * cn) / CHROMA_SPAN + 0.5;
  const lScale = LUMA_BINS / 3;
  let sr = 0;
  let sg = 0;
  let sb = 0;
  let qr = 0;
  let qg = 0;
  let qb = 0;
  let n = 0;
  // At most every other pixel of every other row, and at most 16 × 16 of them (SAMPLES_PER_SIDE).
  const stepX = Math.max(PIXEL_STEP, Math.ceil((c1 - c0) / SAMPLES_PER_SIDE));
  const stepY = Math.max(PIXEL_STEP, Math.ceil((r1 - r0) / SAMPLES_PER_SIDE));
  for (let y = r0; y < r1; y += stepY) {
    let i = y * width + c0;
    for (let x = c0; x < c1; x += stepX, i += stepX) {
      const r = input[i]!;
      const g = input[plane + i]!;
      const b = input[2 * plane + i]!;
      sr += r;
      sg += g;
      sb += b;
      qr += r * r;
      qg += g * g;
      qb += b * b;
      const s = r + g + b + EPS;
      const inv = 1 / s;
      // Linear soft binning into bins centred at (k + 0.5) / n of [0, 1], clamped at both ends.
      let tr = r * inv * cScale - cShift;
      tr = tr < 0 ? 0 : tr > cmax ? cmax : tr;
      let tg = g * inv * cScale - cShift;
      tg = tg < 0 ? 0 : tg > cmax ? cmax : tg;
      let tl = s * lScale - 0.5;
      tl = tl < 0 ? 0 : tl > lmax ? lmax : tl;
      const ir = tr | 0;
      const ig = tg | 0;
      const il = tl | 0;
      const fr = tr - ir;
      const fg = tg - ig;
      const fl = tl - il;
      const k = ir * cn + ig;
      hist[k] = hist[k]! + (1 - fr) * (1 - fg);
      if (fg > 0) hist[k + 1] = hist[k + 1]! + (1 - fr) * fg;
      if (fr > 0) {
        hist[k + cn] = hist[k + cn]! + fr * (1 - fg);
        if (fg > 0) hist[k + cn + 1] = hist[k + cn + 1]! + fr * fg;
      }
      hist[36 + il] = hist[36 + il]! + (1 - fl);
      if (fl > 0) hist[37 + il] = hist[37 + il]! + fl;
      n++;
    }
  }
  if (n === 0) {
    // A box wholly outside the input: no pixels, no statistics.
    out.fill(0, offset, offset + APPEARANCE_DIM);
    return;
  }
  const mr = sr / n;
  const mg = sg / n;
  const mb = sb / n;
  // Sample standard deviations (n - 1), as the reference was measured.
  out[offset] = mr;
  out[offset + 1] = mg;
  out[offset + 2] = mb;
  out[offset + 3] = sampleStd(n, mr, qr);
  out[offset + 4] = sampleStd(n, mg, qg);
  out[offset + 5] = sampleStd(n, mb, qb);
  for (let k = 0; k < 42; k++) out[offset + 6 + k] = Math.sqrt(hist[k]! / n);
}

/**
 * Builds the feature vector of one detection into a reused buffer. `embed` is embed0's data
 * ([1, D, anchors], channel-major); `input` the letterboxed CHW tensor the model read; the box is
 * in input pixels. The returned array is overwritten by the next call: copy it to keep it.
 */
export class DetectionFeatures {
  readonly dim: number;
  private readonly vec: Float64Array;
  private readonly hist = new Float64Array(42);

  constructor(
    readonly spec: OodFeatureSpec,
    readonly anchors: number,
    readonly inputW: number,
    readonly inputH: number,
  ) {
    this.dim = featureDim(spec);
    this.vec = new Float64Array(this.dim);
  }

  build(embed: Float32Array, anchor: number, input?: Float32Array, box?: ArrayLike<number>, boxOffset = 0): Float64Array {
    const d = this.spec.embeddingDim;
    const n = this.anchors;
    if (anchor < 0 || anchor >= n) throw new RangeError(`anchor ${anchor} outside 0..${n - 1}`);
    if (d > 0 && embed.length < d * n) throw new RangeError(`embedding holds ${embed.length} values, expected at least ${d}x${n}`);
    for (let k = 0; k < d; k++) this.vec[k] = embed[k * n + anchor]!;
    if (this.spec.appearance) {
      if (!input || !box) throw new TypeError('this reference scores appearance too: pass the input tensor and the box in input pixels');
      appearanceFeatures(input, this.inputW, this.inputH, box[boxOffset]!, box[boxOffset + 1]!, box[boxOffset + 2]!, box[boxOffset + 3]!, this.vec, d, this.hist);
    }
    return this.vec;
  }
}

/** Lower Cholesky factor of a symmetric positive definite n×n matrix (row-major), in place. */
function cholesky(a: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    let s = a[j * n + j]!;
    for (let k = 0; k < j; k++) s -= a[j * n + k]! ** 2;
    if (!(s > 0)) throw new RangeError('covariance is not positive definite: raise the shrinkage or fit more samples');
    const d = Math.sqrt(s);
    a[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let t = a[i * n + j]!;
      for (let k = 0; k < j; k++) t -= a[i * n + k]! * a[j * n + k]!;
      a[i * n + j] = t / d;
    }
    for (let k = j + 1; k < n; k++) a[j * n + k] = 0;
  }
}

/** Inverse of a lower-triangular matrix, packed lower triangle by rows. */
function invertLowerPacked(l: Float64Array, n: number): number[] {
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    inv[i * n + i] = 1 / l[i * n + i]!;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * n + k]! * inv[k * n + j]!;
      inv[i * n + j] = -s / l[i * n + i]!;
    }
  }
  const packed: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) packed.push(inv[i * n + j]!);
  return packed;
}

/** Fits the per-class means and shared shrunk covariance from samples of known classes. */
export function fitDetectionOod(samples: readonly OodSample[], o: FitOptions): DetectionOodReference {
  const dim = featureDim(o.features);
  const shrinkage = o.shrinkage ?? 0.5;
  if (!(shrinkage >= 0 && shrinkage <= 1)) throw new RangeError(`shrinkage ${shrinkage} outside [0, 1]`);
  const used = samples.filter((s) => s.classIndex >= 0 && s.classIndex < o.classes);
  if (used.length < 2) throw new RangeError(`need at least 2 samples of known classes, got ${used.length}`);
  for (const s of used) if (s.vector.length !== dim) throw new RangeError(`sample of length ${s.vector.length}, expected ${dim}`);
  const n = used.length;
  const mean = new Float64Array(dim);
  for (const s of used) for (let k = 0; k < dim; k++) mean[k] = mean[k]! + s.vector[k]! / n;
  const scale = new Float64Array(dim);
  for (const s of used) for (let k = 0; k < dim; k++) scale[k] = scale[k]! + (s.vector[k]! - mean[k]!) ** 2 / n;
  for (let k = 0; k < dim; k++) scale[k] = Math.sqrt(scale[k]!);
  const floors = scaleFloors(o.features, scale);
  for (let k = 0; k < dim; k++) scale[k] = Math.max(scale[k]!, floors[k]!);
  const z = used.map((s) => Float64Array.from({ length: dim }, (_, k) => (s.vector[k]! - mean[k]!) / scale[k]!));
  const counts = new Array<number>(o.classes).fill(0);
  const sums = Array.from({ length: o.classes }, () => new Float64Array(dim));
  used.forEach((s, i) => {
    counts[s.classIndex]!++;
    const row = sums[s.classIndex]!;
    for (let k = 0; k < dim; k++) row[k] = row[k]! + z[i]![k]!;
  });
  const means = sums.map((row, c) => (counts[c]! > 0 ? row.map((v) => v / counts[c]!) : new Float64Array(0)));
  const cov = new Float64Array(dim * dim);
  used.forEach((s, i) => {
    const m = means[s.classIndex]!;
    const r = z[i]!.map((v, k) => v - m[k]!);
    for (let a = 0; a < dim; a++) {
      const ra = r[a]!;
      for (let b = 0; b <= a; b++) cov[a * dim + b] = cov[a * dim + b]! + ra * r[b]!;
    }
  });
  let trace = 0;
  for (let a = 0; a < dim; a++) trace += cov[a * dim + a]! / n;
  for (let a = 0; a < dim; a++) {
    for (let b = 0; b <= a; b++) {
      const v = (1 - shrinkage) * (cov[a * dim + b]! / n) + (a === b ? (shrinkage * trace) / dim : 0);
      cov[a * dim + b] = v;
      cov[b * dim + a] = v;
    }
  }
  cholesky(cov, dim);
  const ref: DetectionOodReference = {
    schema: 'driftline.detection-ood/1',
    method: 'mahalanobis-shared-shrinkage',
    features: { embeddingDim: o.features.embeddingDim, appearance: o.features.appearance },
    classes: o.classes,
    shrinkage,
    counts,
    mean: [...mean],
    scale: [...scale],
    classMeans: means.map((m) => [...m]),
    whitener: invertLowerPacked(cov, dim),
    quantiles: { p50: 0, p90: 0, p99: 0 },
  };
  const scorer = new DetectionOodScorer(ref);
  const own = used.map((s) => scorer.scoreVector(s.classIndex, s.vector)).sort((a, b) => a - b);
  const q = (p: number): number => own[Math.min(own.length - 1, Math.floor(p * own.length))]!;
  return { ...ref, quantiles: { p50: q(0.5), p90: q(0.9), p99: q(0.99) } };
}

/** Scores detections against a fitted reference. Construct once; score() allocates nothing. */
export class DetectionOodScorer {
  readonly dim: number;
  private readonly mean: Float64Array;
  private readonly invScale: Float64Array;
  private readonly classMeans: (Float64Array | undefined)[];
  private readonly quad: PackedQuadForm;
  private features: DetectionFeatures | undefined;

  /** `engine` is for tests: 'auto' takes WebAssembly SIMD where the engine has it (packed-quadform.ts). */
  constructor(
    readonly reference: DetectionOodReference,
    engine: 'auto' | QuadFormEngine = 'auto',
  ) {
    const r = reference;
    if (r.schema !== 'driftline.detection-ood/1') throw new TypeError(`not a detection OOD reference: schema ${String(r.schema)}`);
    this.dim = featureDim(r.features);
    const d = this.dim;
    if (r.mean.length !== d || r.scale.length !== d || r.whitener.length !== (d * (d + 1)) / 2) {
      throw new RangeError(`reference of dimension ${d} has inconsistent arrays`);
    }
    this.mean = Float64Array.from(r.mean);
    const floors = scaleFloors(r.features, r.scale);
    this.invScale = Float64Array.from(r.scale, (s, k) => 1 / Math.max(s, floors[k]!));
    this.classMeans = r.classMeans.map((m) => (m.length === d ? Float64Array.from(m) : undefined));
    this.quad = new PackedQuadForm(d, r.whitener, engine);
  }

  /**
   * Binds the model geometry, so that score() can build vectors: anchors (N of embed0's [1, D, N])
   * and the input size. Allocates the feature scratch once.
   */
  bind(anchors: number, inputW: number, inputH: number): this {
    this.features = new DetectionFeatures(this.reference.features, anchors, inputW, inputH);
    return this;
  }

  /**
   * The score of one detection: squared Mahalanobis distance to its predicted class. `embed` is
   * embed0's data, `anchor` the detection's column; with appearance, `input` is the letterboxed
   * tensor and `box` holds x1, y1, x2, y2 in input pixels at `boxOffset`. Call bind() first.
   */
  score(classIndex: number, embed: Float32Array, anchor: number, input?: Float32Array, box?: ArrayLike<number>, boxOffset = 0): number {
    const f = this.features;
    if (!f) throw new TypeError('call bind(anchors, inputW, inputH) before score()');
    return this.scoreVector(classIndex, f.build(embed, anchor, input, box, boxOffset));
  }

  /** Where the quadratic form runs: WebAssembly SIMD, or JavaScript where the engine has none. */
  get engine(): QuadFormEngine {
    return this.quad.engine;
  }

  /** The score of a feature vector already built (DetectionFeatures.build's layout). */
  scoreVector(classIndex: number, v: ArrayLike<number>): number {
    const m = this.classMeans[classIndex];
    if (m) return centredDistance(v, this.mean, this.invScale, m, this.quad);
    // A class without reference samples: the distance to the nearest class that has them.
    let best = Number.POSITIVE_INFINITY;
    for (const other of this.classMeans) {
      if (other) best = Math.min(best, centredDistance(v, this.mean, this.invScale, other, this.quad));
    }
    return best;
  }
}

/**
 * Squared Mahalanobis distance of v to a class mean: r = (v - mean) / scale - classMean, written
 * into the quadratic form's own buffer, then |W r|^2 (packed-quadform.ts).
 */
function centredDistance(v: ArrayLike<number>, mean: Float64Array, invScale: Float64Array, classMean: Float64Array, q: PackedQuadForm): number {
  const r = q.r;
  const d = q.d;
  for (let k = 0; k < d; k++) r[k] = (v[k]! - mean[k]!) * invScale[k]! - classMean[k]!;
  return q.evaluate();
}
