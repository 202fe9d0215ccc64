/**
 * One frame's telemetry, as the pipeline hands it to every consumer: the window aggregator, the
 * camera's drift state, the profile builder, the frame writer and the review sampler. Records are
 * allocated once (one per detector slot in the agent's pipeline, one per offline sequence) and
 * refilled for every frame, so consumers read one during the call and copy what they keep: its
 * arrays are reused for a later frame.
 *
 * The feature values are indexed as the feature list is ordered: the input statistics first
 * (`frameStats`), then the detection statistics (`detStats`). `featureAt` reads that joined index,
 * and `sampleStd` is the one formula every consumer uses for a spread from running sums.
 */

export interface FrameRecord {
  /** Wall-clock ms the frame was captured; 0 where frames have no capture time (an offline sequence). */
  ts: number;
  /** The frame's index in its camera's stream (or its sequence). */
  index: number;
  /** The source frame's size, before the letterbox. */
  width: number;
  height: number;
  /** Input statistics, one per input feature. */
  frameStats: Float64Array;
  /** Detection statistics, one per detection feature. */
  detStats: Float64Array;
  /** Kept detections per class. */
  classCounts: Uint32Array;
  /** Per class, the confidence histogram of its candidates (classes x bins). */
  confHist: Uint32Array;
  /** Stage durations in ms: preprocess, inference, postprocess. */
  stageMs: Float64Array;
}

/** Where a record's detection values live: a DetectionStats, which refills them for every frame. */
export interface DetectionArrays {
  readonly values: Float64Array;
  readonly classCounts: Uint32Array;
  readonly confHist: Uint32Array;
}

/** A record over `frameStats` and `det`'s arrays (not copied), with its own stage durations. */
export function recordOver(frameStats: Float64Array, det: DetectionArrays): FrameRecord {
  return { ts: 0, index: 0, width: 0, height: 0, frameStats, detStats: det.values, classCounts: det.classCounts, confHist: det.confHist, stageMs: new Float64Array(3) };
}

/** Copies a slot's stage durations (Slot.times) into the record. */
export function setStageMs(r: FrameRecord, t: { readonly preprocessMs: number; readonly inferenceMs: number; readonly postprocessMs: number }): void {
  r.stageMs[0] = t.preprocessMs;
  r.stageMs[1] = t.inferenceMs;
  r.stageMs[2] = t.postprocessMs;
}

/** The value of feature `i` in the joined order (input statistics, then detection statistics). */
export function featureAt(r: Readonly<FrameRecord>, i: number): number {
  const nf = r.frameStats.length;
  return i < nf ? r.frameStats[i]! : r.detStats[i - nf]!;
}

/** The sample standard deviation of `n` values from their mean and their sum of squares (0 below two values). */
export function sampleStd(n: number, mean: number, sumSq: number): number {
  return n > 1 ? Math.sqrt(Math.max(0, (sumSq - n * mean * mean) / (n - 1))) : 0;
}
