/**
 * Builds a detection-level OOD reference from a run over reference frames, in one pass: each kept
 * detection's feature vector (detection-ood.ts) is kept, compactly, with its predicted class and
 * its frame; at the end the reference is fitted on them (on an even subsample when there are many)
 * and every kept vector is scored against it, which gives each frame's count of detections over
 * the threshold: the reference's own `oodDetections` values, without a second pass over the frames.
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

  /** Fits the reference and scores every kept detection; `progress` gets (done, total) while scoring. */
  finish(shrinkage?: number, progress?: (done: number, total: number) => void): ReferenceResult {
    const n = this.n;
    const step = Math.max(1, n / MAX_FIT_SAMPLES);
    const fit: OodSample[] = [];
    for (let x = 0; Math.floor(x) < n; x += step) fit.push({ classIndex: this.classes[Math.floor(x)]!, vector: this.vector(Math.floor(x)) });
    const reference = fitDetectionOod(fit, { features: this.spec, classes: this.classCount, ...(shrinkage !== undefined ? { shrinkage } : {}) });
    const scorer = new DetectionOodScorer(reference);
    const threshold = reference.quantiles.p99;
    const oodDetections = new Float64Array(this.frames);
    for (let j = 0; j < n; j++) {
      if (scorer.scoreVector(this.classes[j]!, this.vector(j)) > threshold) oodDetections[this.frameOf[j]!]!++;
      if (progress && (j % 5000 === 4999 || j === n - 1)) progress(j + 1, n);
    }
    return { reference, oodDetections, samples: n, fitted: fit.length };
  }
}

function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
