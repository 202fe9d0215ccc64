/**
 * The agent's per-frame work over a finite sequence of frames, in order, for offline uses: building
 * a reference profile, replaying a recording against one, tests. Input statistics are computed as
 * each frame arrives (its pixels may be reused by the producer for the next one), inference is
 * pipelined through Detector.run, and `onFrame` receives each frame's record in order, in arrays
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

const RING = 8;

export async function runSequence(
  detector: Detector,
  frames: Iterable<RawFrame> | AsyncIterable<RawFrame>,
  onFrame: (t: FrameTelemetry) => void,
  uncertainty: UncertaintyOptions = {},
): Promise<number> {
  const fs = new FrameStats();
  const ds = new DetectionStats(detector.model.names.length, uncertainty);
  // Frame stats wait here for their detections: at most two frames are in flight.
  const stats = Array.from({ length: RING }, () => new Float64Array(FRAME_FEATURES.length));
  const sizes = new Int32Array(RING * 2);
  let produced = 0;
  async function* measured(): AsyncGenerator<RawFrame> {
    for await (const frame of frames) {
      const k = produced % RING;
      stats[k]!.set(fs.compute(frame.data, frame.width, frame.height));
      sizes[k * 2] = frame.width;
      sizes[k * 2 + 1] = frame.height;
      produced++;
      yield frame;
    }
  }
  const telemetry: FrameRecord & { slot: Slot } = { ...recordOver(stats[0]!, ds), slot: detector.slots[0]! };
  return detector.run(measured(), (slot, index) => {
    const k = index % RING;
    telemetry.index = index;
    telemetry.width = sizes[k * 2]!;
    telemetry.height = sizes[k * 2 + 1]!;
    telemetry.frameStats = stats[k]!;
    telemetry.slot = slot;
    setStageMs(telemetry, slot.times);
    ds.compute(slot.candidates, slot.detections, telemetry.width, telemetry.height, slot.letterbox, slot.oodScores, detector.oodThreshold);
    onFrame(telemetry);
  });
}
