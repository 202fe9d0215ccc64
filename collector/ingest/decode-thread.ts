/**
 * The receiving thread's side of the decode worker (decode-worker.ts): collects a burst's messages
 * into one buffer, sends it, and turns the reply into a promise. Bursts are answered in the order
 * they were sent (one worker, one queue), so messages are applied in the order they arrived.
 *
 * A worker that dies (or exits, or does not answer a burst within 30 s) refuses every burst it
 * held: the caller drops the broker connection unacknowledged, as for a failed commit, and refuses
 * the bursts received before it knew (offload.ts), so the broker delivers all of them again, in
 * order. The next burst starts a new worker. A worker that cannot start at all is found at
 * start-up (start()), where the collector falls back to decoding inline.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../lib/log.js';
import type { TopicKind } from '../../protocol/topics.js';
import { BatchWriter, SPARE_MAX_BYTES, type DecodeReply, type DecodeRequest } from './decode-batch.js';

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './decode-worker-tsx.mjs' : './decode-worker.js', import.meta.url);
/** A burst's buffer to begin with; it grows as a burst needs (a few hundred 4 KB summaries: about 2 MB). */
const INITIAL_BYTES = 1 << 20;
/** The most a burst sends to the worker; the rest of a larger burst is decoded on the receiving thread. */
export const MAX_BURST_BYTES = 32 << 20;
/** Buffers kept for the next bursts: as many as may be in flight at once in practice. */
const MAX_SPARE = 4;
/** Longest wait for a new worker to load (tsx compiles the protocol's schemas on the way). */
const START_TIMEOUT_MS = 30_000;
/**
 * Longest wait for a burst's answer (a few hundred summaries take a few ms). Past it the worker is
 * taken for hung: ended, its bursts refused (redelivered), and the next burst starts a new one.
 */
const BURST_TIMEOUT_MS = 30_000;

export class DecodeWorkerError extends Error {
  override name = 'DecodeWorkerError';
}

