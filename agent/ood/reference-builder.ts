/**
 * Builds a detection-level OOD reference from a run over reference frames, in one pass: each kept
 * detection's feature vector (detection-ood.ts) is kept, compactly, with its predicted class and
 * its frame; at the end the reference is fitted on them (on an even subsample when there are many)
 * and every kept vector is scored, out of sample (finish()), which gives the threshold and each
 * frame's count of detections over it: the reference's own `oodDetections` values, without a
 * second pass over the frames.
 *
 * Memory: 4 bytes per feature per detection (20,000 frames × ~3.3 detections × 112 features ≈ 30 MB).
 */
import { DetectionFeatures, DetectionOodScorer, featureDim, fitDetectionOod, type DetectionOodReference, type OodFeatureSpec, type OodSample } from './detection-ood.js';

/** Vectors per storage block. */
const BLOCK = 4096;
/** The fit uses at most this many samples (an even subsample beyond): a covariance of 112 features needs far fewer. */
export const MAX_FIT_SAMPLES = 20_000;

/** One frame's kept detections, as a Detector slot holds them. */
export interface FrameDetections {
  readonly count: number;
  readonly classes: Int32Array;
  readonly anchors: Int32Array;
  /** x1, y1, x2, y2 per detection in model-input pixels. */
  readonly inputBoxes: Float32Array;
  /** The model's embedding output, [1, D, anchors]. */
  readonly embed: Float32Array;
  /** The letterboxed CHW input the model read. */
  readonly input: Float32Array;
}

export interface ReferenceResult {
  readonly reference: DetectionOodReference;
  /** Per frame, in order: kept detections scoring above the reference's p99. */
  readonly oodDetections: Float64Array;
  readonly samples: number;
  readonly fitted: number;
  /** Whether the quantiles are out-of-sample (two halves in time, each scored by the other's fit). */
  readonly crossFitted: boolean;
}

export class OodReferenceBuilder {
  readonly dim: number;
  private readonly features: DetectionFeatures;
  private readonly blocks: Float32Array[] = [];
  private classes: Int32Array = new Int32Array(BLOCK);
  private frameOf: Int32Array = new Int32Array(BLOCK);
  private n = 0;
  private frames = 0;

  constructor(
    readonly spec: OodFeatureSpec,
    readonly classCount: number,
    anchors: number,
    inputW: number,
    inputH: number,
  ) {
    this.dim = featureDim(spec);
    this.features = new DetectionFeatures(spec, anchors, inputW, inputH);
  }

  /** Detections kept so far. */
  get samples(): number {
    return this.n;
  }

  /** Adds the next frame's kept detections (a frame without any still counts as a frame). */
  add(f: FrameDetections): void {
    for (let i = 0; i < f.count; i++) {
      const a = f.anchors[i]!;
      if (a < 0) continue;
      const v = this.features.build(f.embed, a, f.input, f.inputBoxes, i * 4);
      const k = this.n % BLOCK;
      if (k === 0) this.blocks.push(new Float32Array(BLOCK * this.dim));
      this.blocks[this.blocks.length - 1]!.set(v, k * this.dim);
      if (this.n >= this.classes.length) {
        this.classes = grow(this.classes);
        this.frameOf = grow(this.frameOf);
      }
      this.classes[this.n] = f.classes[i]!;
      this.frameOf[this.n] = this.frames;
      this.n++;
    }
    this.frames++;
  }

  private vector(j: number): Float32Array {
    const k = j % BLOCK;
    return this.blocks[Math.floor(j / BLOCK)]!.subarray(k * this.dim, (k + 1) * this.dim);
  }

  /**
   * Fits the reference and scores every kept detection; `progress` gets (done, total) while scoring.
   *
   * The threshold is cross-fitted. A fit scores its own samples low: 112 features and a few hundred
   * samples of a defect class put the class mean close to them, so the 99th percentile of in-sample
   * scores sits below what a new detection of the same kind scores, and live frames would count
   * more detections over it than the profile's own frames did. So the frames are cut in two halves
   * in time (consecutive frames show the same parts; a cut in time keeps each part on one side),
   * each half is scored by a reference fitted on the other, and the quantiles and the per-frame
   * counts come from those out-of-sample scores. The reference stored is fitted on every frame.
   */
  finish(shrinkage?: number, progress?: (done: number, total: number) => void): ReferenceResult {
    const n = this.n;
    const fitOn = (from: number, to: number, cap: number): DetectionOodReference => {
      const step = Math.max(1, (to - from) / cap);
      const fit: OodSample[] = [];
      for (let x = from; Math.floor(x) < to; x += step) fit.push({ classIndex: this.classes[Math.floor(x)]!, vector: this.vector(Math.floor(x)) });
      return fitDetectionOod(fit, { features: this.spec, classes: this.classCount, ...(shrinkage !== undefined ? { shrinkage } : {}) });
    };
    const reference = fitOn(0, n, MAX_FIT_SAMPLES);
    // The first detection of the second half of the frames.
    const half = Math.floor(this.frames / 2);
    let cut = 0;
    while (cut < n && this.frameOf[cut]! < half) cut++;
    const scores = new Float64Array(n);
    let quantiles = reference.quantiles;
    let crossFitted = false;
    if (cut >= 2 && n - cut >= 2) {
      const scorers = [new DetectionOodScorer(fitOn(cut, n, MAX_FIT_SAMPLES / 2)), new DetectionOodScorer(fitOn(0, cut, MAX_FIT_SAMPLES / 2))];
      // A class one half never saw would be scored against another class's mean there, far off:
      // its detections are scored by the full reference instead (in sample, the best there is).
      const full = new DetectionOodScorer(reference);
      for (let j = 0; j < n; j++) {
        const cls = this.classes[j]!;
        const other = scorers[j < cut ? 0 : 1]!;
        scores[j] = ((other.reference.counts[cls] ?? 0) > 0 ? other : full).scoreVector(cls, this.vector(j));
        if (progress && (j % 5000 === 4999 || j === n - 1)) progress(j + 1, n);
      }
      const sorted = Float64Array.from(scores).sort();
      const q = (p: number): number => sorted[Math.min(n - 1, Math.floor(p * n))]!;
      quantiles = { p50: q(0.5), p90: q(0.9), p99: q(0.99) };
      crossFitted = true;
    } else {
      // Too few detections to halve: the in-sample quantiles are all there is.
      const scorer = new DetectionOodScorer(reference);
      for (let j = 0; j < n; j++) scores[j] = scorer.scoreVector(this.classes[j]!, this.vector(j));
      progress?.(n, n);
    }
    const oodDetections = new Float64Array(this.frames);
    for (let j = 0; j < n; j++) if (scores[j]! > quantiles.p99) oodDetections[this.frameOf[j]!]!++;
    return { reference: { ...reference, quantiles }, oodDetections, samples: n, fitted: Math.min(n, MAX_FIT_SAMPLES), crossFitted };
  }
}

function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
