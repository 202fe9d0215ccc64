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
   * The kernels placed here (place()), one of each (its frames have one size, and go into one model
   * input), made on first use by WasmBilinear.placed, WasmShrink.placed (large frames, the `area`
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

  /**
   * The kernel in `slot`, made by `make` on first use to work here; null when `make` found no room
   * (a RangeError), and then not tried again. A kernel takes its room all or nothing (forKernel), so
   * one refused leaves the room to the next.
   */
  place<K extends 'letterbox' | 'shrink' | 'stats'>(slot: K, make: () => NonNullable<FrameMemory[K]>): FrameMemory[K] {
    const slots = this as Pick<FrameMemory, K>; // `this[K]` may be a subtype's: the slot's own type here
    if (slots[slot] === undefined) {
      try {
        slots[slot] = make();
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        slots[slot] = null as FrameMemory[K]; // no room: frames of this memory take the copying path
      }
    }
    return slots[slot];
  }

  /**
   * The memory a kernel instance of `bytes` works in: `home` when it has room for all of it (a
   * RangeError naming `what` otherwise, with none of the room taken), or without a home, one of its
   * own, with `extra` bytes more for a kernel that reads its output there.
   */
  static forKernel(home: FrameMemory | undefined, bytes: number, what: string, extra = 0): FrameMemory {
    if (!home) return new FrameMemory(bytes + extra);
    if (home.room < bytes) throw new RangeError(`a frame memory with ${home.room} bytes left has no room for ${what} (${bytes})`);
    return home;
  }

  /** The offset of `bytes` taken from the memory (64-byte aligned, SLACK free after), or undefined when it has no room. */
  take(bytes: number): number | undefined {
    const at = this.end;
    const end = at + FrameMemory.taken(bytes);
    if (end > this.bytes) return undefined; // what it was sized for, not the page it was rounded up to
    this.end = end;
    return at;
  }

  /** A frame buffer of `bytes` taken from the memory; throws when it has no room (it was sized for its frames). */
  frame(bytes: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.region(bytes, 'another frame'), bytes);
  }

  /** take(), where the room was checked or sized for: a RangeError naming `what` when it is not there. */
  region(bytes: number, what: string): number {
    const at = this.take(bytes);
    if (at === undefined) throw new RangeError(`a frame memory of ${this.bytes} bytes has no room for ${what} of ${bytes}`);
    return at;
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
