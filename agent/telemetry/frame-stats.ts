/**
 * Per-frame input statistics: what the camera delivered, summarised cheaply enough to run on every
 * frame. Computed on a sampled grid of about `targetSamples` pixels (every s-th pixel in x and y),
 * in one pass for the colour statistics plus one pass over the small luma grid for sharpness. The
 * pass works in integers (luma in thousandths, 299 R + 587 G + 114 B; saturation summed per maximum
 * channel), each row's sums exact, so that the WebAssembly kernel (wasm-frame-stats.ts) may add them
 * in any order and still give the same values bit for bit. All
 * buffers are allocated at construction (or once when the frame size changes); `compute()` writes
 * into the reused `values` array, the statistics added at start-up (added-frame-stats.ts) after the
 * shipped ones. Each feature's name, family, unit and resolution are defined in protocol/features.ts.
 *
 * Definitions (luma Y = 0.299 R + 0.587 G + 0.114 B, BT.601, 0–255):
 *   brightness        mean Y
 *   brightnessSpread  Y at the 95th percentile minus Y at the 5th (robust spread)
 *   contrast          RMS contrast: standard deviation of Y/255
 *   meanR/G/B         mean of each channel, 0–255
 *   colourTemp        log2((meanR + 1) / (meanB + 1)): > 0 warm light, < 0 cool light
 *   saturation        mean HSV saturation (max − min) / max, 0–1
 *   sharpness         variance of the 4-neighbour Laplacian of Y over the sampled grid
 *   underExposed      fraction of samples with Y < 10
 *   overExposed       fraction of samples with any channel >= 250 (clipped)
 *   entropy           Shannon entropy of the 256-bin Y histogram, in bits (0–8)
 */

import { frameFeatures, inputFeatures, SHIPPED_INPUT_FEATURES, type ShippedInputFeature } from '../../protocol/features.js';
import { addedFrameStatistics, type FrameStatistic } from './added-frame-stats.js';
import { FrameMemory } from '../preprocess/frame-memory.js';
import { ownKernelDue, type KernelEngine } from '../preprocess/kernel-engine.js';
import { SUM, WasmFrameStats, wasmFrameStatsAvailable } from './wasm-frame-stats.js';

/** Every input statistic (protocol/features.ts): the shipped ones, then any added at start-up. */
export const FRAME_FEATURES: readonly string[] = inputFeatures().map((d) => d.name);

/** Every feature of a FrameRecord, in its joined order: the input statistics, then the detection statistics. */
export const RECORD_FEATURES: readonly string[] = frameFeatures().map((d) => d.name);

/** Where each shipped statistic sits in `FrameStats.values`. */
export const FEATURE_INDEX: Readonly<Record<ShippedInputFeature, number>> = Object.freeze(
  Object.fromEntries(FRAME_FEATURES.map((f, i) => [f, i])) as Record<ShippedInputFeature, number>,
);
const I = FEATURE_INDEX;
/** The added statistics' values follow the shipped ones. */
const SHIPPED = SHIPPED_INPUT_FEATURES.length;

/** Grid points sampled per frame by default: 160 x 120, every 4th pixel of a VGA frame. */
const DEFAULT_SAMPLES = 160 * 120;

export const UNDER_EXPOSED_Y = 10;
/** UNDER_EXPOSED_Y in the pass's luma units (thousandths). */
const UNDER_EXPOSED_Y1000 = UNDER_EXPOSED_Y * 1000;
export const OVER_EXPOSED_CHANNEL = 250;

/**
 * Where the sampling pass runs: `wasm` (wasm-frame-stats.ts, the same values bit for bit in two
 * thirds of the CPU time), `js`, or `auto`: WebAssembly from the second frame of a size on
 * (kernel-engine.ts), where the engine has it.
 */
export type FrameStatsEngine = KernelEngine;

