/**
 * The sampling pass of FrameStats (frame-stats.ts) in WebAssembly (frame-stats.wat, compiled into
 * frame-stats-wasm.ts by `npm run build:wasm`): the float64 arithmetic of the JavaScript loop,
 * operation for operation, so the statistics are the same bit for bit, in two thirds of the time
 * (0.125 ms against 0.19 ms for a 640x480 frame, the copy in included; docs/performance.md). The
 * rows it samples (one in `step`) are copied into the module's memory; the sums, the luma histogram
 * and the Laplacian's sums come back, and FrameStats finishes from them as before.
 */
import { FRAME_STATS_WASM_BASE64 } from './frame-stats-wasm.js';

const PAGE = 65536;

let compiled: WebAssembly.Module | null | undefined;

function kernel(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(Buffer.from(FRAME_STATS_WASM_BASE64, 'base64'));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** Whether this JavaScript engine runs the kernel (every Node since 12 does). */
export function wasmFrameStatsAvailable(): boolean {
  return kernel() !== null;
}

/** Where each sum sits in `WasmFrameStats.sums`. */
export const SUM = { y: 0, y2: 1, r: 2, g: 3, b: 4, saturation: 5, under: 6, over: 7, laplacian: 8, laplacian2: 9 } as const;

type Stats = (src: number, rowBytes: number, step: number, gw: number, gh: number, grid: number, hist: number, out: number) => void;

/** One frame size's kernel instance: frames of width x height sampled every `step` pixels on a gw x gh grid. */
export class WasmFrameStats {
  /** The luma histogram of the last pass (256 bins). */
  readonly hist: Uint32Array;
  /**
   * The sums of the last pass, by SUM: luma, luma squared, red, green, blue, saturation, the samples
   * under- and over-exposed, and the Laplacian's sum and sum of squares over the grid's interior.
   */
  readonly sums: Float64Array;
  private readonly src: Uint8Array;
  private readonly stats: Stats;
  private readonly at: { src: number; grid: number; hist: number; out: number };

  constructor(
    readonly width: number,
    readonly height: number,
    readonly step: number,
    readonly gw: number,
    readonly gh: number,
  ) {
    const m = kernel();
    if (!m) throw new Error('this JavaScript engine cannot compile WebAssembly');
    if ((gh - 1) * step + (step >> 1) >= height || (gw - 1) * step + (step >> 1) >= width) throw new RangeError(`a ${gw}x${gh} grid every ${step} px does not fit ${width}x${height}`);
    let end = 0;
    const take = (bytes: number): number => {
      const at = end;
      end += (bytes + 63) & ~63;
      return at;
    };
    this.at = { src: take(gh * width * 3), grid: take(gw * gh * 4), hist: take(256 * 4), out: take(10 * 8) };
    const instance = new WebAssembly.Instance(m);
    const memory = instance.exports.memory as WebAssembly.Memory;
    const pages = Math.ceil(end / PAGE) - memory.buffer.byteLength / PAGE;
    if (pages > 0) memory.grow(pages);
    this.src = new Uint8Array(memory.buffer, this.at.src, gh * width * 3);
    this.hist = new Uint32Array(memory.buffer, this.at.hist, 256);
    this.sums = new Float64Array(memory.buffer, this.at.out, 10);
    this.stats = instance.exports.stats as Stats;
  }

  /** Samples `frame` (RGB24, width x height) into `sums` and `hist`. */
  run(frame: Uint8Array): void {
    const row = this.width * 3;
    const first = (this.step >> 1) * row;
    const stride = this.step * row;
    for (let gy = 0, from = first; gy < this.gh; gy++, from += stride) this.src.set(frame.subarray(from, from + row), gy * row);
    const a = this.at;
    this.stats(a.src, row, this.step, this.gw, this.gh, a.grid, a.hist, a.out);
  }
}
