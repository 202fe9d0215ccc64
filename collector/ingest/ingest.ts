/**
 * Ingest: every message from the broker passes here once. It is size-checked, routed by topic,
 * parsed, validated against its schema, checked against the topic it came on, and handed to the
 * handler for its kind. Anything malformed is counted by reason, logged (at most a few lines a
 * minute) and dropped; nothing a device sends can stop the collector. A rule that throws on a
 * stored message is contained here: counted, logged with the message's identity, and ingest goes
 * on. Only a store failure propagates, so that the message is not acknowledged and comes again.
 *
 * A handler may answer later (an asynchronous store): handle() then returns a promise, and the
 * counters move when it settles. A synchronous handler's path allocates nothing for that.
 *
 * Decoding (decode.ts: nesting scan, JSON, schema, identity) runs here in handle(), or in the decode
 * worker (offload.ts), which then calls admit() before and decoded() after: the same checks, counters
 * and log lines either way.
 *
 * This is the collector's hottest path (docs/performance.md, "Collector ingest"): topics are parsed
 * once per topic string, and stage timing (startTiming, for the bench) costs one branch per stage
 * when it is off.
 */
import type { Logger } from '../../lib/log.js';
import type { EventMessage, StatusMessage, SummaryMessage } from '../../protocol/messages.js';
import { topicOf, topicParser, type ParsedTopic, type TopicKind } from '../../protocol/topics.js';
import { decode, type Decoded, type DeviceMessage } from './decode.js';

export const REJECT_REASONS = ['oversized', 'topic', 'json', 'schema', 'identity', 'time'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** What a handler did with a message: stored it, found it stored already, or kept it apart. */
export type Handled = 'stored' | 'duplicate' | 'quarantined';

/** What became of a message in handle(). */
export type Outcome = 'accepted' | 'duplicate' | 'quarantined' | 'cleared' | RejectReason;

/**
 * Where ingest's time goes, in milliseconds summed over `messages` (performance.now()): parse (size,
 * topic, nesting, JSON), validate (schema, identity, times), and in the handlers dedupe (seq
 * bookkeeping), store (the row; the batch's COMMIT is the store's, see SqliteStore.batches) and rules.
 */
export interface StageTimes {
  messages: number;
  /** Of them, summaries decoded on the fast path (decode.ts). */
  fast: number;
  parse: number;
  validate: number;
  dedupe: number;
  store: number;
  rules: number;
}

export const STAGES = ['parse', 'validate', 'dedupe', 'store', 'rules'] as const;

export interface Handlers {
  status(m: StatusMessage, now: number): void;
  /** `timeProblem`: the window's times fail the collector's check; it is quarantined with that reason. */
  summary(m: SummaryMessage, now: number, raw: string, timeProblem?: string): Handled | Promise<Handled>;
  event(m: EventMessage, now: number, raw: string): Handled | Promise<Handled>;
  /** Adds the handler's own stages (dedupe, store, rules) to `stages` from now on (Ingest.startTiming). */
  time?(stages: StageTimes): void;
}

/** A rule failed on a message that is already stored: contained by Ingest, never a reason to reconnect. */
export class RuleFailure extends Error {
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.name = 'RuleFailure';
  }
}

/** Runs the rules for a stored message; whatever they throw becomes a RuleFailure. */
export function runRules(f: () => void): void {
  try {
    f();
  } catch (e) {
    throw new RuleFailure(e);
  }
}

export interface IngestCounters {
  received: number;
  accepted: Record<TopicKind, number>;
  duplicates: Record<TopicKind, number>;
  rejected: Record<RejectReason, number>;
  /** Handler failures (the store refused a write); the message is not acknowledged as stored. */
  failed: number;
  /** Rules that threw on a stored message (a bug, or data they did not expect); ingest went on. */
  ruleErrors: number;
  /** Summaries kept apart because their seq jumped too far ahead (docs/mqtt.md). */
  quarantined: number;
}

