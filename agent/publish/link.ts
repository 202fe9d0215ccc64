/**
 * What the agent sends upstream, in one place: closed windows as summaries and camera or runtime
 * events, each stored in the outbox with its seq, then handed to the publisher. A write the database
 * refuses (disk full) is counted and logged; the agent keeps running and the window stays in the
 * local store.
 */
import type { IClientOptions } from 'mqtt';
import type { Backoff } from '../../lib/backoff.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/log.js';
import { eventTopic, statusTopic, summaryTopic } from '../../protocol/topics.js';
import type { EventKind } from '../../protocol/messages.js';
import type { Db } from '../store/database.js';
import { birth, event, offline, stopReason, summary, type Identity, type WindowReport } from './messages.js';
import { Outbox } from './outbox.js';
import { Publisher } from './publisher.js';

export interface LinkOptions {
  readonly url: string;
  readonly client: IClientOptions;
  readonly drainPerSecond: number;
  readonly maxInflight: number;
  readonly outboxMaxRows: number;
  readonly backoff: Backoff;
  /** The wall clock for event and status times (default the system's). */
  readonly clock?: Clock;
  /** A write to the outbox failed: returns true when space was made and the write is worth one retry. */
  readonly onWriteFailed?: (e: unknown) => boolean;
}

export class DeviceLink {
  readonly outbox: Outbox;
  readonly publisher: Publisher;
  /** Messages the outbox refused (database write failed). */
  lost = 0;
  private readonly clock: Clock;

  constructor(
    db: Db,
    readonly identity: Identity,
    private readonly o: LinkOptions,
    private readonly log: Logger,
  ) {
    this.clock = o.clock ?? systemClock;
    this.outbox = new Outbox(db, o.outboxMaxRows);
    // Every status names the outbox's epoch, which its seqs (and the status seq) count in.
    const announced = { ...identity, epoch: this.outbox.epoch };
    this.publisher = new Publisher(this.outbox, {
      url: o.url,
      client: o.client,
      statusTopic: statusTopic(identity.site, identity.device),
      birth: (seq) => JSON.stringify(birth(announced, this.clock.now(), seq)),
      will: (seq) => JSON.stringify(offline(announced, this.clock.now(), undefined, seq)),
      offline: (seq) => JSON.stringify(offline(announced, this.clock.now(), stopReason(), seq)),
      drainPerSecond: o.drainPerSecond,
      maxInflight: o.maxInflight,
      backoff: o.backoff,
      log,
      device: `${identity.site}/${identity.device}`,
      ...(o.onWriteFailed ? { onWriteFailed: o.onWriteFailed } : {}),
    });
  }

  start(): void {
    this.publisher.start();
  }

  /** Queues one window's summary; returns its seq, or 0 when it could not be stored. */
  summary(r: WindowReport): number {
    const { site, device } = this.identity;
    return this.enqueue(`${r.camera}/summary`, (seq) => ({ topic: summaryTopic(site, device, r.camera), payload: JSON.stringify(summary(this.identity, r, seq)) }));
  }

  event(camera: string, kind: EventKind, message: string, detail?: Record<string, unknown>): number {
    const { site, device } = this.identity;
    return this.enqueue(`${camera}/event`, (seq) => ({ topic: eventTopic(site, device, camera), payload: JSON.stringify(event(this.identity, camera, seq, kind, message, detail, this.clock.now())) }));
  }

  private enqueue(stream: string, build: (seq: number) => { topic: string; payload: string }): number {
    const before = this.outbox.dropped;
    let seq = 0;
    try {
      seq = this.outbox.enqueue(stream, build);
    } catch (first) {
      let e = first;
      // Disk full: the store sheds telemetry (never the outbox) and the write is tried once more.
      if (this.o.onWriteFailed?.(e)) {
        try {
          seq = this.outbox.enqueue(stream, build);
        } catch (again) {
          e = again;
        }
      }
      if (seq === 0) {
        this.lost++;
        this.log.error({ err: (e as Error).message, stream }, 'outbox write failed: message not stored');
        return 0;
      }
    }
    if (this.outbox.dropped > before) this.log.warn({ dropped: this.outbox.dropped - before, maxRows: this.outbox.maxRows }, 'outbox full: oldest messages dropped');
    this.publisher.notify();
    return seq;
  }

  stop(): Promise<void> {
    return this.publisher.stop();
  }
}
