/**
 * The agent's per-frame work over a finite sequence of frames, in order, for offline uses: building
 * a reference profile, replaying a recording against one, tests. Input statistics are computed
 * while a frame's pixels are still its own (the producer may reuse them for the next one), inference
 * is pipelined through Detector.run, and `onFrame` receives each frame's record in order, in arrays
 * that stay valid only until it returns.
 */
import type { Detector, Slot } from '../infer/detector.js';
import type { RawFrame } from '../preprocess/letterbox.js';
import { DetectionStats, type UncertaintyOptions } from '../telemetry/detection-stats.js';
import { recordOver, setStageMs, type FrameRecord } from '../telemetry/frame-record.js';
import { FRAME_FEATURES, FrameStats } from '../telemetry/frame-stats.js';

/** A frame's record (no capture time: `ts` is 0), with the slot that holds its detections. */
export interface FrameTelemetry extends Readonly<FrameRecord> {
  readonly slot: Slot;
}

export async function runSequence(
  detector: Detector,
  frames: Iterable<RawFrame> | AsyncIterable<RawFrame>,
  onFrame: (t: FrameTelemetry) => void,
  uncertainty: UncertaintyOptions = {},
): Promise<number> {
  const fs = new FrameStats();
  const ds = new DetectionStats(detector.model.names.length, uncertainty);
  // Per slot, the input statistics and size of the frame in it, measured while its pixels are the
  // frame's (once its inference has started), read when its detections come out.
  const stats = detector.slots.map(() => new Float64Array(FRAME_FEATURES.length));
  const sizes = new Int32Array(detector.slots.length * 2);
  const telemetry: FrameRecord & { slot: Slot } = { ...recordOver(stats[0]!, ds), slot: detector.slots[0]! };
  return detector.run(
    frames,
    (slot, index) => {
      telemetry.index = index;
      telemetry.width = sizes[slot.index * 2]!;
      telemetry.height = sizes[slot.index * 2 + 1]!;
      telemetry.frameStats = stats[slot.index]!;
      telemetry.slot = slot;
      setStageMs(telemetry, slot.times);
      ds.compute(slot.candidates, slot.detections, telemetry.width, telemetry.height, slot.letterbox, slot.oodScores, detector.oodThreshold);
      onFrame(telemetry);
    },
    (frame, slot) => {
      stats[slot.index]!.set(fs.compute(frame.data, frame.width, frame.height));
      sizes[slot.index * 2] = frame.width;
      sizes[slot.index * 2 + 1] = frame.height;
    },
  );
}
