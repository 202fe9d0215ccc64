/**
 * Per-frame detection telemetry, from a Detector slot: how many detections, how sure the model was,
 * box sizes and shapes, and per-class confidence histograms over every candidate above the floor
 * (before the operating threshold). A model going blind shows up as histogram mass moving toward
 * zero long before the count of kept detections changes. Buffers are allocated once.
 */
import type { BoxSet } from '../decode/boxes.js';

/** Fixed confidence bins over [0, 1]: bin k holds scores in [k/CONF_BINS, (k+1)/CONF_BINS). */
export const CONF_BINS = 20;

export const DETECTION_FEATURES = ['detections', 'topScore', 'meanScore', 'candidates', 'meanBoxArea', 'meanAspect'] as const;
export type DetectionFeature = (typeof DETECTION_FEATURES)[number];

export class DetectionStats {
  /** One value per DETECTION_FEATURES entry, overwritten per frame. */
  readonly values = new Float64Array(DETECTION_FEATURES.length);
  /** Candidate confidence histogram of this frame, class-major: [class * CONF_BINS + bin]. */
  readonly confHist: Uint32Array;
  /** Kept detections of this frame, per class. */
  readonly classCounts: Uint32Array;

  constructor(readonly numClasses: number) {
    this.confHist = new Uint32Array(numClasses * CONF_BINS);
    this.classCounts = new Uint32Array(numClasses);
  }

  /**
   * `candidates`: every candidate above the floor (model-input pixels); `detections`: kept boxes in
   * source pixels; areas are relative to the source frame.
   */
  compute(candidates: BoxSet, detections: BoxSet, frameW: number, frameH: number): Float64Array {
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
    }
    const n = detections.count;
    const v = this.values;
    v[0] = n;
    v[1] = top;
    v[2] = n ? sumScore / n : 0;
    v[3] = candidates.count;
    v[4] = n ? sumArea / n : 0;
    v[5] = n ? sumAspect / n : 0;
    return v;
  }
}