const LOG_BURST = 10;
export class Ingest {
  readonly counters: IngestCounters = {
    received: 0,
    accepted: { status: 0, summary: 0, event: 0 },
    duplicates: { status: 0, summary: 0, event: 0 },
    rejected: { oversized: 0, topic: 0, json: 0, schema: 0, identity: 0, time: 0 },
    failed: 0,
    ruleErrors: 0,
    quarantined: 0,
  };
  private logMinute = 0;
  private logged = 0;
  private suppressed = 0;
  /** The collector's clock (ms): a message's receive time. */
  readonly now: () => number;
  private readonly topic = topicParser();
  private stages: StageTimes | undefined;

  constructor(
    private readonly handlers: Handlers,
    private readonly o: {
      readonly maxPayloadBytes: number;
      readonly log: Logger;
      readonly now?: () => number;
      /** Message times may be at most this far ahead of the collector's clock (default 300 s). */
      readonly clockSkewMs?: number;
    },
  ) {
    this.now = o.now ?? Date.now;
  }

  get rejectedTotal(): number {
    return Object.values(this.counters.rejected).reduce((a, b) => a + b, 0);
  }

  /**
   * Times each stage of every message from now on (the bench's per-stage table); returns the totals,
   * which keep growing. Timing stays on once started.
   */
  startTiming(): StageTimes {
    if (!this.stages) {
      this.stages = { messages: 0, fast: 0, parse: 0, validate: 0, dedupe: 0, store: 0, rules: 0 };
      this.handlers.time?.(this.stages);
    }
    return this.stages;
  }

  /** Stage timing is on (startTiming): the decode worker times parse and validate too. */
  get timed(): boolean {
    return this.stages !== undefined;
  }

  /** Adds the decode worker's parse and validate time for a burst (ms), and its fast-path count, to the stage timing when it is on. */
  addDecodeTimes(parseMs: number, validateMs: number, fast: number): void {
    if (!this.stages) return;
    this.stages.parse += parseMs;
    this.stages.validate += validateMs;
    this.stages.fast += fast;
  }

  /**
   * Handles one message; returns what happened to it, or a promise of that when its handler answers
   * later. Throws (or rejects) only when the store failed.
   */
  handle(topic: string, payload: Buffer): Outcome | Promise<Outcome> {
    const now = this.now();
    const t = this.admit(topic, payload);
    if (typeof t === 'string') return t;
    return this.decoded(t, now, this.decode(t, payload));
  }

  /** Decodes a message here (decode.ts), timed with the stages when timing is on. */
  decode(t: ParsedTopic, payload: Buffer): Decoded {
    return decode(t, payload, this.stages);
  }

  /**
   * The checks before decoding: size and topic. Counts the message as received; returns its parsed
   * topic, or what became of it (rejected, or an empty status: cleared).
   */
  admit(topic: string, payload: Buffer): ParsedTopic | Outcome {
    this.counters.received++;
    if (payload.length > this.o.maxPayloadBytes) return this.reject('oversized', topic, `${payload.length} bytes, limit ${this.o.maxPayloadBytes}`);
    const t = this.topic(topic);
    if (!t) return this.reject('topic', topic, 'not a driftline/v1 device topic');
    // An empty retained message is how an operator removes a decommissioned device's status.
    if (payload.length === 0 && t.kind === 'status') return 'cleared';
    return t;
  }

