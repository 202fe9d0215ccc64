/**
 * The agent's MQTT link. It keeps one connection to the broker (reconnecting with exponential
 * backoff and jitter), announces the device with a retained birth message on every connect, leaves
 * `offline` as its Last Will, and drains the outbox in order: at most `maxInflight` messages
 * awaiting PUBACK and at most `drainPerSecond` per second, so a backlog after an outage reaches the
 * broker steadily instead of all at once. Live messages queue behind the backlog.
 *
 * Each connection is a fresh mqtt.js client with automatic reconnect off: after a cut, nothing the
 * old client still held is re-sent behind our back; the outbox is sent again from its oldest
 * unacknowledged row instead. The collector dedupes on seq, so a message whose PUBACK was lost in
 * the cut arrives twice at worst and is stored once.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { backoffDelay, type Backoff } from '../../lib/backoff.js';
import type { Logger } from '../../lib/log.js';
import { driftlineError } from '../../lib/errors.js';
import type { Outbox, OutboxRow } from './outbox.js';
import { TakeoverDetector } from './takeover.js';

export interface PublisherOptions {
  readonly url: string;
  readonly client: IClientOptions;
  /**
   * Retained status topic: birth on connect, `will` as the Last Will, `offline` on a clean stop.
   * Each is given its connection's status seq (Outbox.nextStatusSeq; undefined if none could be
   * stored), the same for all three of one connection.
   */
  readonly statusTopic: string;
  readonly birth: (seq: number | undefined) => string;
  readonly will: (seq: number | undefined) => string;
  readonly offline: (seq: number | undefined) => string;
  readonly drainPerSecond: number;
  readonly maxInflight: number;
  readonly backoff: Backoff;
  readonly log: Logger;
  /** Names this device in the duplicate-identity error. */
  readonly device: string;
  /** A session that lived this long is healthy: the reconnect backoff starts again from its minimum (default 10 s). */
  readonly stableMs?: number;
  /** A delete of an acknowledged row failed: returns true when space was made and it is worth one retry (the storage watch). */
  readonly onWriteFailed?: (e: unknown) => boolean;
}

export interface PublisherCounters {
  connects: number;
  disconnects: number;
  published: number;
  acked: number;
  failed: number;
}

export class Publisher {
  private client: MqttClient | undefined;
  private generation = 0;
  private attempt = 0;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pumpTimer: NodeJS.Timeout | undefined;
  private live = false;
  /** Highest outbox id sent (or passed over, kept); a new connection resumes after the last one acknowledged. */
  private sentId = 0;
  /** Ids sent and not acknowledged: where the next connection resumes. */
  private readonly unanswered = new Set<number>();
  /** The last read of the outbox failed (logged once until one succeeds). */
  private readFailing = false;
  /** Most rows kept at once since deletes were last refused; 0: none kept. */
  private keptPeak = 0;
  /** deleteKept() is at work: a batch per turn of the event loop. */
  private deletingKept = false;
  private inflight = 0;
  private tokens: number;
  private lastRefill = performance.now();
  private connectedAt = 0;
  /** The current connection's status seq (its Will's, its birth's, and its clean stop's). */
  private statusSeq: number | undefined;
  readonly takeover = new TakeoverDetector();
  readonly counters: PublisherCounters = { connects: 0, disconnects: 0, published: 0, acked: 0, failed: 0 };

  constructor(
    private readonly outbox: Outbox,
    private readonly o: PublisherOptions,
  ) {
    this.tokens = o.maxInflight;
  }

