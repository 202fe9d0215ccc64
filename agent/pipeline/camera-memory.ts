/**
 * The frame memory (agent/preprocess/frame-memory.ts) of one camera of the pipeline, sized once for
 * what lives there: its queue's three frame buffers, the letterbox kernel's scratch for its frame
 * size into the model input, and the statistics kernel's for its sampling grid.
 */
import { FrameMemory } from '../preprocess/frame-memory.js';
import { letterboxGeometry } from '../preprocess/letterbox.js';
import { WasmBilinear, wasmBilinearAvailable } from '../preprocess/wasm-bilinear.js';
import { FrameStats } from '../telemetry/frame-stats.js';
import { WasmFrameStats, wasmFrameStatsAvailable } from '../telemetry/wasm-frame-stats.js';

/** Frame buffers of a camera's queue (latest-frame.ts): two of its own and one for the source. */
export const CAMERA_FRAMES = 3;

/**
 * The frame memory of a width x height camera whose frames go into an inputW x inputH model input;
 * undefined where this JavaScript engine has no WebAssembly (plain buffers then).
 */
export function cameraMemory(width: number, height: number, inputW: number, inputH: number): FrameMemory | undefined {
  if (!wasmBilinearAvailable() || !wasmFrameStatsAvailable()) return undefined;
  const lb = letterboxGeometry(width, height, inputW, inputH);
  const { gw, gh } = FrameStats.gridFor(width, height);
  const bytes =
    CAMERA_FRAMES * FrameMemory.taken(width * height * 3) +
    WasmBilinear.bytesFor(width, height, lb.newW, lb.newH, inputW, inputH, false) +
    WasmFrameStats.bytesFor(width, gw, gh, false);
  return new FrameMemory(bytes);
}
