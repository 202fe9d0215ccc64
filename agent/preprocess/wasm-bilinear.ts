/**
 * resampleBilinear (bilinear.ts) in WebAssembly (bilinear.wat, compiled into bilinear-wasm.ts by
 * `npm run build:wasm`): the letterbox of a camera's frames. The kernel does the JavaScript loop's
 * integer arithmetic with SIMD, 16 bytes of a row or a pixel's three channels at a time, and the
 * same one rounding at the end, so the tensor is the same bit for bit, in a fraction of the CPU time
 * (docs/performance.md).
 *
 * The kernel works in one WebAssembly memory: the camera's frame memory (frame-memory.ts), where it
 * reads frames in place, or one of its own, into which each frame is copied (one memcpy). The tensor
 * is written in that memory too (`tensor`). run() copies it out (another memcpy, 0.59 MB for the
 * shipped model), since a tensor for the inference worker goes by transfer and a WebAssembly memory
 * cannot be transferred; a model run on the main thread may read `tensor` where it is instead
 * (resample(), Letterboxer.readInPlace). Everything outside the image rectangle (the padding) comes
 * from `background()`, set when the kernel instance is made.
 */
import { wasmKernel } from '../../lib/wasm-kernel.js';
import { BILINEAR_WASM_BASE64 } from './bilinear-wasm.js';
import type { BilinearTaps } from './bilinear.js';
import { FrameMemory } from './frame-memory.js';

/** The kernel, compiled once per process; null where this engine cannot compile it. */
const kernel = wasmKernel(BILINEAR_WASM_BASE64);

/** Whether this JavaScript engine runs the kernel (every Node since 12 does). */
export function wasmBilinearAvailable(): boolean {
  return kernel() !== null;
}

type Resample = (
  src: number,
  rowBytes: number,
  cols: number,
  y0: number,
  y1: number,
  wy: number,
  tmp: number,
  dst: number,
  outW: number,
  outH: number,
  dstW: number,
  plane: number,
  left: number,
  top: number,
) => void;

/** One geometry's kernel instance: frames of taps.srcW x taps.srcH into a 3 x dstH x dstW tensor at (left, top). */
export class WasmBilinear {
  /** The memory it works in: the camera's frame memory it was placed in, or one of its own. */
  readonly home: FrameMemory;
  /** Where a frame from outside its memory is copied to; undefined when placed in a camera's memory. */
  private readonly src: Uint8Array | undefined;
  /** The tensor (3 x dstH x dstW floats, CHW), in its memory: rewritten by every resample() and run(). */
  readonly tensor: Float32Array;
  private readonly kernel: Resample;
  private readonly at: readonly number[];

  /**
   * The instance placed in `home` (made on first use, its background the letterbox grey
   * `background`), when it is for this geometry; undefined when `home` had no room for one.
   */
  static placed(home: FrameMemory, taps: BilinearTaps, dstW: number, dstH: number, left: number, top: number, background: number): WasmBilinear | undefined {
    const k = home.place('letterbox', () => {
      const made = new WasmBilinear(taps, dstW, dstH, left, top, home);
      made.background(background);
      return made;
    });
    return k && k.taps.matches(taps) && k.dstW === dstW && k.dstH === dstH && k.left === left && k.top === top ? k : undefined;
  }

  /** Bytes of memory an instance takes: its scratch, and a frame's copy when `withFrame`. */
  static bytesFor(srcW: number, srcH: number, outW: number, outH: number, dstW: number, dstH: number, withFrame: boolean): number {
    const t = FrameMemory.taken;
    return t(outW * 16) + 3 * t(outH * 4) + t(srcW * 6) + t(3 * dstW * dstH * 4) + (withFrame ? t(srcW * srcH * 3) : 0);
  }

  /**
   * `home`: the camera's frame memory (frame-memory.ts) to work in, reading its frames in place;
   * without one it has a memory of its own and copies each frame in.
   */
  constructor(
    readonly taps: BilinearTaps,
    readonly dstW: number,
    readonly dstH: number,
    readonly left: number,
    readonly top: number,
    home?: FrameMemory,
  ) {
    const m = kernel();
    if (!m) throw new Error('this JavaScript engine cannot compile WebAssembly');
    if (left + taps.outW > dstW || top + taps.outH > dstH) throw new RangeError(`a ${taps.outW}x${taps.outH} image at (${left}, ${top}) does not fit a ${dstW}x${dstH} tensor`);
    const rowBytes = taps.srcW * 3;
    const what = `a ${taps.srcW}x${taps.srcH} letterbox`;
    this.home = FrameMemory.forKernel(home, WasmBilinear.bytesFor(taps.srcW, taps.srcH, taps.outW, taps.outH, dstW, dstH, !home), what);
    const take = (bytes: number): number => this.home.region(bytes, what);
    // Regions: column taps (16 bytes each: x0 * 2, x1 * 2, 256 - wx, wx), row taps (y0, y1, wy),
    // one blended row, the tensor, and (without a home) the frame's copy.
    const colsAt = take(taps.outW * 16);
    const rows = [taps.y0, taps.y1, taps.wy].map((a) => take(a.length * 4));
    const tmpAt = take(rowBytes * 2);
    const dstAt = take(3 * dstW * dstH * 4);
    const srcAt = home ? -1 : take(rowBytes * taps.srcH);
    const memory = this.home.memory;
    const instance = new WebAssembly.Instance(m, { env: { memory } });
    const buf = memory.buffer;
    const cols = new DataView(buf, colsAt, taps.outW * 16);
    for (let o = 0; o < taps.outW; o++) {
      cols.setInt32(o * 16, taps.x0[o]! * 2, true);
      cols.setInt32(o * 16 + 4, taps.x1[o]! * 2, true);
      cols.setFloat32(o * 16 + 8, 256 - taps.wx[o]!, true);
      cols.setFloat32(o * 16 + 12, taps.wx[o]!, true);
    }
    new Int32Array(buf, rows[0], taps.outH).set(taps.y0);
    new Int32Array(buf, rows[1], taps.outH).set(taps.y1);
    new Int32Array(buf, rows[2], taps.outH).set(taps.wy);
    this.src = home ? undefined : new Uint8Array(buf, srcAt, rowBytes * taps.srcH);
    this.tensor = new Float32Array(buf, dstAt, 3 * dstW * dstH);
    this.kernel = instance.exports.resample as Resample;
    this.at = [rowBytes, colsAt, rows[0]!, rows[1]!, rows[2]!, tmpAt, dstAt];
  }

  /** What the tensor holds outside the image rectangle (the letterbox's grey). */
  background(value: number): void {
    this.tensor.fill(value);
  }

  /**
   * Resamples `frame` (RGB24, taps.srcW x taps.srcH) into `tensor`: the image rectangle (the
   * background around it stays). A frame in its memory is read where it is; another one is copied in.
   */
  resample(frame: Uint8Array): Float32Array {
    const src = this.home.addressOf(frame, this.src, 'this letterbox');
    const a = this.at;
    this.kernel(src, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, this.taps.outW, this.taps.outH, this.dstW, this.dstW * this.dstH, this.left, this.top);
    return this.tensor;
  }

  /** resample(), then the whole tensor, its background included, copied into `out`. */
  run(frame: Uint8Array, out: Float32Array): void {
    out.set(this.resample(frame));
  }
}
