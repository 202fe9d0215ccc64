/**
 * The machinery shared by sources that run a child process writing raw RGB24 frames to stdout
 * (ffmpeg, GStreamer): the program found once at construction (missing: a configuration error);
 * framing into one reused buffer, exact at frame boundaries; restart with exponential backoff and
 * jitter when the process exits; a stall watchdog that kills a process silent for `stallMs` (any
 * bytes count as life, so a slow camera is never killed; a starting one gets `startMs`); and, for a
 * paced source, a pipe paused after each frame until the pipeline has taken it.
 */
import type { Clock } from '../../lib/clock.js';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { requireProgram } from '../../lib/program.js';
import { PipeReader } from './pipe-reader.js';
import { backoffDelay, BaseSource, DEFAULT_BACKOFF, type Backoff, type SourceFrame } from './source.js';

/** Before its first bytes a process gets this long (at least stallMs): connecting and probing take time. */
export const START_MS = 10_000;

export interface ProcessSourceOptions {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** No bytes for this long: the source is stalled and restarted (default 10 s). */
  readonly stallMs?: number;
  /** A process that has not written its first byte yet gets this long (at least stallMs; default START_MS, 10 s). */
  readonly startMs?: number;
  readonly backoff?: Backoff;
  /** The clock frames are stamped with; default the system's. */
  readonly clock?: Clock;
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

export abstract class ProcessSource extends BaseSource {
  private child: Child | undefined;
  private reader: PipeReader | undefined;
  /** Settles once the current process is gone and its pipe read to the end (and the state says so). */
  private closed: Promise<void> = Promise.resolve();
  /** The buffer being filled: reads land in it, and it is lent to the consumer when whole (exchange). */
  private frame: Uint8Array;
  private filled = 0;
  private lastBytes = 0;
  private attempt = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private onFrame: ((f: SourceFrame) => void) | undefined;
  private stopping = false;
  /** Paused by the pipeline until it has taken the last frame (paced sources only). */
  private held = false;
  private gotBytes = false;
  /** When the last whole frame arrived (or the source started). */
  private lastFrameAt = 0;
  /** An outage has been reported (state `stalled`) and no frame has come since. */
  private down = false;
  private everStreamed = false;

  /** The program found at construction: a missing one fails there, not in a retry loop. */
  protected readonly program: string;

  /** The arguments that make `program` write raw RGB24 frames of width x height to its stdout. */
  protected abstract args(): string[];
  /** True when a clean exit means the input is finished (a file), not a lost connection. */
  protected abstract endsCleanly(): boolean;

  /** `program` is a name on PATH or a path; `pkg` is the Debian package that installs it. */
  constructor(
    readonly o: ProcessSourceOptions,
    program: string,
    pkg: string,
  ) {
    super(o.name, o.width, o.height, o.clock);
    this.program = requireProgram(program, pkg, `camera ${o.name}`);
    this.frame = new Uint8Array(o.width * o.height * 3);
    this.view.data = this.frame;
    // A consumer that keeps the whole frame takes this buffer and gives one to fill next: no copy.
    this.view.exchange = (spare: Uint8Array): void => {
      if (spare.length !== this.frame.length || this.filled !== 0) throw new RangeError(`a spare of ${spare.length} bytes for a frame of ${this.frame.length}, ${this.filled} filled`);
      this.frame = spare;
      this.view.data = spare;
    };
  }

  start(onFrame: (f: SourceFrame) => void): void {
    this.onFrame = onFrame;
    this.stopping = false;
    this.spawn();
    const stallMs = this.o.stallMs ?? 10_000;
    const startMs = Math.max(stallMs, this.o.startMs ?? START_MS);
    this.lastFrameAt = Date.now();
    this.down = false;
    this.watchdog = setInterval(() => {
      // A camera that refuses connections never stalls a process (each one exits at once, and the
      // source cycles between connecting and backoff): no frame for as long is the same outage.
      const sinceFrame = Date.now() - this.lastFrameAt;
      if (!this.down && !this.held && (this.state === 'backoff' || this.state === 'connecting') && sinceFrame > (this.everStreamed ? stallMs : startMs)) {
        this.down = true;
        this.counters.stalls++;
        this.setState('stalled');
        this.error(`no frame for ${sinceFrame} ms: the camera does not answer (${this.counters.reconnects} reconnects so far)`);
        return;
      }
      if (!this.child || this.state === 'backoff' || this.held) return;
      // Until its first bytes, a process is starting (connecting, probing the stream): it gets startMs.
      // In an outage already reported, a process that hangs as it connects is ended and tried
      // again without reporting the outage once more: one outage, one stall, however many tries.
      const limit = this.gotBytes ? stallMs : startMs;
      if (Date.now() - this.lastBytes > limit) {
        if (!this.down) {
          this.counters.stalls++;
          this.down = true;
          this.setState('stalled');
          this.error(`no data for ${limit} ms`);
        }
        this.child.kill('SIGKILL');
      }
    }, Math.max(50, Math.min(1000, stallMs / 4)));
    this.watchdog.unref();
  }

  private spawn(): void {
    this.setState('connecting');
    this.filled = 0;
    this.gotBytes = false;
    this.lastBytes = Date.now();
    const cmd = basename(this.program);
    const child = spawn(this.program, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    // Reads land in the unfilled rest of the frame: no allocation, no copy, cut at frame boundaries.
    const reader = new PipeReader(child.stdout, { target: () => this.frame.subarray(this.filled), onRead: (n) => this.onRead(n) });
    this.reader = reader;
    if (this.held) reader.pause();
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
      const lines = stderr.split('\n');
      stderr = lines.pop()!;
      for (const l of lines) if (l.trim()) this.error(`${cmd}: ${l.trim()}`);
    });
    child.on('error', (e) => this.error(`cannot run ${cmd}: ${e.message}`));
    // Closed: the process has exited and its stderr closed (child 'close'), and its frames are all read.
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, signal) => resolve([code, signal])));
    this.closed = Promise.all([exited, reader.closed]).then(([[code, signal]]) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.reader = undefined;
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

  /**
   * A paced source stops after each frame until the pipeline has taken it: no read after the one
   * that completed the frame, and the full pipe makes the process wait.
   */
  override pause(): void {
    this.held = true;
    this.reader?.pause();
  }

  override resume(): void {
    if (!this.held) return;
    this.held = false;
    this.lastBytes = Date.now();
    this.reader?.resume();
  }

  /** `n` bytes arrived at `filled`: a whole frame goes to onFrame (which may pause the source). */
  private onRead(n: number): void {
    if (this.stopping) return;
    this.lastBytes = Date.now();
    this.gotBytes = true;
    this.filled += n;
    if (this.filled < this.frame.length) return;
    this.filled = 0;
    this.attempt = 0;
    this.lastFrameAt = this.lastBytes;
    this.down = false;
    this.everStreamed = true;
    this.setState('streaming');
    this.onFrame?.(this.stamp());
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
    this.held = false;
    this.reader?.resume(); // a paused pipe would keep the process from closing
    const closed = this.closed;
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    kill.unref();
    await closed;
    clearTimeout(kill);
  }
}
