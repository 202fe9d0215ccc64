/**
 * A frame record (agent/telemetry/frame-record.ts) from plain per-frame values, for the drift tests
 * that feed hand-made frames to ProfileBuilder.add and CameraDrift.add.
 */
import { recordOver, type FrameRecord } from '../../../agent/telemetry/frame-record.js';

export function recordOf(frameStats: ArrayLike<number>, detStats: ArrayLike<number>, classCounts: ArrayLike<number>, confHist: ArrayLike<number>): FrameRecord {
  return recordOver(Float64Array.from(frameStats), { values: Float64Array.from(detStats), classCounts: Uint32Array.from(classCounts), confHist: Uint32Array.from(confHist) });
}
