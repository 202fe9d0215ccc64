/**
 * The machinery shared by sources that run a child process writing raw RGB24 frames to stdout
 * (ffmpeg, GStreamer): framing into one reused buffer, exact at frame boundaries; restart with
 * exponential backoff and jitter when the process exits; a stall watchdog that kills a process
 * silent for `stallMs` (any bytes count as life, so a slow camera is never killed).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { backoffDelay, BaseSource, DEFAULT_BACKOFF, type Backoff, type SourceFrame } from './source.js';

export interface ProcessSourceOptions {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** No bytes for this long: the source is stalled and restarted (default 10 s). */
  readonly stallMs?: number;
  readonly backoff?: Backoff;
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

export abstract class ProcessSource extends BaseSource {
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

  /** The command that writes raw RGB24 frames of width x height to its stdout. */
  protected abstract command(): { cmd: string; args: string[] };
  /** True when a clean exit means the input is finished (a file), not a lost connection. */
  protected abstract endsCleanly(): boolean;

  constructor(readonly o: ProcessSourceOptions) {
    super(o.name, o.width, o.height);
    this.frame = new Uint8Array(o.width * o.height * 3);
    this.view = { data: this.frame, width: o.width, height: o.height, channels: 3, ts: 0, index: 0 };
  }

  start(onFrame: (f: SourceFrame) => void): void {
    this.onFrame = onFrame;
    this.stopping = false;
    this.spawn();
    const stallMs = this.o.stallMs ?? 10_000;
    this.watchdog = setInterval(() => {
      if (!this.child || this.state === 'backoff') return;
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
    const { cmd, args } = this.command();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
      const lines = stderr.split('\n');
      stderr = lines.pop()!;
      for (const l of lines) if (l.trim()) this.error(`${cmd}: ${l.trim()}`);
    });
    child.on('error', (e) => this.error(`cannot run ${cmd}: ${e.message}`));
    child.on('close', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.filled > 0) this.error(`stream ended inside a frame (${this.filled} of ${this.frame.length} bytes)`);
      if (this.stopping) {
        this.setState('stopped');
        return;
      }
      if (code === 0 && this.endsCleanly()) {
        this.setState('ended');
        return;
      }
      if (code !== 0 && signal === null) this.error(`${cmd} exited with code ${code}`);
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