export class DecodeThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (r: DecodeReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly writer: BatchWriter;
  /** Takes the current worker for hung: ends it and refuses what it held (set by spawn). */
  private hung: () => void = () => undefined;
  /** Buffers the worker gave back, for the next bursts. */
  private readonly spare: ArrayBuffer[] = [];
  private nextId = 0;
  private closed = false;
  /** Workers started after the first (each after one died). */
  restarts = 0;
  /** The worker terminateForTest() ended: its answers are not read. */
  private crashed: Worker | undefined;

  private constructor(
    private readonly log: Logger,
    maxBurstBytes: number,
    private readonly burstTimeoutMs: number,
  ) {
    this.writer = new BatchWriter(Math.min(INITIAL_BYTES, maxBurstBytes), maxBurstBytes);
  }

  /** Starts the worker and waits until it has loaded; rejects when it cannot. */
  static async start(log: Logger, o: { maxBurstBytes?: number; burstTimeoutMs?: number } = {}): Promise<DecodeThread> {
    const t = new DecodeThread(log, o.maxBurstBytes ?? MAX_BURST_BYTES, o.burstTimeoutMs ?? BURST_TIMEOUT_MS);
    const w = t.spawn(false); // a worker that cannot start is start()'s to report
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new DecodeWorkerError(`the decode worker did not load within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        w.off('message', ready);
        void w.terminate();
        reject(e);
      };
      const ready = (m: unknown): void => {
        if (m !== 'ready') return;
        clearTimeout(timer);
        w.off('message', ready);
        resolve();
      };
      w.on('message', ready);
      w.once('error', (e) => fail(new DecodeWorkerError(`the decode worker could not start: ${e.message}`)));
      w.once('exit', (code) => fail(new DecodeWorkerError(`the decode worker exited with code ${code} while starting`)));
    });
    return t;
  }

  private spawn(logDeath = true): Worker {
    const w = new Worker(WORKER_URL);
    this.worker = w;
    let ready = false;
    w.on('message', (r: DecodeReply | 'ready') => {
      if (w === this.crashed) return;
      if (r === 'ready') {
        ready = true;
        return;
      }
      const p = this.pending.get(r.id);
      if (!p) return;
      clearTimeout(p.timer);
      this.pending.delete(r.id);
      if (this.pending.size === 0) w.unref();
      if (this.spare.length < MAX_SPARE && r.buffer.byteLength <= SPARE_MAX_BYTES) this.spare.push(r.buffer);
      if (r.error !== undefined) p.reject(new DecodeWorkerError(`the decode worker could not read a burst: ${r.error}`));
      else p.resolve(r);
    });
    const dead = (why: string): void => {
      if (this.worker !== w) return;
      void w.terminate(); // a hung one, or one that failed: it never answers again
      this.worker = undefined;
      const lost = this.refusePending(why);
      if (!this.closed && (logDeath || ready)) this.log.error({ err: why, bursts: lost }, 'the decode worker stopped; its bursts go unacknowledged (the broker delivers them again) and the next burst starts a new one');
    };
    w.on('error', (e) => dead(`the decode worker failed: ${e.message}`));
    w.on('exit', (code) => dead(`the decode worker exited with code ${code}`));
    this.hung = () => dead(`the decode worker did not answer a burst within ${this.burstTimeoutMs / 1000} s`);
    w.unref();
    return w;
  }

  /**
   * Adds a message to the current burst; returns where its entry lies in the buffer its reply gives
   * back, or -1 when the burst has no room left for it (MAX_BURST_BYTES): the caller decodes it.
   */
  add(kind: TopicKind, topic: string, payload: Uint8Array): number {
    return this.writer.add(kind, topic, payload);
  }

  /** Messages added since the last decode(). */
  get queued(): number {
    return this.writer.count;
  }

  /** Sends the current burst to the worker; resolves with its reply, rejects when the worker could not answer. */
  decode(time = false): Promise<DecodeReply> {
    // The burst is taken first, whatever happens next: refused, its entries must not stay in the
    // buffer and be read as the next burst's.
    const { buffer, length, count } = this.writer.take(this.spare.pop());
    if (this.closed) return Promise.reject(new DecodeWorkerError('the decode worker is closed'));
    let w = this.worker;
    if (!w) {
      this.restarts++;
      try {
        w = this.spawn();
      } catch (e) {
        return Promise.reject(new DecodeWorkerError(`the decode worker could not start again: ${(e as Error).message}`));
      }
    }
    const id = this.nextId++;
    if (this.pending.size === 0) w.ref(); // a busy worker keeps the process alive until it answers
    return new Promise((resolve, reject) => {
      // Past the limit the burst is refused at once, not when the worker's exit comes (an answer that
      // arrives meanwhile is ignored). But an answer already waiting is read first: a JavaScript
      // thread blocked past the limit runs expired timers before it reads the worker's messages,
      // and a healthy worker must not be taken for hung for that.
      const timer = setTimeout(() => setImmediate(() => this.pending.has(id) && this.hung()), this.burstTimeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      const request: DecodeRequest = { id, buffer, length, count, time };
      w.postMessage(request, [buffer]);
    });
  }

  /** Refuses every burst waiting for an answer; returns how many there were. */
  private refusePending(why: string): number {
    const n = this.pending.size;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new DecodeWorkerError(why));
    }
    this.pending.clear();
    return n;
  }

  /** Stops the worker; bursts still pending are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    if (!w) return;
    this.refusePending('the decode worker was closed');
    this.worker = undefined;
    await w.terminate();
  }

  /**
   * Ends the worker as a crash would, before it answers what it holds (tests: what a dead worker
   * costs). An answer it had already posted is dropped, as a crash a moment earlier would have had
   * it; without that, a quick worker sometimes answered first and the test saw no crash at all.
   */
  terminateForTest(): Promise<number> {
    const w = this.worker;
    if (!w) return Promise.resolve(0);
    this.crashed = w;
    w.ref(); // until its exit is seen: terminate() settles on it, and an unanswered burst rejects on it
    return w.terminate();
  }
}
