/**
 * Delivers alert changes to every sink without ever blocking ingest: push() only queues. Each sink
 * has its own bounded queue and worker; a failed delivery is retried with exponential backoff until
 * it succeeds, while later changes wait behind it in order. A newer state of the same alert replaces
 * a queued older one, so an outage does not replay every intermediate step.
 */
import { backoffDelay, type Backoff } from '../../lib/backoff.js';
import type { Logger } from '../../lib/log.js';
import type { AlertChange } from '../rules/engine.js';
import type { AlertRecord } from '../store/store.js';
import type { Sink } from './sink.js';

export interface SinkStats {
  sent: number;
  failed: number;
  dropped: number;
  queued: number;
}

interface Lane {
  readonly sink: Sink;
  readonly queue: AlertRecord[];
  readonly stats: SinkStats;
  busy: boolean;
  /** A send of queue[0] is in progress. */
  sending: boolean;
  /** abandon() came during that send: if it fails, it is dropped, not retried. */
  abandonedInFlight: boolean;
  timer?: NodeJS.Timeout;
  wake?: () => void;
}

export class Dispatcher {
  private readonly lanes: Lane[];
  private closed = false;

  constructor(
    sinks: readonly Sink[],
    private readonly o: {
      readonly maxQueue: number;
      readonly backoff: Backoff;
      readonly log: Logger;
      /** A sink delivered this state of the alert (on PostgreSQL: recorded, so a new leader sends only what was not). */
      readonly onDelivered?: (sink: string, a: AlertRecord) => void;
    },
  ) {
    this.lanes = sinks.map((sink) => ({ sink, queue: [], stats: { sent: 0, failed: 0, dropped: 0, queued: 0 }, busy: false, sending: false, abandonedInFlight: false }));
  }

  get stats(): Record<string, SinkStats> {
    return Object.fromEntries(this.lanes.map((l) => [l.sink.name, { ...l.stats, queued: l.queue.length }]));
  }

  /** Queues the change for every sink (`only`: those sinks). */
  push(a: AlertRecord, change: AlertChange, only?: ReadonlySet<string>): void {
    if (this.closed) return;
    const snapshot = structuredClone(a);
    for (const lane of this.lanes) {
      if (change === 'resend' && !lane.sink.wantsResend) continue;
      if (only && !only.has(lane.sink.name)) continue;
      // The alert being delivered right now (index 0 while busy) stays; a queued older state is replaced.
      const i = lane.queue.findIndex((x, k) => x.id === a.id && (k > 0 || !lane.busy));
      if (i >= 0) lane.queue[i] = snapshot;
      else {
        lane.queue.push(snapshot);
        if (lane.queue.length > this.o.maxQueue) {
          lane.queue.splice(lane.busy ? 1 : 0, 1);
          lane.stats.dropped++;
        }
      }
      if (!lane.busy) void this.run(lane);
    }
  }

  private async run(lane: Lane): Promise<void> {
    lane.busy = true;
    let attempt = 0;
    while (lane.queue.length && !this.closed) {
      const a = lane.queue[0]!;
      try {
        lane.sending = true;
        await lane.sink.send(a);
        lane.sending = false;
        lane.abandonedInFlight = false;
        lane.stats.sent++;
        this.o.onDelivered?.(lane.sink.name, a);
        attempt = 0;
        lane.queue.shift();
      } catch (e) {
        lane.sending = false;
        lane.stats.failed++;
        if (lane.abandonedInFlight) {
          lane.abandonedInFlight = false;
          lane.queue.shift();
          attempt = 0;
          continue;
        }
        const delay = backoffDelay(this.o.backoff, attempt++);
        if (attempt === 1 || attempt % 10 === 0) this.o.log.warn({ sink: lane.sink.name, alert: a.id, attempt, retryInMs: Math.round(delay), err: (e as Error).message }, 'alert delivery failed; will retry');
        await new Promise<void>((resolve) => {
          lane.wake = resolve;
          lane.timer = setTimeout(resolve, delay);
        });
        lane.wake = undefined;
      }
    }
    lane.busy = false;
  }

  /**
   * Drops every queued change that is not being sent right now, and the retries waiting with them;
   * returns how many. A change being sent right now is not retried if that send fails. For a
   * replica that lost the lead: what it had not delivered is recorded as
   * undelivered, and the new leader sends it; retrying here too would send it twice, or a stale
   * state after the new leader's newer one.
   */
  abandon(): number {
    let n = 0;
    for (const lane of this.lanes) {
      const keep = lane.sending ? 1 : 0;
      lane.abandonedInFlight = lane.sending;
      n += lane.queue.length - keep;
      lane.queue.splice(keep);
      clearTimeout(lane.timer);
      lane.wake?.();
    }
    return n;
  }

  /** Waits up to `ms` for the queues to empty (deliveries in progress), then stops retrying. */
  async close(ms = 2000): Promise<void> {
    const t0 = Date.now();
    while (this.lanes.some((l) => l.queue.length) && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 20));
    this.closed = true;
    for (const l of this.lanes) {
      clearTimeout(l.timer);
      l.wake?.();
    }
  }
}
