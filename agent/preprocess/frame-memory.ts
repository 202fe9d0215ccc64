/**
 * One camera's frame buffers and the scratch of the kernels that read its frames, in one WebAssembly
 * memory. The letterbox (bilinear.wat, after shrink.wat for large frames) and the input statistics (frame-stats.wat) then read a frame
 * where the camera's source wrote it, instead of copying it into a memory of their own first: 0.9 MB
 * a VGA frame, about 0.2 ms of CPU a frame with 4 cameras (docs/performance.md).
 *
 * Sized once, at construction, and never grown: growing a WebAssembly memory detaches every view of
 * it, the frames in flight among them. A frame that does not live in one (a source's own first
 * buffer, a one-off image) takes the kernels' copying path, as before.
 */
import type { WasmFrameStats } from '../telemetry/wasm-frame-stats.js';
import type { WasmBilinear } from './wasm-bilinear.js';
import type { WasmShrink } from './wasm-shrink.js';

const PAGE = 65536;
/** Free bytes after every region: the kernels read and write whole 16-byte blocks past their ends. */
export const SLACK = 64;

const homes = new WeakMap<ArrayBufferLike, FrameMemory>();

export class FrameMemory {
  /** The memory `data` lives in, if it lives in one. */
  static of(data: Uint8Array): FrameMemory | undefined {
    return homes.get(data.buffer);
  }

  readonly memory: WebAssembly.Memory;
  /**
   * The kernels placed here, one of each (its frames have one size, and go into one model input),
   * made on first use by WasmBilinear.placed, WasmShrink.placed (large frames, the `area`
   * letterbox: its bilinear kernel then reads the shrunk image) and WasmFrameStats.placed; null:
   * refused for room.
   */
  letterbox: WasmBilinear | null | undefined;
  shrink: WasmShrink | null | undefined;
  stats: WasmFrameStats | null | undefined;
  private end = 0;

  constructor(readonly bytes: number) {
    const pages = Math.max(1, Math.ceil(bytes / PAGE));
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    homes.set(this.memory.buffer, this);
  }

  /** Bytes not taken yet (of what it was sized for). */
  get room(): number {
    return this.bytes - this.end;
  }

  /** The offset of `bytes` taken from the memory (64-byte aligned, SLACK free after), or undefined when it has no room. */
  take(bytes: number): number | undefined {
    const at = this.end;
    const end = at + ((bytes + SLACK + 63) & ~63);
    if (end > this.bytes) return undefined; // what it was sized for, not the page it was rounded up to
    this.end = end;
    return at;
  }

  /** A frame buffer of `bytes` taken from the memory; throws when it has no room (it was sized for its frames). */
  frame(bytes: number): Uint8Array {
    const at = this.take(bytes);
    if (at === undefined) throw new RangeError(`a frame memory of ${this.bytes} bytes has no room for another frame of ${bytes}`);
    return new Uint8Array(this.memory.buffer, at, bytes);
  }

  /**
   * Where a kernel working in this memory reads `frame`: where it lies, when it lives here; else
   * copied into `copy` (the room a kernel with a memory of its own keeps for a frame), and there.
   * `what` names the kernel, for the error when it has no such room.
   */
  addressOf(frame: Uint8Array, copy: Uint8Array | undefined, what: string): number {
    if (homes.get(frame.buffer) === this) return frame.byteOffset;
    if (!copy) throw new RangeError(`a frame from outside the camera frame memory ${what} was placed in`);
    copy.set(frame);
    return copy.byteOffset;
  }

  /** Bytes that `take(bytes)` uses up. */
  static taken(bytes: number): number {
    return (bytes + SLACK + 63) & ~63;
  }
}
