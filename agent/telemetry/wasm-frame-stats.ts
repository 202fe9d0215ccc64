/**
 * The sampling pass of FrameStats (frame-stats.ts) in WebAssembly SIMD (frame-stats.wat, compiled
 * into frame-stats-wasm.ts by `npm run build:wasm`): the JavaScript loop's integer sums, four grid
 * points at a time, so the statistics are the same bit for bit (docs/performance.md has the cost).
 * A frame in its camera's frame memory (agent/preprocess/frame-memory.ts) is read in place; from
 * any other, the rows it samples (one in `step`) are copied into the kernel's own memory. The sums,
 * the luma histogram and the (max - min) sums by max channel come back, and FrameStats finishes
 * from them.
 */
import { wasmKernel } from '../../lib/wasm-kernel.js';
import { FrameMemory } from '../preprocess/frame-memory.js';
import { FRAME_STATS_WASM_BASE64 } from './frame-stats-wasm.js';

const kernel = wasmKernel(FRAME_STATS_WASM_BASE64);

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
  /** The memory it works in: the camera's frame memory it was placed in, or one of its own. */
  readonly home: FrameMemory;
  /** The luma histogram of the last pass (256 bins). */
  readonly hist: Uint32Array;
  /** The last pass's sums of (max - min) channel, by max channel (256 bins). */
  readonly dsum: Uint32Array;
  /**
   * The sums of the last pass, by SUM: luma (thousandths), its square, red, green, blue, the samples
   * under- and over-exposed, and the Laplacian's sum and sum of squares over the grid's interior.
   */
  readonly sums: Float64Array;
  /** Where the sampled rows of a frame from outside its memory are copied to; undefined when placed in a camera's memory. */
  private readonly src: Uint8Array | undefined;
  private readonly stats: Stats;
  private readonly at: { src: number; grid: number; hist: number; dsum: number; out: number };

  /** The instance placed in `home` (made on first use), when it is for this grid; undefined when `home` had no room for one. */
  static placed(home: FrameMemory, width: number, height: number, step: number, gw: number, gh: number): WasmFrameStats | undefined {
    const k = home.place('stats', () => new WasmFrameStats(width, height, step, gw, gh, home));
    return k && k.width === width && k.height === height && k.step === step && k.gw === gw && k.gh === gh ? k : undefined;
  }

  /** Whether the kernel takes a gw x gh grid: a non-empty one no wider than WASM_MAX_GRID_WIDTH. */
  static takes(gw: number, gh: number): boolean {
    return gw * gh > 0 && gw <= WASM_MAX_GRID_WIDTH;
  }

  /** Bytes of memory an instance takes: its scratch, and the sampled rows' copy when `withRows`. */
  static bytesFor(width: number, gw: number, gh: number, withRows: boolean): number {
    const t = FrameMemory.taken;
    return t(gw * gh * 4) + 2 * t(4 * 256 * 4) + t(9 * 8) + (withRows ? t(gh * width * 3) : 0);
  }

  /**
   * `home`: the camera's frame memory (agent/preprocess/frame-memory.ts) to work in, reading its
   * frames in place; without one it has a memory of its own and copies each frame's sampled rows in.
   */
  constructor(
    readonly width: number,
    readonly height: number,
    readonly step: number,
    readonly gw: number,
    readonly gh: number,
    home?: FrameMemory,
  ) {
    const m = kernel();
    if (!m) throw new Error('this JavaScript engine cannot compile WebAssembly');
    if ((gh - 1) * step + (step >> 1) >= height || (gw - 1) * step + (step >> 1) >= width) throw new RangeError(`a ${gw}x${gh} grid every ${step} px does not fit ${width}x${height}`);
    if (gw > WASM_MAX_GRID_WIDTH) throw new RangeError(`a grid ${gw} points wide is over the kernel's ${WASM_MAX_GRID_WIDTH}`);
    const what = `the statistics of a ${width}x${height} frame`;
    this.home = FrameMemory.forKernel(home, WasmFrameStats.bytesFor(width, gw, gh, !home), what);
    const take = (bytes: number): number => this.home.region(bytes, what);
    // Every region has free bytes after it: a point is read as 4 bytes.
    this.at = { grid: take(gw * gh * 4), hist: take(4 * 256 * 4), dsum: take(4 * 256 * 4), out: take(9 * 8), src: home ? -1 : take(gh * width * 3) };
    const memory = this.home.memory;
    const instance = new WebAssembly.Instance(m, { env: { memory } });
    this.src = home ? undefined : new Uint8Array(memory.buffer, this.at.src, gh * width * 3);
    this.hist = new Uint32Array(memory.buffer, this.at.hist, 256);
    this.dsum = new Uint32Array(memory.buffer, this.at.dsum, 256);
    this.sums = new Float64Array(memory.buffer, this.at.out, 9);
    this.stats = instance.exports.stats as Stats;
  }

  /** Samples `frame` (RGB24, width x height) into `sums`, `hist` and `dsum`: in place when it lives in its memory. */
  run(frame: Uint8Array): void {
    const row = this.width * 3;
    const first = (this.step >> 1) * row;
    const stride = this.step * row;
    const a = this.at;
    if (FrameMemory.of(frame) === this.home) {
      this.stats(frame.byteOffset + first, stride, this.step, this.gw, this.gh, a.grid, a.hist, a.dsum, a.out);
      return;
    }
    if (!this.src) throw new RangeError('a frame from outside the camera frame memory these statistics were placed in');
    for (let gy = 0, from = first; gy < this.gh; gy++, from += stride) this.src.set(frame.subarray(from, from + row), gy * row);
    this.stats(a.src, row, this.step, this.gw, this.gh, a.grid, a.hist, a.dsum, a.out);
  }
}
