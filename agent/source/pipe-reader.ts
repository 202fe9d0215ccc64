/**
 * Reads a child process's stdout straight into buffers its owner gives, with nothing allocated per
 * read. A child's stdout stream allocates a fresh Buffer for every read of the pipe (64 KiB at a
 * time), and the owner then copies it out: for 4 cameras of 640x480 RGB at 10 fps that is 37 MB/s
 * of garbage whose external memory set off a full garbage collection about twice a second, and
 * reading that way cost 1.7 ms of CPU per frame against 0.4 ms here (measured, docs/performance.md).
 *
 * The pipe's handle is taken over by a socket with Node's `onread` option: each read lands in the
 * buffer `target()` returns at that moment (the unfilled rest of the current frame, so reads stop
 * exactly at frame boundaries) and `onRead(n)` is told how many bytes arrived. The child's own
 * stdout stream is closed without its handle, so the child's 'close' no longer waits for it:
 * `closed` resolves once this reader has seen the end of the pipe. A runtime without the handle
 * (never the case on Node 20-24) falls back to the stream and copies.
 */
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';

export interface PipeReaderOptions {
  /** Where the next read may write: its length bounds the read. Called before every read. */
  readonly target: () => Uint8Array;
  /** `n` bytes were written at the start of the last `target()`. */
  readonly onRead: (n: number) => void;
}

type Handle = { readStart(): number; readStop(): number; useUserBuffer(b: Uint8Array): void };

export class PipeReader {
  /** Resolves when the pipe has closed (end of stream, error, or destroy()). */
  readonly closed: Promise<void>;
  /** The copying fallback is in use (the stream had no handle to take over). */
  readonly copying: boolean;
  private readonly socket: Socket | undefined;
  private readonly stream: Readable;
  private paused = false;

  constructor(stdout: Readable, o: PipeReaderOptions) {
    this.stream = stdout;
    const handle = (stdout as { _handle?: Handle | null })._handle;
    if (stdout instanceof Socket && handle && typeof handle.useUserBuffer === 'function' && typeof handle.readStop === 'function') {
      this.copying = false;
      // The child's stream lets go of the handle, then closes (its 'close' counts for the child's).
      (stdout as { _handle?: Handle | null })._handle = null;
      stdout.destroy();
      const socket = new Socket({ handle: handle as never, readable: true, writable: false, onread: { buffer: o.target, callback: (n: number) => void o.onRead(n) } } as never);
      this.socket = socket;
      socket.on('error', () => undefined); // the end of the pipe is what matters; 'close' follows
      this.closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.resume();
      return;
    }
    this.copying = true;
    this.socket = undefined;
    stdout.on('data', (chunk: Buffer) => {
      if (this.paused) {
        // Read before pause() took effect: back it goes.
        stdout.pause();
        stdout.unshift(chunk);
        return;
      }
      let off = 0;
      while (off < chunk.length) {
        const to = o.target();
        const n = Math.min(to.length, chunk.length - off);
        to.set(chunk.subarray(off, off + n));
        off += n;
        o.onRead(n);
        if (this.paused && off < chunk.length) {
          // Paused from inside onRead: the rest goes back to the front of the stream's buffer.
          stdout.pause();
          stdout.unshift(chunk.subarray(off));
          return;
        }
      }
    });
    stdout.on('error', () => undefined);
    this.closed = new Promise<void>((resolve) => stdout.once('close', () => resolve()));
  }

  /** No read after this one until resume(); may be called from inside onRead. */
  pause(): void {
    this.paused = true;
    if (this.socket) this.socket.pause();
    else this.stream.pause();
  }

  resume(): void {
    this.paused = false;
    if (this.socket) this.socket.resume();
    else this.stream.resume();
  }

  /** Closes the pipe now (the child then fails its next write). */
  destroy(): void {
    if (this.socket) this.socket.destroy();
    else this.stream.destroy();
  }
}
