/**
 * Camera source over an ffmpeg child process: RTSP (TCP transport, with a socket timeout),
 * HTTP/MJPEG, video files (optionally looped) and V4L2 devices. ffmpeg scales to the configured size
 * and writes raw rgb24 to a pipe; the stream is cut exactly at frame boundaries into one reused
 * buffer. A process that exits is restarted with backoff (a file that ends is `ended` unless looped);
 * one that goes quiet for `stallMs` is killed and restarted.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { backoffDelay, DEFAULT_BACKOFF, type Backoff, type FrameSource, type SourceCounters, type SourceFrame, type SourceState } from './source.js';

export interface FfmpegSourceOptions {
  readonly name: string;
  /** rtsp://…, http(s)://…, a file path, or /dev/videoN. */
  readonly url: string;
  readonly width: number;
  readonly height: number;
  /** Frame rate to deliver (ffmpeg's fps filter); omitted: as the stream comes. */
  readonly fps?: number;
  /** Loop a video file forever. */
  readonly loop?: boolean;
  /** Read a file at its native rate instead of as fast as possible. */
  readonly realtime?: boolean;
  /** No bytes for this long: the source is stalled and restarted (default 10 s). */
  readonly stallMs?: number;
  readonly backoff?: Backoff;
  /** The ffmpeg binary (default `ffmpeg` on PATH). */
  readonly ffmpeg?: string;
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

export function ffmpegArgs(o: FfmpegSourceOptions): string[] {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  const isRtsp = o.url.startsWith('rtsp://') || o.url.startsWith('rtsps://');
  if (isRtsp) args.push('-rtsp_transport', 'tcp', '-timeout', String((o.stallMs ?? 10_000) * 1000));
  else if (/^https?:\/\//.test(o.url)) args.push('-rw_timeout', String((o.stallMs ?? 10_000) * 1000), '-reconnect', '0');
  else if (o.url.startsWith('/dev/video')) args.push('-f', 'v4l2');
  if (o.loop) args.push('-stream_loop', '-1');
  if (o.realtime) args.push('-re');
  args.push('-i', o.url, '-an', '-sn');
  const filters = [`scale=${o.width}:${o.height}`];
  if (o.fps) filters.unshift(`fps=${o.fps}`);
  // passthrough: one output frame per decoded frame. ffmpeg's default for rawvideo fills timestamp
  // gaps with duplicates, and a stream with corrupt timestamps then floods the pipe with copies.
  args.push('-vf', filters.join(','), '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  return args;
}

export class FfmpegSource implements FrameSource {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly counters: SourceCounters = { frames: 0, reconnects: 0, stalls: 0, errors: 0 };
  onEvent?: FrameSource['onEvent'];
  private _state: SourceState = 'stopped';
  private child: Child | undefined;
  private readonly frame: Uint8Array;
  private filled = 0;
  private lastBytes = 0;
  private attempt = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private onFrame: ((f: SourceFrame) => void) | undefined;
  private stopping = false;
  private readonly view: { data: Uint8Array; width: number; height: number; channels: 3; ts: number; index: number };

  constructor(readonly o: FfmpegSourceOptions) {
    this.name = o.name;
    this.width = o.width;
    this.height = o.height;
    this.frame = new Uint8Array(o.width * o.height * 3);
    this.view = { data: this.frame, width: o.width, height: o.height, channels: 3, ts: 0, index: 0 };
  }

  get state(): SourceState {
    return this._state;
  }

  private setState(s: SourceState): void {
    if (s === this._state) return;
    this._state = s;
    this.onEvent?.({ type: 'state', state: s });
  }

  private error(reason: string): void {
    this.counters.errors++;
    this.onEvent?.({ type: 'error', reason });
  }

  start(onFrame: (f: SourceFrame) => void): void {
    this.onFrame = onFrame;
    this.stopping = false;
    this.spawn();
    const stallMs = this.o.stallMs ?? 10_000;
    this.watchdog = setInterval(() => {
      if (!this.child || this._state === 'backoff') return;
      if (Date.now() - this.lastBytes > stallMs) {
        this.counters.stalls++;
        this.setState('stalled');
        this.error(`no data for ${stallMs} ms`);
        this.child.kill('SIGKILL');
      }
    }, Math.max(50, Math.min(1000, stallMs / 4)));
    this.watchdog.unref();
  }

  private spawn(): void {
    this.setState('connecting');
    this.filled = 0;
    this.lastBytes = Date.now();
    const child = spawn(this.o.ffmpeg ?? 'ffmpeg', ffmpegArgs(this.o), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
      const lines = stderr.split('\n');
      stderr = lines.pop()!;
      for (const l of lines) if (l.trim()) this.error(`ffmpeg: ${l.trim()}`);
    });
    child.on('error', (e) => this.error(`cannot run ffmpeg: ${e.message}`));
    child.on('close', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.filled > 0) this.error(`stream ended inside a frame (${this.filled} of ${this.frame.length} bytes)`);
      if (this.stopping) {
        this.setState('stopped');
        return;
      }
      const isFile = !/^[a-z]+:\/\//.test(this.o.url) && !this.o.url.startsWith('/dev/');
      if (isFile && !this.o.loop && code === 0) {
        this.setState('ended');
        return;
      }
      if (code !== 0 && signal === null) this.error(`ffmpeg exited with code ${code}`);
      this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    const delay = backoffDelay(this.o.backoff ?? DEFAULT_BACKOFF, this.attempt++);
    this.setState('backoff');
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.stopping) return;
      this.counters.reconnects++;
      this.spawn();
    }, delay);
  }

  private onData(chunk: Buffer): void {
    this.lastBytes = Date.now();
    let off = 0;
    const size = this.frame.length;
    while (off < chunk.length) {
      const n = Math.min(size - this.filled, chunk.length - off);
      this.frame.set(chunk.subarray(off, off + n), this.filled);
      this.filled += n;
      off += n;
      if (this.filled === size) {
        this.filled = 0;
        this.attempt = 0;
        this.setState('streaming');
        this.view.ts = Date.now();
        this.view.index = this.counters.frames++;
        this.onFrame?.(this.view);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.retry) clearTimeout(this.retry);
    const child = this.child;
    if (!child) {
      this.setState('stopped');
      return;
    }
    await new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    });
  }
}
