/**
 * A frame record (agent/telemetry/frame-record.ts) from plain per-frame values, for the drift tests
 * that feed hand-made frames to ProfileBuilder.add and CameraDrift.add.
 */
import type { FrameRecord } from '../../../agent/telemetry/frame-record.js';

export function recordOf(frameStats: ArrayLike<number>, detStats: ArrayLike<number>, classCounts: ArrayLike<number>, confHist: ArrayLike<number>): FrameRecord {
  return {
    ts: 0,
    index: 0,
    width: 0,
    height: 0,
    frameStats: Float64Array.from(frameStats),
    detStats: Float64Array.from(detStats),
    classCounts: Uint32Array.from(classCounts),
    confHist: Uint32Array.from(confHist),
    stageMs: new Float64Array(3),
  };
}