  /**
   * A decoded message (decode.ts, here or in the decode worker), received at `now` on topic `t`:
   * rejected, or checked against the clock and handed to its handler.
   */
  decoded(t: ParsedTopic, now: number, d: Decoded): Outcome | Promise<Outcome> {
    if (!d.ok) return this.reject(d.reason, topicOf(t), d.detail);
    const m = d.message;
    const st = this.stages;
    const t0 = st ? performance.now() : 0;
    const late = this.timeProblem(m, now);
    // A summary with bad times is kept apart (quarantined, with the reason), not dropped: it is the
    // device's data, and a clock that was wrong for an hour must not cost an hour of windows.
    if (late && t.kind !== 'summary') return this.reject('time', topicOf(t), late);
    if (st) {
      lap(st, 'validate', t0);
      st.messages++;
    }
    let handled: Handled | Promise<Handled> = 'stored';
    try {
      if (t.kind === 'status') this.handlers.status(m as StatusMessage, now);
      else if (t.kind === 'summary') handled = this.handlers.summary(m as SummaryMessage, now, d.text, late);
      else handled = this.handlers.event(m as EventMessage, now, d.text);
    } catch (e) {
      this.failed(e, t.kind, m);
    }
    if (typeof handled !== 'string') {
      const kind = t.kind;
      return handled.then(
        (h) => this.count(h, kind),
        (e: unknown) => {
          this.failed(e, kind, m);
          return this.count('stored', kind);
        },
      );
    }
    return this.count(handled, t.kind);
  }

  /** A handler threw: a rule's failure is contained (the message is stored); anything else is the store's and propagates. */
  private failed(e: unknown, kind: TopicKind, m: DeviceMessage): void {
    if (!(e instanceof RuleFailure)) {
      this.counters.failed++;
      throw e;
    }
    this.counters.ruleErrors++;
    const id = { kind, device: `${m.site}/${m.device}`, ...('camera' in m ? { camera: m.camera } : {}), ...('seq' in m ? { seq: m.seq } : {}) };
    this.limited(() => this.o.log.error({ ...id, err: e.message.slice(0, 300) }, 'a rule failed on a stored message; ingest goes on'));
  }

  private count(handled: Handled, kind: TopicKind): Outcome {
    if (handled === 'quarantined') {
      this.counters.quarantined++;
      return 'quarantined';
    }
    if (handled === 'duplicate') {
      this.counters.duplicates[kind]++;
      return 'duplicate';
    }
    this.counters.accepted[kind]++;
    return 'accepted';
  }

  /**
   * Times a device claims, against the collector's clock: a window ends after it starts, and nothing
   * is from the future beyond the skew allowed. Old times are fine: an outbox drains its backlog
   * after an outage. (Rules time their holds on the collector's clock, so old times cannot cut one short.)
   */
  private timeProblem(m: DeviceMessage, now: number): string | undefined {
    const skew = this.o.clockSkewMs ?? 300_000;
    if ('start' in m) {
      if (m.end < m.start) return `window ends (${m.end}) before it starts (${m.start})`;
      if (m.end > now + skew) return `window ends ${Math.round((m.end - now) / 1000)} s ahead of the collector's clock (allowed: ${skew / 1000} s)`;
      return undefined;
    }
    return m.ts > now + skew ? `ts is ${Math.round((m.ts - now) / 1000)} s ahead of the collector's clock (allowed: ${skew / 1000} s)` : undefined;
  }

  private reject(reason: RejectReason, topic: string, detail: string): RejectReason {
    this.counters.rejected[reason]++;
    this.limited(() => this.o.log.warn({ reason, topic: topic.slice(0, 200), detail: detail.slice(0, 300) }, 'payload rejected'));
    return reason;
  }

  /** At most LOG_BURST lines a minute: a flood of bad messages must not become a flood of logs. */
  private limited(line: () => void): void {
    const minute = Math.floor(Date.now() / 60_000);
    if (minute !== this.logMinute) {
      if (this.suppressed) this.o.log.warn({ suppressed: this.suppressed }, 'more payloads were rejected or failed than logged');
      this.logMinute = minute;
      this.logged = 0;
      this.suppressed = 0;
    }
    if (this.logged++ < LOG_BURST) line();
    else this.suppressed++;
  }
}

/** Adds the time since `t0` to a stage; returns now, the next stage's start. */
export function lap(st: StageTimes, stage: (typeof STAGES)[number], t0: number): number {
  const t = performance.now();
  st[stage] += t - t0;
  return t;
}
