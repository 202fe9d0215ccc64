/**
 * What the review sampler saves of a hard frame, built from the frame still in its detector slot:
 * the model's input, the detections mapped into its pixels (letterboxPoint, the inverse of how they
 * were mapped out), their OOD scores where detections are scored, and the frame's statistics by
 * feature name. Allocates, so it runs only for the frames the sampler takes.
 */
import type { Detector, Slot } from '../infer/detector.js';
import { letterboxPoint } from '../preprocess/letterbox.js';
import { featureAt, type FrameRecord } from '../telemetry/frame-record.js';
import { RECORD_FEATURES } from '../telemetry/frame-stats.js';
import type { ReviewFrame, ReviewReason } from './sampler.js';

export function reviewFrame(detector: Detector, slot: Slot, rec: Readonly<FrameRecord>, camera: { readonly id: number; readonly name: string }, reason: ReviewReason): ReviewFrame {
  const lb = slot.letterbox!;
  const stats: Record<string, number> = {};
  RECORD_FEATURES.forEach((name, i) => (stats[name] = featureAt(rec, i)));
  const detections = detector.toObjects(slot).map((d, i) => {
    const ood = slot.oodScores[i]!;
    return {
      class: d.class,
      score: d.score,
      box: [...letterboxPoint(lb, d.box[0], d.box[1]), ...letterboxPoint(lb, d.box[2], d.box[3])] as [number, number, number, number],
      ...(Number.isNaN(ood) ? {} : { oodScore: +ood.toFixed(2), oodDetection: ood > detector.oodThreshold }),
    };
  });
  return { cameraId: camera.id, cameraName: camera.name, ts: rec.ts, frame: rec.index, reason, input: slot.input, width: lb.dstW, height: lb.dstH, detections, stats };
}
