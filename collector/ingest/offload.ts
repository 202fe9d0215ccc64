/**
 * Ingest with decoding in the decode worker (`ingest.decodeThread`): the subscriber's thread keeps
 * the cheap checks (size, topic), the store, the rules and the PUBACKs; the worker parses and
 * validates. Per summary that moves about half of the receiving thread's CPU to the other core
 * (docs/performance.md, "Collector ingest").
 *
 * It takes the place of the store's batch in the subscriber's group commit (`batch`): receive()
 * queues a message (its PUBACK waits in the corked socket, as always), and commit(), at the burst's
 * end, sends the burst to the worker and, when it answers, applies every message in arrival order
 * inside one store batch and commits it. The PUBACKs leave only after that commit. A worker that
 * died, a store that refused, a commit that failed: the promise rejects, the subscriber drops the
 * connection with the PUBACKs unsent, and the broker delivers the burst again.
 *
 * Bursts overlap: the next one is received, and may be decoded, while one is still in flight. When
 * a burst is refused, every burst received before that was known is refused too, unapplied (the
 * `generation` it was received in is over), and each such refusal ends the generation again: the
 * subscriber drops the connection a refused burst came on, and only that one. Stored after the
 * refusal, its later seqs would turn the redelivered earlier ones into duplicates: a camera's
 * sequence is stored in order or not at all.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from '../../lib/log.js';
import type { ParsedTopic } from '../../protocol/topics.js';
import { BatchReader, type DecodeReply } from './decode-batch.js';
import { DECODE_REASONS, SUMMARY_FIELDS, summaryFromFields, type Decoded, type DeviceMessage } from './decode.js';
import { DecodeThread } from './decode-thread.js';
import type { Ingest } from './ingest.js';

/**
 * The messages of a burst waiting for the worker's reply, as arrays of numbers and shared topics:
 * where each entry starts in the burst's buffer (which comes back with the reply) and when it was
 * received. Not an object per message, nor the payload: the round trip outlives a young-generation
 * collection, and whatever it holds is promoted and collected later at a higher price.
 */
interface Burst {
  /** The generation its first message arrived in (OffloadedIngest.generation). */
  generation: number;
  readonly topics: ParsedTopic[];
  /** Where each entry starts in the buffer; -1: the burst was full, the message is in `kept`. */
  readonly starts: number[];
  readonly nows: number[];
  /** Messages past the burst's byte limit (DecodeThread.add), by index: decoded here, in their turn. */
  kept: Map<number, Buffer> | undefined;
}

const FIELDS = SUMMARY_FIELDS.length;
const newBurst = (): Burst => ({ generation: 0, topics: [], starts: [], nows: [], kept: undefined });

/** A burst received before an earlier one was refused: refused in turn, unapplied; the broker delivers it again after that one. */
export class StaleBurst extends Error {
  override name = 'StaleBurst';
}

export class OffloadedIngest {
  private burst = newBurst();
  /** The last burst sent and not yet settled. */
  private inFlight: Promise<void> | undefined;
  /** Advanced by every refused burst; a burst from an earlier generation is refused unapplied. */
  private generation = 0;

  /**
   * The subscriber's group commit. Nothing to begin: the store's batch opens once a burst is
   * decoded. Two sessions may share this ingest (a replica adopting a dead one's session): a burst
   * whose messages another session's commit already took waits for that commit. (That commit ran
   * in the same turn of the event loop, at its end, and is still in flight then: a burst settles
   * only on the worker's reply, a later turn. So the last burst sent is that one or a later one,
   * and bursts settle in order.)
   */
  readonly batch = { begin: (): void => undefined, commit: (): Promise<void> | undefined => this.commit() };

  constructor(
    private readonly ingest: Ingest,
    private readonly thread: DecodeThread,
    /** The store's group commit: begun and committed around each burst's messages, once decoded. */
    private readonly store: { begin(): void; commit(): void | Promise<void> },
  ) {}

  /** A message from the broker: checked for size and topic, then queued for the worker. */
  receive(topic: string, payload: Buffer): void {
    const now = this.ingest.now();
    const t = this.ingest.admit(topic, payload);
    if (typeof t === 'string') return;
    const b = this.burst;
    if (b.starts.length === 0) b.generation = this.generation;
    const start = this.thread.add(t.kind, topic, payload);
    if (start < 0) (b.kept ??= new Map()).set(b.starts.length, payload);
    b.starts.push(start);
    b.topics.push(t);
    b.nows.push(now);
  }