export class FrameStats {
  /** One value per FRAME_FEATURES entry, overwritten by each compute(). */
  readonly values = new Float64Array(FRAME_FEATURES.length);
  /** The added statistics (added-frame-stats.ts), taken once: none on the shipped path. */
  private readonly added: readonly FrameStatistic[] = addedFrameStatistics();
  private readonly hist = new Uint32Array(256);
  /** Per maximum channel value, the sum of (max - min) over the samples: saturation's numerators, grouped. */
  private readonly dsum = new Uint32Array(256);
  /** Luma of each grid point, in thousandths. */
  private grid = new Int32Array(0);
  private width = 0;
  private height = 0;
  private step = 1;
  private gw = 0;
  private gh = 0;
  private wasm: WasmFrameStats | undefined;
  /** What sampled the last frame. */
  private by: 'wasm' | 'js' | undefined;
  /** Whether the sampling pass may run in WebAssembly (decided at construction). */
  private readonly useWasm: boolean;
  /** Frames of the current size so far. */
  private frames = 0;

  constructor(
    readonly targetSamples = DEFAULT_SAMPLES,
    readonly engine: FrameStatsEngine = 'auto',
  ) {
    if (engine === 'wasm' && !wasmFrameStatsAvailable()) throw new Error('this JavaScript engine cannot compile WebAssembly');
    this.useWasm = engine !== 'js' && wasmFrameStatsAvailable();
  }

  /** What sampled the last frame: `wasm` or `js`; undefined before the first. */
  get sampledBy(): 'wasm' | 'js' | undefined {
    return this.by;
  }

  /** The sampling stride for the current frame size (pixels between samples). */
  get stride(): number {
    return this.step;
  }

  /** The sampling grid of a width x height frame: every `step` pixels, gw x gh points. */
  static gridFor(width: number, height: number, targetSamples = DEFAULT_SAMPLES): { step: number; gw: number; gh: number } {
    const step = Math.max(1, Math.floor(Math.sqrt((width * height) / targetSamples)));
    return { step, gw: Math.floor(width / step), gh: Math.floor(height / step) };
  }

  private layout(width: number, height: number): void {
    if (width === this.width && height === this.height) return;
    this.width = width;
    this.height = height;
    ({ step: this.step, gw: this.gw, gh: this.gh } = FrameStats.gridFor(width, height, this.targetSamples));
    if (this.grid.length < this.gw * this.gh) this.grid = new Int32Array(this.gw * this.gh);
    this.wasm = undefined;
    this.frames = 0;
  }

  compute(data: Uint8Array, width: number, height: number): Float64Array {
    this.sample(data, width, height);
    const v = this.values;
    for (let k = 0; k < this.added.length; k++) v[SHIPPED + k] = this.added[k]!(data, width, height);
    return v;
  }

  /** The shipped statistics, from one sampling pass (WebAssembly or JavaScript). */
  private sample(data: Uint8Array, width: number, height: number): void {
    this.layout(width, height);
    const fits = this.useWasm && WasmFrameStats.takes(this.gw, this.gh);
    // A camera's frame in its frame memory is read in place by the kernel placed there.
    const home = fits && data.length === width * height * 3 ? FrameMemory.of(data) : undefined;
    let k = home ? WasmFrameStats.placed(home, width, height, this.step, this.gw, this.gh) : undefined;
    if (!k && !this.wasm && ownKernelDue(this.engine, ++this.frames) && fits) {
      this.wasm = new WasmFrameStats(width, height, this.step, this.gw, this.gh);
    }
    if (!k && data.length === width * height * 3) k = this.wasm;
    this.by = k ? 'wasm' : 'js';
    if (k) {
      k.run(data);
      const s = k.sums;
      const lap = this.gw < 3 || this.gh < 3 ? 0 : variance(s[SUM.laplacian]!, s[SUM.laplacian2]!, (this.gw - 2) * (this.gh - 2));
      this.finish(k.hist, k.dsum, s[SUM.y]!, s[SUM.y2]!, s[SUM.r]!, s[SUM.g]!, s[SUM.b]!, s[SUM.under]!, s[SUM.over]!, lap);
      return;
    }
    const { step, gw, gh, grid, hist, dsum } = this;
    hist.fill(0);
    dsum.fill(0);
    const off = step >> 1;
    let sumY = 0;
    let sumY2 = 0;
    let sumR = 0;
    let sumG = 0;
    let sumB = 0;
    let under = 0;
    let over = 0;
    let g = 0;
    for (let gy = 0; gy < gh; gy++) {
      let i = ((gy * step + off) * width + off) * 3;
      const di = step * 3;
      // Each row's sums are exact integers (as the kernel's are, added in another order).
      let rowY = 0;
      let rowY2 = 0;
      let rowR = 0;
      let rowG = 0;
      let rowB = 0;
      for (let gx = 0; gx < gw; gx++, i += di, g++) {
        const r = data[i]!;
        const gr = data[i + 1]!;
        const b = data[i + 2]!;
        const y = 299 * r + 587 * gr + 114 * b;
        grid[g] = y;
        rowY += y;
        rowY2 += y * y;
        rowR += r;
        rowG += gr;
        rowB += b;
        const mx = r > gr ? (r > b ? r : b) : gr > b ? gr : b;
        const mn = r < gr ? (r < b ? r : b) : gr < b ? gr : b;
        dsum[mx]! += mx - mn;
        if (y < UNDER_EXPOSED_Y1000) under++;
        if (mx >= OVER_EXPOSED_CHANNEL) over++;
        hist[((y + 500) / 1000) | 0]!++;
      }
      sumY += rowY;
      sumY2 += rowY2;
      sumR += rowR;
      sumG += rowG;
      sumB += rowB;
    }
    this.finish(hist, dsum, sumY, sumY2, sumR, sumG, sumB, under, over, gw * gh > 0 ? laplacianVariance(grid, gw, gh) : 0);
  }