  /** True while connected and announced. */
  get connected(): boolean {
    return this.live;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  /** Something was added to the outbox. */
  notify(): void {
    if (this.live) this.pump();
  }

  private open(): void {
    const gen = ++this.generation;
    const statusSeq = this.outbox.nextStatusSeq();
    this.statusSeq = statusSeq;
    const client = connect(this.o.url, {
      ...this.o.client,
      will: { topic: this.o.statusTopic, payload: Buffer.from(this.o.will(statusSeq)), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      if (gen !== this.generation) return;
      this.connectedAt = Date.now();
      this.counters.connects++;
      client.publish(this.o.statusTopic, this.o.birth(statusSeq), { qos: 1, retain: true }, (err) => {
        if (gen !== this.generation || err) return;
        this.live = true;
        // Resume after what the broker acknowledged: PUBACKs come in the order the messages were
        // sent (MQTT 4.6), so what the last connection left unanswered is all after the first of
        // its unanswered ones. Rows kept on a full disk (acknowledged) are not sent again.
        if (this.unanswered.size > 0) this.sentId = Math.min(...this.unanswered) - 1;
        this.unanswered.clear();
        this.inflight = 0;
        this.o.log.info({ backlog: this.outbox.size }, 'connected to the broker');
        this.pump();
      });
    });
    client.on('error', (e) => {
      if (gen === this.generation) this.o.log.warn({ err: e.message }, 'broker connection error');
    });
    client.on('close', () => {
      if (gen !== this.generation) return;
      if (this.live) {
        this.counters.disconnects++;
        this.o.log.warn({ backlog: this.outbox.size }, 'disconnected from the broker; summaries wait in the outbox');
      }
      this.live = false;
      this.generation++; // late callbacks of this client are ignored from now on
      client.end(true);
      this.client = undefined;
      if (this.stopped) return;
      if (this.connectedAt > 0) {
        const lived = Date.now() - this.connectedAt;
        this.connectedAt = 0;
        // Only a session that lasted resets the backoff: sessions cut at once (a takeover) grow it.
        if (lived >= (this.o.stableMs ?? 10_000) && !this.takeover.suspected) this.attempt = 0;
        if (this.takeover.sessionEnded(lived)) {
          const e = driftlineError('DRIFTLINE_ERR_DUPLICATE_DEVICE', { device: this.o.device, clientId: this.o.client.clientId ?? '' });
          this.o.log.error({ code: e.code, device: this.o.device, clientId: this.o.client.clientId }, e.message);
        }
      }
      const delay = backoffDelay(this.o.backoff, this.attempt++);
      this.reconnectTimer = setTimeout(() => this.open(), delay);
    });
  }

  /**
   * Deletes an acknowledged row. This runs inside mqtt.js's callback, where a throw would end the
   * process. A delete the database refuses (disk full) is reported to the storage watch, which sheds
   * telemetry; the outbox keeps the row (outbox.ts) and it is deleted once deletes work again: at
   * once when the watch made room, else with a later acknowledgement. Logged once when rows start to
   * be kept, and once when they are all gone.
   */
  private acked(id: number): void {
    try {
      this.outbox.ack(id);
    } catch (e) {
      if (this.keptPeak === 0) {
        this.o.log.warn({ err: (e as Error).message }, 'outbox: an acknowledged message could not be deleted; it is deleted once the disk takes writes again, or sent again after a restart (the collector drops the repeat)');
      }
      this.keptPeak = Math.max(this.keptPeak, this.outbox.undeleted);
      let room = false;
      try {
        room = this.o.onWriteFailed?.(e) ?? false;
      } catch {
        // The watch's own failure: the rows stay kept for a later acknowledgement.
      }
      if (room) this.deleteKept();
      return;
    }
    if (this.keptPeak > 0) this.deleteKept();
  }

  /**
   * Deletes the kept rows, a batch (one transaction) per turn of the event loop, so that a backlog
   * kept through a long full disk does not hold the loop. A batch refused again leaves the rest for
   * a later acknowledgement.
   */
  private deleteKept(): void {
    if (this.deletingKept) return;
    this.deletingKept = true;
    const step = (): void => {
      let left: number;
      try {
        left = this.outbox.retryAcks();
      } catch {
        this.deletingKept = false;
        return;
      }
      if (left > 0) {
        if (this.stopped) this.deletingKept = false;
        else setImmediate(step);
        return;
      }
      this.deletingKept = false;
      this.o.log.info({ kept: this.keptPeak }, 'outbox: acknowledged messages are deleted again');
      this.keptPeak = 0;
    };
    step();
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.o.maxInflight, this.tokens + ((now - this.lastRefill) / 1000) * this.o.drainPerSecond);
    this.lastRefill = now;
  }

  /** Sends what the window and the rate allow, in outbox order. */
  private pump(): void {
    if (!this.live || !this.client) return;
    this.refill();
    const room = Math.min(this.o.maxInflight - this.inflight, Math.floor(this.tokens));
    if (room > 0) {
      const gen = this.generation;
      const client = this.client;
      let rows: OutboxRow[];
      try {
        const page = this.outbox.next(this.sentId, room);
        this.sentId = page.through;
        rows = page.rows;
        this.readFailing = false;
      } catch (e) {
        // Called from an acknowledgement's callback too, where a throw would end the process.
        if (!this.readFailing) this.o.log.error({ err: (e as Error).message }, 'outbox: could not read the next messages to send; trying again every second');
        this.readFailing = true;
        rows = [];
        this.pumpIn(1000);
      }
      for (const row of rows) {
        this.inflight++;
        this.tokens--;
        this.counters.published++;
        this.unanswered.add(row.id);
        client.publish(row.topic, row.payload, { qos: 1 }, (err) => {
          if (err) {
            if (gen === this.generation) this.counters.failed++;
            return;
          }
          this.unanswered.delete(row.id);
          this.acked(row.id);
          this.counters.acked++;
          if (gen !== this.generation) return;
          this.inflight--;
          this.pump();
        });
      }
    }
    // Out of tokens with rows waiting: come back when one has accrued.
    if (this.inflight < this.o.maxInflight && this.tokens < 1 && this.outbox.size > this.inflight) this.pumpIn(Math.ceil(1000 / this.o.drainPerSecond));
  }

  /** Pumps again in `ms`, unless a pump is already due. */
  private pumpIn(ms: number): void {
    if (this.pumpTimer) return;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      this.pump();
    }, ms);
  }

  /**
   * Stops: sends what the outbox holds now (a clean stop has just queued its cameras' last windows)
   * up to the in-flight window, waits up to `graceMs` for what is in flight, publishes `offline`
   * (retained) so the collector knows this was a clean stop, and disconnects. Unsent rows stay in
   * the outbox. The drain rate does not hold the stop's rows back: it paces a backlog after an
   * outage, and a stop that waited for its tokens would leave its last windows for the next start.
   */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    const client = this.client;
    if (!client) {
      this.leftOver();
      return;
    }
    if (this.live) {
      this.tokens = this.o.maxInflight;
      this.pump();
    }
    const t0 = Date.now();
    while (this.live && this.inflight > 0 && Date.now() - t0 < graceMs) await new Promise((r) => setTimeout(r, 20));
    clearTimeout(this.pumpTimer); // an acknowledgement's pump may have set it while we waited
    this.pumpTimer = undefined;
    if (this.live) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        client.publish(this.o.statusTopic, this.o.offline(this.statusSeq), { qos: 1, retain: true }, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.live = false;
    this.generation++;
    // A broker that does not answer must not hold up the agent's stop, nor keep its socket open
    // after it: end(false) waits for every acknowledgement, and mqtt.js ignores a second end() that
    // would force it. The socket is closed under it instead.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.stream?.destroy();
        client.end(true, {}, () => resolve());
      }, graceMs);
      client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.leftOver();
  }

  /** Says at the stop what stays in the outbox: it is sent after the next start, not lost. */
  private leftOver(): void {
    const left = this.outbox.size;
    if (left > 0) this.o.log.info({ backlog: left }, 'stopped with summaries in the outbox; they are sent after the next start');
  }
}
