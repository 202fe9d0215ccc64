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
 * The frame memory of a width x height camera whose frames go into an inputW x inputH model input,
 * with room for the letterbox kernel when `bilinear` (the letterboxer resamples frames of this size
 * with it, not with sharp) and for the statistics kernel when its grid fits it. Undefined where this
 * JavaScript engine has no WebAssembly, or the memory cannot be had: plain buffers then.
 */
export function cameraMemory(width: number, height: number, inputW: number, inputH: number, bilinear = true): FrameMemory | undefined {
  if (!wasmBilinearAvailable() || !wasmFrameStatsAvailable()) return undefined;
  const lb = letterboxGeometry(width, height, inputW, inputH);
  const { gw, gh } = FrameStats.gridFor(width, height);
  const bytes =
    CAMERA_FRAMES * FrameMemory.taken(width * height * 3) +
    (bilinear ? WasmBilinear.bytesFor(width, height, lb.newW, lb.newH, inputW, inputH, false) : 0) +
    (WasmFrameStats.takes(gw, gh) ? WasmFrameStats.bytesFor(width, gw, gh, false) : 0);
  try {
    return new FrameMemory(bytes);
  } catch {
    return undefined; // no address space for it (a WebAssembly memory is one block): the copying path
  }
}
