/**
 * The frame memory (agent/preprocess/frame-memory.ts) of one camera of the pipeline, sized once for
 * what lives there: its queue's three frame buffers, the letterbox kernels' scratch for its frame
 * size into the model input, and the statistics kernel's for its sampling grid.
 */
import { FrameMemory } from '../preprocess/frame-memory.js';
import { boxShrinkFor, letterboxGeometry, type ResizeMode } from '../preprocess/letterbox.js';
import { WasmBilinear, wasmBilinearAvailable } from '../preprocess/wasm-bilinear.js';
import { WasmShrink, wasmShrinkAvailable } from '../preprocess/wasm-shrink.js';
import { FrameStats } from '../telemetry/frame-stats.js';
import { WasmFrameStats, wasmFrameStatsAvailable } from '../telemetry/wasm-frame-stats.js';

/** Frame buffers of a camera's queue (latest-frame.ts): two of its own and one for the source. */
export const CAMERA_FRAMES = 3;

/**
 * The frame memory of a width x height camera whose frames go into an inputW x inputH model input,
 * resampled by `resampler` (the letterboxer's choice for frames of this size): with room for the
 * letterbox kernel (`bilinear`), or for the box shrink and the bilinear kernel that reads the
 * shrunk image (`area`; none for `sharp`), and for the statistics kernel when its grid fits it.
 * Undefined where this JavaScript engine has no WebAssembly, or the memory cannot be had: plain
 * buffers then.
 */
export function cameraMemory(width: number, height: number, inputW: number, inputH: number, resampler: Exclude<ResizeMode, 'auto'> = 'bilinear'): FrameMemory | undefined {
  if (!wasmBilinearAvailable() || !wasmShrinkAvailable() || !wasmFrameStatsAvailable()) return undefined;
  const lb = letterboxGeometry(width, height, inputW, inputH);
  const shrink = boxShrinkFor(resampler, width, height, lb);
  const letterbox = shrink
    ? WasmShrink.bytesFor(shrink, false) + WasmBilinear.bytesFor(shrink.outW, shrink.outH, lb.newW, lb.newH, inputW, inputH, false)
    : resampler === 'sharp'
      ? 0
      : WasmBilinear.bytesFor(width, height, lb.newW, lb.newH, inputW, inputH, false);
  const { gw, gh } = FrameStats.gridFor(width, height);
  const bytes = CAMERA_FRAMES * FrameMemory.taken(width * height * 3) + letterbox + (WasmFrameStats.takes(gw, gh) ? WasmFrameStats.bytesFor(width, gw, gh, false) : 0);
  try {
    return new FrameMemory(bytes);
  } catch {
    return undefined; // no address space for it (a WebAssembly memory is one block): the copying path
  }
}