  /**
   * The shipped features from the sampling pass's sums (luma in thousandths), its luma histogram,
   * and its (max - min) sums by max channel.
   */
  private finish(hist: Uint32Array, dsum: Uint32Array, sumY: number, sumY2: number, sumR: number, sumG: number, sumB: number, under: number, over: number, lap: number): void {
    const n = this.gw * this.gh;
    const v = this.values;
    if (n === 0) {
      v.fill(0);
      return;
    }
    const mean = sumY / 1000 / n;
    const variance = Math.max(0, sumY2 / 1e6 / n - mean * mean);
    // Saturation (max - min) / max, summed over the samples, by max channel: one division per value.
    let sumS = 0;
    for (let k = 1; k < 256; k++) if (dsum[k]! > 0) sumS += dsum[k]! / k;
    const meanR = sumR / n;
    const meanB = sumB / n;
    v[I.brightness] = mean;
    v[I.brightnessSpread] = percentile(hist, n, 0.95) - percentile(hist, n, 0.05);
    v[I.contrast] = Math.sqrt(variance) / 255;
    v[I.meanR] = meanR;
    v[I.meanG] = sumG / n;
    v[I.meanB] = meanB;
    v[I.colourTemp] = Math.log2((meanR + 1) / (meanB + 1));
    v[I.saturation] = sumS / n;
    v[I.sharpness] = lap / 1e6; // thousandths squared to luma units squared
    v[I.underExposed] = under / n;
    v[I.overExposed] = over / n;
    let h = 0;
    for (let k = 0; k < 256; k++) {
      const c = hist[k]!;
      if (c > 0) {
        const p = c / n;
        h -= p * Math.log2(p);
      }
    }
    v[I.entropy] = h;
  }
}

/** The histogram bin holding the q-quantile of n samples. */
function percentile(hist: Uint32Array, n: number, q: number): number {
  const target = q * n;
  let acc = 0;
  for (let k = 0; k < 256; k++) {
    acc += hist[k]!;
    if (acc >= target) return k;
  }
  return 255;
}

/**
 * Variance of the 4-neighbour Laplacian over the interior of a gw x gh grid of luma in thousandths
 * (so in thousandths squared). Each row's sums are exact integers; the rows are added in order.
 */
function laplacianVariance(grid: Int32Array, gw: number, gh: number): number {
  if (gw < 3 || gh < 3) return 0;
  let s = 0;
  let s2 = 0;
  let m = 0;
  for (let y = 1; y < gh - 1; y++) {
    let i = y * gw + 1;
    let rowS = 0;
    let rowS2 = 0;
    for (let x = 1; x < gw - 1; x++, i++) {
      const l = 4 * grid[i]! - grid[i - 1]! - grid[i + 1]! - grid[i - gw]! - grid[i + gw]!;
      rowS += l;
      rowS2 += l * l;
      m++;
    }
    s += rowS;
    s2 += rowS2;
  }
  return variance(s, s2, m);
}

/** The variance of m values from their sum and sum of squares. */
function variance(s: number, s2: number, m: number): number {
  const mean = s / m;
  return Math.max(0, s2 / m - mean * mean);
}
