/**
 * Per-frame detection telemetry, from a Detector slot: how many detections, how sure the model was,
 * box sizes and shapes, and per-class confidence histograms over every candidate above the floor
 * (before the operating threshold). A model going blind shows up as histogram mass moving toward
 * zero long before the count of kept detections changes. Buffers are allocated once.
 */
import { DETECTION_FEATURE_DEFINITIONS, type DetectionFeature } from '../../protocol/features.js';
import type { BoxSet } from '../decode/boxes.js';
import type { Letterbox } from '../preprocess/letterbox.js';

/** Fixed confidence bins over [0, 1]: bin k holds scores in [k/CONF_BINS, (k+1)/CONF_BINS). */
export const CONF_BINS = 20;

/** The detection statistics, as protocol/features.ts defines them. */
export const DETECTION_FEATURES: readonly string[] = DETECTION_FEATURE_DEFINITIONS.map((d) => d.name);
const D = Object.freeze(Object.fromEntries(DETECTION_FEATURES.map((f, i) => [f, i])) as Record<DetectionFeature, number>);

export interface UncertaintyOptions {
  /** A kept detection scoring below this is uncertain (default 0.5; the band starts at the operating threshold). */
  readonly uncertainBelow?: number;
  /** A kept detection is also uncertain when a candidate of another class overlaps it and scores at least this (default 0.2). */
  readonly rivalMin?: number;
  /** Overlap (IoU) at which a candidate of another class is a rival (default 0.5). */
  readonly rivalIou?: number;
}

/**
 * `uncertain` counts the kept detections the model was unsure of: a score inside the uncertainty
 * band, or a rival class scoring at the same place (the model half-believes it is something else).
 * A part the model never saw in training (a new defect type) tends to be called a known class with
 * a rival close behind, rather than with a low score.
 *
 * `oodDetections` counts the kept detections whose detection-level OOD score (agent/ood, on the
 * model's embedding and the box's appearance; `Slot.oodScores`) exceeds the reference's threshold:
 * a never-trained defect called a known class with high confidence. 0 when detections are not
 * scored (a model without an embedding, or a profile without a `detectionOod` reference).
 */
export class DetectionStats {
  /** One value per DETECTION_FEATURES entry, overwritten per frame. */
  readonly values = new Float64Array(DETECTION_FEATURES.length);
  /** Candidate confidence histogram of this frame, class-major: [class * CONF_BINS + bin]. */
  readonly confHist: Uint32Array;
  /** Kept detections of this frame, per class. */
  readonly classCounts: Uint32Array;

  readonly uncertainBelow: number;
  readonly rivalMin: number;
  readonly rivalIou: number;

  constructor(
    readonly numClasses: number,
    o: UncertaintyOptions = {},
  ) {
    this.confHist = new Uint32Array(numClasses * CONF_BINS);
    this.classCounts = new Uint32Array(numClasses);
    this.uncertainBelow = o.uncertainBelow ?? 0.5;
    this.rivalMin = o.rivalMin ?? 0.2;
    this.rivalIou = o.rivalIou ?? 0.5;
  }

  /**
   * `candidates`: every candidate above the floor (model-input pixels); `detections`: kept boxes in
   * source pixels; areas are relative to the source frame. `letterbox` maps detections into
   * model-input pixels to find rival candidates (absent: both are in the same pixels). `oodScores`:
   * each kept detection's OOD score (NaN: not scored), counted when above `oodThreshold`.
   */
  compute(candidates: BoxSet, detections: BoxSet, frameW: number, frameH: number, letterbox?: Letterbox, oodScores?: ArrayLike<number>, oodThreshold = Number.NaN): Float64Array {
    const hist = this.confHist;
    hist.fill(0);
    this.classCounts.fill(0);
    let top = 0;
    for (let i = 0; i < candidates.count; i++) {
      const s = candidates.scores[i]!;
      const c = candidates.classes[i]!;
      if (s > top) top = s;
      if (c < 0 || c >= this.numClasses) continue;
      let bin = (s * CONF_BINS) | 0;
      if (bin >= CONF_BINS) bin = CONF_BINS - 1;
      else if (bin < 0) bin = 0;
      hist[c * CONF_BINS + bin]!++;
    }
    let sumScore = 0;
    let sumArea = 0;
    let sumAspect = 0;
    let uncertain = 0;
    const r = letterbox ? letterbox.newW / letterbox.srcW : 1;
    const ox = letterbox ? letterbox.left : 0;
    const oy = letterbox ? letterbox.top : 0;
    const frameArea = frameW * frameH;
    const b = detections.boxes;
    for (let i = 0; i < detections.count; i++) {
      sumScore += detections.scores[i]!;
      const c = detections.classes[i]!;
      if (c >= 0 && c < this.numClasses) this.classCounts[c]!++;
      const w = b[i * 4 + 2]! - b[i * 4]!;
      const h = b[i * 4 + 3]! - b[i * 4 + 1]!;
      sumArea += (w * h) / frameArea;
      sumAspect += h > 0 ? w / h : 0;
      if (detections.scores[i]! < this.uncertainBelow || this.hasRival(candidates, c, b[i * 4]! * r + ox, b[i * 4 + 1]! * r + oy, b[i * 4 + 2]! * r + ox, b[i * 4 + 3]! * r + oy)) uncertain++;
    }
    const n = detections.count;
    let ood = 0;
    // NaN scores and a NaN threshold compare false: nothing scored, nothing counted.
    if (oodScores) for (let i = 0; i < n; i++) if (oodScores[i]! > oodThreshold) ood++;
    const v = this.values;
    v[D.detections] = n;
    v[D.topScore] = top;
    v[D.meanScore] = n ? sumScore / n : 0;
    v[D.candidates] = candidates.count;
    v[D.meanBoxArea] = n ? sumArea / n : 0;
    v[D.meanAspect] = n ? sumAspect / n : 0;
    v[D.uncertain] = uncertain;
    v[D.oodDetections] = ood;
    return v;
  }

  /** True when a candidate of a class other than `cls` scores >= rivalMin over the box (input pixels). */
  private hasRival(candidates: BoxSet, cls: number, x1: number, y1: number, x2: number, y2: number): boolean {
    const cb = candidates.boxes;
    const area = (x2 - x1) * (y2 - y1);
    for (let j = 0; j < candidates.count; j++) {
      if (candidates.classes[j] === cls || candidates.scores[j]! < this.rivalMin) continue;
      const k = j * 4;
      const iw = Math.min(x2, cb[k + 2]!) - Math.max(x1, cb[k]!);
      const ih = Math.min(y2, cb[k + 3]!) - Math.max(y1, cb[k + 1]!);
      if (iw <= 0 || ih <= 0) continue;
      const inter = iw * ih;
      const union = area + (cb[k + 2]! - cb[k]!) * (cb[k + 3]! - cb[k + 1]!) - inter;
      if (union > 0 && inter / union >= this.rivalIou) return true;
    }
    return false;
  }
}
