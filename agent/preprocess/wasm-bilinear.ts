/**
 * resampleBilinear (bilinear.ts) in WebAssembly (bilinear.wat, compiled into bilinear-wasm.ts by
 * `npm run build:wasm`): the letterbox of a camera's frames. The kernel does the JavaScript loop's
 * integer arithmetic with SIMD, 16 bytes of a row or a pixel's three channels at a time, and the
 * same one rounding at the end, so the tensor is the same bit for bit, in a fraction of the CPU time
 * (docs/performance.md).
 *
 * The kernel reads and writes only its own memory: each frame is copied in (one memcpy) and the
 * tensor copied out (another), since the tensor goes to the inference worker by transfer and a
 * WebAssembly memory cannot be transferred. Everything outside the image rectangle (the padding)
 * comes from `background()`, set when the kernel instance is made.
 */
import { BILINEAR_WASM_BASE64 } from './bilinear-wasm.js';
import type { BilinearTaps } from './bilinear.js';

const PAGE = 65536;

let compiled: WebAssembly.Module | null | undefined;

/** The kernel, compiled once per process; null where this engine cannot compile it. */
function kernel(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(Buffer.from(BILINEAR_WASM_BASE64, 'base64'));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

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

/** Free bytes the kernel needs after the frame and after its blended row (bilinear.wat). */
const SLACK = 32;

/** One geometry's kernel instance: frames of taps.srcW x taps.srcH into a 3 x dstH x dstW tensor at (left, top). */
export class WasmBilinear {
  private readonly src: Uint8Array;
  private readonly dst: Float32Array;
  private readonly resample: Resample;
  private readonly at: readonly number[];

  constructor(
    readonly taps: BilinearTaps,
    readonly dstW: number,
    readonly dstH: number,
    readonly left: number,
    readonly top: number,
  ) {
    const m = kernel();
    if (!m) throw new Error('this JavaScript engine cannot compile WebAssembly');
    if (left + taps.outW > dstW || top + taps.outH > dstH) throw new RangeError(`a ${taps.outW}x${taps.outH} image at (${left}, ${top}) does not fit a ${dstW}x${dstH} tensor`);
    // Layout, each part 64-byte aligned: frame, column taps (16 bytes each: x0 * 2, x1 * 2, 256 - wx, wx),
    // row taps (y0, y1, wy), one blended row, tensor.
    let end = 0;
    const take = (bytes: number): number => {
      const at = end;
      end += (bytes + 63) & ~63;
      return at;
    };
    const rowBytes = taps.srcW * 3;
    const srcAt = take(rowBytes * taps.srcH + SLACK);
    const colsAt = take(taps.outW * 16);
    const rows = [taps.y0, taps.y1, taps.wy].map((a) => take(a.length * 4));
    const tmpAt = take(rowBytes * 2 + SLACK);
    const dstAt = take(3 * dstW * dstH * 4);
    const instance = new WebAssembly.Instance(m);
    const memory = instance.exports.memory as WebAssembly.Memory;
    const pages = Math.ceil(end / PAGE) - memory.buffer.byteLength / PAGE;
    if (pages > 0) memory.grow(pages);
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
    this.src = new Uint8Array(buf, srcAt, rowBytes * taps.srcH);
    this.dst = new Float32Array(buf, dstAt, 3 * dstW * dstH);
    this.resample = instance.exports.resample as Resample;
    this.at = [srcAt, rowBytes, colsAt, rows[0]!, rows[1]!, rows[2]!, tmpAt, dstAt];
  }

  /** What the tensor holds outside the image rectangle (the letterbox's grey). */
  background(value: number): void {
    this.dst.fill(value);
  }

  /** Resamples `frame` (RGB24, taps.srcW x taps.srcH) into `out`: the image rectangle, and the background around it. */
  run(frame: Uint8Array, out: Float32Array): void {
    this.src.set(frame);
    const a = this.at;
    this.resample(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, this.taps.outW, this.taps.outH, this.dstW, this.dstW * this.dstH, this.left, this.top);
    out.set(this.dst);
  }
}
