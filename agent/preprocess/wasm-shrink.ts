/**
 * shrinkBox (box-shrink.ts) in WebAssembly (shrink.wat, compiled into shrink-wasm.ts by
 * `npm run build:wasm`): the first half of the `area` letterbox of a camera's large frames. The
 * same bytes bit for bit, with SIMD, reading each frame once.
 *
 * Like the bilinear kernel (wasm-bilinear.ts) it works in one WebAssembly memory: the camera's frame
 * memory (frame-memory.ts), where it reads frames in place, or one of its own, into which each frame
 * is copied. The shrunk image stays in that memory, where the letterbox's bilinear kernel, placed in
 * the same memory, reads it in turn.
 */
import { wasmKernel } from '../../lib/wasm-kernel.js';
import type { BoxShrink } from './box-shrink.js';
import { FrameMemory } from './frame-memory.js';
import { SHRINK_WASM_BASE64 } from './shrink-wasm.js';

const kernel = wasmKernel(SHRINK_WASM_BASE64);

/** Whether this JavaScript engine runs the kernel (every Node since 16.4 does: it needs SIMD). */
export function wasmShrinkAvailable(): boolean {
  return kernel() !== null;
}

type Shrink = (src: number, rowBytes: number, k: number, outW: number, outH: number, acc: number, dst: number, half: number, rcp: number) => void;

export class WasmShrink {
  /** The memory it works in: the camera's frame memory it was placed in, or one of its own. */
  readonly home: FrameMemory;
  /** The shrunk image (RGB24, shrink.outW x shrink.outH), in `home`; rewritten by every run. */
  readonly out: Uint8Array;
  /** Where a frame from outside its memory is copied to; undefined when placed in a camera's memory. */
  private readonly src: Uint8Array | undefined;
  private readonly fn: Shrink;
  private readonly accAt: number;

  /**
   * The instance placed in `home` (made on first use), when it is for this shrink; undefined when
   * `home` had no room for one.
   */
  static placed(home: FrameMemory, s: BoxShrink): WasmShrink | undefined {
    const k = home.place('shrink', () => new WasmShrink(s, home));
    return k && k.shrink.matches(s.srcW, s.srcH, s.k) ? k : undefined;
  }

  /** Bytes of memory an instance takes: the column sums and the shrunk image, and a frame's copy when `withFrame`. */
  static bytesFor(s: BoxShrink, withFrame: boolean): number {
    const t = FrameMemory.taken;
    return t(s.outW * s.k * 6) + t(s.outW * s.outH * 3) + (withFrame ? t(s.srcW * s.srcH * 3) : 0);
  }

  /**
   * `home`: the camera's frame memory to work in, reading its frames in place. Without one it has a
   * memory of its own, with `extra` bytes more for the bilinear kernel that reads its output there.
   */
  constructor(
    readonly shrink: BoxShrink,
    home?: FrameMemory,
    extra = 0,
  ) {
    const m = kernel();
    if (!m) throw new Error('this JavaScript engine cannot compile WebAssembly SIMD');
    const what = `a ${shrink.srcW}x${shrink.srcH} box shrink`;
    this.home = FrameMemory.forKernel(home, WasmShrink.bytesFor(shrink, !home), what, extra);
    const take = (bytes: number): number => this.home.region(bytes, what);
    this.accAt = take(shrink.outW * shrink.k * 6);
    const outAt = take(shrink.outW * shrink.outH * 3);
    const srcAt = home ? -1 : take(shrink.srcW * shrink.srcH * 3);
    const buf = this.home.memory.buffer;
    this.out = new Uint8Array(buf, outAt, shrink.outW * shrink.outH * 3);
    this.src = home ? undefined : new Uint8Array(buf, srcAt, shrink.srcW * shrink.srcH * 3);
    this.fn = new WebAssembly.Instance(m, { env: { memory: this.home.memory } }).exports.shrink as Shrink;
  }

  /** Shrinks `frame` (RGB24, shrink.srcW x shrink.srcH) into `out`, and returns it. A frame in its memory is read where it is; another one is copied in. */
  run(frame: Uint8Array): Uint8Array {
    const s = this.shrink;
    this.fn(this.home.addressOf(frame, this.src, 'this shrink'), s.srcW * 3, s.k, s.outW, s.outH, this.accAt, this.out.byteOffset, s.half, s.reciprocal);
    return this.out;
  }
}