  /** The burst's end: decoded in the worker, then applied and committed; settles when its PUBACKs may leave. */
  commit(): Promise<void> | undefined {
    if (this.burst.starts.length === 0) return this.inFlight;
    const burst = this.burst;
    this.burst = newBurst();
    const p = this.thread.decode(this.ingest.timed).then(
      (r) => {
        if (burst.generation !== this.generation) {
          // Its refusal ends the generation too: a burst received on a live connection after the
          // first refusal (the broker had dropped the refused burst's connection and the client had
          // reconnected) may hold later seqs of what this one brings again.
          this.generation++;
          throw new StaleBurst('refused: received before an earlier burst was refused (the broker delivers both again, in order)');
        }
        return this.apply(burst, r);
      },
      (e: unknown) => {
        this.refused(burst);
        throw e;
      },
    );
    this.inFlight = p;
    const settled = (): void => {
      if (this.inFlight === p) this.inFlight = undefined;
    };
    p.then(settled, settled);
    return p;
  }

  /** A burst of this generation was refused: the ones received before that are refused in turn. */
  private refused(burst: Burst): void {
    if (burst.generation === this.generation) this.generation++;
  }

  private apply(burst: Burst, r: DecodeReply): Promise<void> | undefined {
    try {
      const later = this.applyBatch(burst, r);
      return later?.then(undefined, (e: unknown) => {
        this.refused(burst);
        throw e;
      });
    } catch (e) {
      this.refused(burst); // at once: the next burst's reply may already be waiting
      throw e;
    }
  }

  /** Applies a decoded burst in one store batch; a promise when the store answers later. */
  private applyBatch(burst: Burst, r: DecodeReply): Promise<void> | undefined {
    this.ingest.addDecodeTimes(r.parseMs, r.validateMs, r.fast);
    const details: string[] = [];
    for (const [i, d] of r.details) details[i] = d;
    const messages: DeviceMessage[] = [];
    for (const [i, m] of r.messages) messages[i] = m;
    const entries = new BatchReader(r.buffer);
    let later: Promise<unknown>[] | undefined;
    let failure: unknown;
    this.store.begin();
    try {
      // i: the message in the burst; w: its entry in the worker's reply (messages it did not get are skipped).
      for (let i = 0, w = 0; i < burst.starts.length; i++) {
        const t = burst.topics[i]!;
        const start = burst.starts[i]!;
        let d: Decoded;
        if (start < 0) d = this.ingest.decode(t, burst.kept!.get(i)!);
        else {
          const code = r.codes[w]!;
          if (code !== 0) d = { ok: false, reason: DECODE_REASONS[code - 1]!, detail: details[w]! };
          else {
            const text = entries.payload(start);
            d = { ok: true, message: t.kind === 'summary' ? summaryFromFields(t, r.fields, w * FIELDS, text) : messages[w]!, text };
          }
          w++;
        }
        const out = this.ingest.decoded(t, burst.nows[i]!, d);
        if (typeof out !== 'string') (later ??= []).push(out);
      }
    } catch (e) {
      // The store refused a message: the burst is refused (redelivered); what it stored before commits.
      failure = e;
    }
    const committed = this.store.commit();
    if (failure !== undefined) {
      // Refused as a whole; what the store still answers later must not surface as unhandled.
      if (committed !== undefined) committed.then(undefined, () => undefined);
      for (const x of later ?? []) x.then(undefined, () => undefined);
      throw failure;
    }
    if (committed !== undefined) (later ??= []).push(committed);
    return later ? Promise.all(later).then(() => undefined) : undefined;
  }
}

export type DecodeSetting = 'auto' | 'worker' | 'main';

type StoreBatch = { begin(): void; commit(): void | Promise<void> };

/** How a collector's subscriber hands messages to ingest: its onMessage and group commit. */
export interface IngestPath {
  /** Where device messages are decoded. */
  readonly decodeThread: 'worker' | 'main';
  readonly onMessage: (topic: string, payload: Buffer) => unknown;
  readonly batch: StoreBatch;
  /** Stops the decode worker, if there is one: after the last session that ingests has stopped. */
  close(): Promise<void>;
}

/**
 * Decided once at start-up: ingest through the decode worker when `setting` asks for it (auto: when
 * the machine has more than one core) and the worker starts, else inline (Ingest.handle, the store's
 * own batch). A worker that cannot start is logged and ingest decodes inline: slower, never stopped.
 */
export async function ingestPath(setting: DecodeSetting, ingest: Ingest, store: StoreBatch, log: Logger): Promise<IngestPath> {
  const inline: IngestPath = { decodeThread: 'main', onMessage: (topic, payload) => ingest.handle(topic, payload), batch: store, close: () => Promise.resolve() };
  if (setting === 'main' || (setting === 'auto' && availableParallelism() < 2)) return inline;
  try {
    const thread = await DecodeThread.start(log);
    const offload = new OffloadedIngest(ingest, thread, store);
    return { decodeThread: 'worker', onMessage: (topic, payload) => offload.receive(topic, payload), batch: offload.batch, close: () => thread.close() };
  } catch (e) {
    log[setting === 'worker' ? 'error' : 'warn']({ err: (e as Error).message }, 'ingest.decodeThread: the decode worker could not start; decoding on the main thread');
    return inline;
  }
}
