/**
 * A one-deep, latest-frame-wins queue per camera. Sources reuse their buffers, so offer() copies
 * the frame into one of two preallocated buffers, unless the source lends its buffer
 * (SourceFrame.exchange): then the queue keeps the source's buffer and gives it the free one of its
 * own to fill next, and nothing is copied. When inference is slower than the camera, a frame not yet
 * taken is replaced by the newer one and counted as dropped: never silently, never by blocking the
 * source.
 *
 * Given the camera's frame memory (agent/preprocess/frame-memory.ts), its buffers live there, so the
 * letterbox and statistics kernels read each frame in place. A lending source's own first buffer is
 * copied that once and swapped for a third buffer from the memory: from then on every buffer the
 * source fills lives there too.
 */
import { FrameMemory } from '../preprocess/frame-memory.js';
import type { SourceFrame } from '../source/source.js';

export interface QueuedFrame {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 3;
  ts: number;
  mono: number;
  index: number;
}

type Held = { -readonly [K in keyof QueuedFrame]: QueuedFrame[K] };

export class LatestFrame {
  private readonly buffers: [Held, Held];
  private pendingIdx = -1;
  private inUseIdx = -1;
  /** The third buffer of the frame memory, for a lending source's own; given once. */
  private spare: Uint8Array | undefined;
  offered = 0;
  dropped = 0;

  constructor(
    width: number,
    height: number,
    /** The camera's frame memory, where the buffers are taken from; none: plain buffers. */
    readonly home?: FrameMemory,
  ) {
    const bytes = width * height * 3;
    const mk = (): Held => ({ data: home ? home.frame(bytes) : new Uint8Array(bytes), width, height, channels: 3, ts: 0, mono: 0, index: 0 });
    this.buffers = [mk(), mk()];
    this.spare = home ? home.frame(bytes) : undefined;
  }

  get hasFrame(): boolean {
    return this.pendingIdx >= 0;
  }

  offer(f: SourceFrame): void {
    this.offered++;
    if (this.pendingIdx >= 0) this.dropped++;
    // Write into the buffer that the consumer is not reading.
    const idx = this.inUseIdx === 0 ? 1 : this.inUseIdx === 1 ? 0 : this.pendingIdx >= 0 ? this.pendingIdx : 0;
    const b = this.buffers[idx]!;
    if (f.exchange && f.data.length === b.data.length) {
      if (this.spare && FrameMemory.of(f.data) !== this.home) {
        // The source's own buffer: copied this once; it fills one from the frame memory from now on.
        b.data.set(f.data);
        const spare = this.spare;
        this.spare = undefined;
        f.exchange(spare);
      } else {
        const spare = b.data;
        b.data = f.data;
        f.exchange(spare);
      }
    } else {
      b.data.set(f.data);
    }
    b.ts = f.ts;
    b.mono = f.mono;
    b.index = f.index;
    this.pendingIdx = idx;
  }

  /** The newest frame, valid until release(); undefined when none is waiting. */
  take(): QueuedFrame | undefined {
    if (this.pendingIdx < 0) return undefined;
    this.inUseIdx = this.pendingIdx;
    this.pendingIdx = -1;
    return this.buffers[this.inUseIdx];
  }

  release(): void {
    this.inUseIdx = -1;
  }

  /** The frame waiting, if any, will never be taken (the pipeline stops): counted as dropped. */
  discard(): void {
    if (this.pendingIdx < 0) return;
    this.dropped++;
    this.pendingIdx = -1;
  }
}
