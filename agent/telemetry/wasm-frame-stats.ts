/**
 * The sampling pass of FrameStats (frame-stats.ts) in WebAssembly SIMD (frame-stats.wat, compiled
 * into frame-stats-wasm.ts by `npm run build:wasm`): the JavaScript loop's integer sums, four grid
 * points at a time, so the statistics are the same bit for bit (docs/performance.md has the cost).
 * The rows it samples (one in `step`) are copied into the module's memory; the sums, the luma
 * histogram and the (max - min) sums by max channel come back, and FrameStats finishes from them.
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
export const SUM = { y: 0, y2: 1, r: 2, g: 3, b: 4, under: 5, over: 6, laplacian: 7, laplacian2: 8 } as const;

/** The widest grid the kernel takes: its int32 sums of a row cannot overflow below it. */
export const WASM_MAX_GRID_WIDTH = 2048;

type Stats = (src: number, rowBytes: number, step: number, gw: number, gh: number, grid: number, hist: number, dsum: number, out: number) => void;

/** One frame size's kernel instance: frames of width x height sampled every `step` pixels on a gw x gh grid. */
export class WasmFrameStats {
  /** The luma histogram of the last pass (256 bins). */
  readonly hist: Uint32Array;
  /** The last pass's sums of (max - min) channel, by max channel (256 bins). */
  readonly dsum: Uint32Array;
  /**
   * The sums of the last pass, by SUM: luma (thousandths), its square, red, green, blue, the samples
   * under- and over-exposed, and the Laplacian's sum and sum of squares over the grid's interior.
   */
  readonly sums: Float64Array;
  private readonly src: Uint8Array;
  private readonly stats: Stats;
  private readonly at: { src: number; grid: number; hist: number; dsum: number; out: number };

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
    if (gw > WASM_MAX_GRID_WIDTH) throw new RangeError(`a grid ${gw} points wide is over the kernel's ${WASM_MAX_GRID_WIDTH}`);
    let end = 0;
    const take = (bytes: number): number => {
      const at = end;
      end += (bytes + 63) & ~63;
      return at;
    };
    // A point is read as 4 bytes: room for the last one's fourth.
    this.at = { src: take(gh * width * 3 + 16), grid: take(gw * gh * 4), hist: take(4 * 256 * 4), dsum: take(4 * 256 * 4), out: take(9 * 8) };
    const instance = new WebAssembly.Instance(m);
    const memory = instance.exports.memory as WebAssembly.Memory;
    const pages = Math.ceil(end / PAGE) - memory.buffer.byteLength / PAGE;
    if (pages > 0) memory.grow(pages);
    this.src = new Uint8Array(memory.buffer, this.at.src, gh * width * 3);
    this.hist = new Uint32Array(memory.buffer, this.at.hist, 256);
    this.dsum = new Uint32Array(memory.buffer, this.at.dsum, 256);
    this.sums = new Float64Array(memory.buffer, this.at.out, 9);
    this.stats = instance.exports.stats as Stats;
  }

  /** Samples `frame` (RGB24, width x height) into `sums` and `hist`. */
  run(frame: Uint8Array): void {
    const row = this.width * 3;
    const first = (this.step >> 1) * row;
    const stride = this.step * row;
    for (let gy = 0, from = first; gy < this.gh; gy++, from += stride) this.src.set(frame.subarray(from, from + row), gy * row);
    const a = this.at;
    this.stats(a.src, row, this.step, this.gw, this.gh, a.grid, a.hist, a.dsum, a.out);
  }
}
