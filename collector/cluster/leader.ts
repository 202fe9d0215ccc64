/**
 * What the leading replica does (docs/scale.md): it runs the rules over every message any replica
 * stored, and it alone notifies.
 *
 * When leadership begins it rebuilds what the rules keep in memory from the database: the devices
 * and the active alerts (an alert's id and startsAt survive: the rules update it, never raise it
 * anew), the drift runs of the last `replayMs` of windows (replayed without acting), and what a
 * notifier had not delivered when the previous leader died (sent now). Then it reads the feed of
 * stored messages from the point the replay ended, every `pollMs`, and runs the timer rules every
 * `evalMs`.
 *
 * Where the replay ends and the feed begins is where the previous leaders' rules had read to, as
 * the leader records it after each read (PostgresStore.feedPosition): what was stored between the
 * dead leader's last read and this start (a Last Will, say, from a device that failed with it) is
 * acted on, not replayed. What the dead leader read after its last record is acted on twice, which
 * the rules take as an update of the same alert. With no record, or one older than `replayMs` (no
 * replica led for that long), the feed begins at the current horizon, as on a first start.
 *
 * The timer rules (silence, stalled cameras) judge at the time the feed is known complete up to,
 * not the clock's: the feed stops at the oldest transaction still open on the server (an operator's
 * session left in a transaction, a replica frozen half-way through a burst), and judged by the
 * clock, every device would look silent until it moves again. `feedLagMs` says how far behind it
 * is (a metric, and a warning in the log past FEED_LAG_WARN_MS). It also takes over the broker session of a replica that died, so that what the broker
 * had given that replica and not yet seen acknowledged is stored after all.
 *
 * Each leadership is a term: start() opens one, stop() ends it at once. Everything a term does (its
 * rebuild, its feed reads, its notifications, its takeovers) checks that it is still the current term
 * after every wait, so a term that ended acts no more: not while its rebuild was still running (the
 * lock's connection dropped, or the replica stopped), and not beside a later term of the same replica.
 * Otherwise a replica that no longer led would go on acting as a leader beside the real one, a
 * stopping replica's timers would keep its process from exiting, and the end of an old term could
 * clear the rules of the next.
 */
import type { Logger } from '../../lib/log.js';
import type { Dispatcher } from '../notify/dispatcher.js';
import { RuleEngine, type AlertChange, type RuleSettings } from '../rules/engine.js';
import type { FeedCursor, FeedRow, PostgresStore } from '../store/postgres-store.js';
import type { AlertRecord } from '../store/store.js';
import { LeaderView } from './leader-view.js';
import type { DeadReplica } from './leadership.js';

/** Rows read per table per poll. */
const FEED_PAGE = 5000;
/** Undelivered resolved alerts older than this are not sent again by a new leader. */
const REDELIVER_MS = 86_400_000;
/** A feed this far behind the clock is logged (once, until it catches up). */
const FEED_LAG_WARN_MS = 30_000;
/** How long a replica that stops on purpose lets its rules' alert writes commit before handing the lead on. */
const DRAIN_MS = 5000;
/** Snapshots kept while the feed is behind (the oldest is kept when thinning): one per poll. */
const MAX_SAMPLES = 1000;

export interface LeaderOptions {
  readonly store: PostgresStore;
  readonly settings: RuleSettings;
  readonly dispatcher: Dispatcher;
  readonly sinks: readonly string[];
  readonly log: Logger;
  readonly pollMs: number;
  readonly evalMs: number;
  /** How far back the drift runs are rebuilt (at least the drift hold and clear times). */
  readonly replayMs: number;
  /** Every alert change, after its write committed (the log, the demo's listener). */
  readonly onAlert: (a: AlertRecord, change: AlertChange) => void;
  /** Replicas that died: take over their broker sessions (the caller's MQTT side). */
  readonly deadReplicas: () => Promise<DeadReplica[]>;
  readonly adopt: (clientId: string) => Promise<number>;
  /** Rules that threw on a stored message (counted with ingest's). */
  readonly ruleError: (e: unknown, row: FeedRow) => void;
  /** A write was fenced: another replica began a later term, so this one must give the lead up (Leadership.resign). */
  readonly onFenced: () => void;
}

/** One leadership, from start() to stop(): its rules, its view, its timers and its work in progress. */
interface Term {
  rules?: RuleEngine;
  view?: LeaderView;
  readonly timers: NodeJS.Timeout[];
  reading: boolean;
  adopting: boolean;
  /** The takeover of dead replicas' broker sessions in progress: stop() lets it finish storing. */
  adoption: Promise<void>;
  /** The feed holds every row committed before this time (ms): what the timer rules judge at. */
  completeAt: number;
  /** Snapshots taken by the reads, oldest first: when, and the first transaction id not yet given out. */
  readonly samples: { at: number; next: bigint }[];
  lagWarned: boolean;
}

export class ClusterLeader {
  /** The current term; undefined while standing by. */
  private term: Term | undefined;
  /** The view of a term that ended with stop({ drain }), while its writes get their time. */
  private draining: LeaderView | undefined;
  /** Messages the feed has handed to the rules since leadership began. */
  fed = 0;

  constructor(private readonly o: LeaderOptions) {}

  /** The active alerts (none while standing by). */
  get firing(): AlertRecord[] {
    return this.term?.rules?.firing ?? [];
  }

  /**
   * Rebuilds the rules' memory and starts reading the feed, as leadership term `fence` (the fencing
   * token of its writes, taken on the lock's connection: Leadership, beginTerm).
   */
  async start(fence: number): Promise<void> {
    const { store, log } = this.o;
    const t0 = Date.now();
    const term: Term = { timers: [], reading: false, adopting: false, adoption: Promise.resolve(), completeAt: t0, samples: [], lagWarned: false };
    this.term = term;
    const ended = (): boolean => this.term !== term;
    const horizon = await store.horizon();
    const saved = await store.feedPosition();
    if (ended()) return;
    const resume = saved && t0 - saved.at <= this.o.replayMs ? saved.cursor : undefined;
    if (saved && !resume) log.warn({ recordedAt: new Date(saved.at).toISOString() }, 'the rules last read stored messages longer ago than the replay window: what was stored since then is replayed, not acted on');
    const view = await LeaderView.load(store, log, fence);
    if (ended()) return;
    const rules = new RuleEngine(view, this.o.settings, (a, change) => {
      const snapshot = structuredClone(a);
      view.afterWrites(a.id, () => {
        if (ended()) return; // leadership ended: the next leader sends what was not delivered
        this.o.onAlert(snapshot, change);
        this.o.dispatcher.push(snapshot, change);
      });
    });
    view.onFiring = (stored) => {
      if (!ended()) rules.adopt(stored, Date.now());
    };
    view.onFenced = () => {
      if (!ended()) this.o.onFenced();
    };
    let replayed = 0;
    // The cameras each online device announced: tracked from its last message (the summaries
    // replayed next put the time of each camera's own last window over it).
    for (const d of view.devices()) if (d.state === 'online') rules.replayStatus(d.status, d.lastSeen);
    const recent = await store.recentSummaries(t0 - this.o.replayMs, resume ? resume.summary : horizon);
    if (ended()) return;
    for (const r of recent) {
      try {
        rules.replaySummary(r.m, r.receivedTs);
        replayed++;
      } catch (e) {
        this.o.ruleError(e, { kind: 'summary', receivedTs: r.receivedTs, m: r.m });
      }
    }
    term.rules = rules;
    term.view = view;
    let redelivered = 0;
    const undelivered = await store.undelivered(this.o.sinks, t0 - REDELIVER_MS);
    if (ended()) return;
    for (const u of undelivered) {
      this.o.dispatcher.push(u.alert, u.alert.state === 'firing' ? 'fire' : 'resolve', new Set(u.sinks));
      redelivered++;
    }
    const cursor: FeedCursor = resume ? structuredClone(resume) : { status: [horizon, 0], summary: [horizon, 0], event: [horizon, 0] };
    term.timers.push(setInterval(() => void this.read(term, cursor), this.o.pollMs));
    term.timers.push(
      setInterval(() => {
        const now = Date.now();
        this.watchLag(term, now);
        try {
          rules.tick(Math.min(now, term.completeAt));
        } catch (e) {
          log.error({ err: (e as Error).message }, 'rule evaluation failed');
        }
      }, this.o.evalMs),
    );
    term.timers.push(setInterval(() => this.adoptDead(term), Math.max(this.o.pollMs, 1000)));
    log.info({ replayed, resumed: resume !== undefined, active: rules.firing.length, redelivered, ms: Date.now() - t0 }, 'leader ready: rules rebuilt from the store');
    this.adoptDead(term);
  }

  private async read(term: Term, cursor: FeedCursor): Promise<void> {
    if (term.reading || this.term !== term) return;
    term.reading = true;
    try {
      for (;;) {
        const at = Date.now();
        const { horizon, next } = await this.o.store.snapshot();
        this.sample(term, at, BigInt(next));
        const rows = await this.o.store.feed(cursor, horizon, FEED_PAGE);
        if (this.term !== term) return;
        for (const row of rows) this.handle(term, row);
        // Recorded for the next leader (start()) once the alert writes of these rows are stored.
        if (rows.length) term.view!.recordPosition(structuredClone(cursor), Date.now());
        if (rows.length < FEED_PAGE) {
          // Read up to the horizon: complete for every snapshot whose next id it has reached.
          const h = BigInt(horizon);
          while (term.samples.length && term.samples[0]!.next <= h) term.completeAt = term.samples.shift()!.at;
          break;
        }
      }
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'reading stored messages for the rules failed; trying again');
    } finally {
      term.reading = false;
    }
  }

  private sample(term: Term, at: number, next: bigint): void {
    const last = term.samples[term.samples.length - 1];
    if (last && last.next === next) last.at = at; // no transaction since: the later time holds as well
    else term.samples.push({ at, next });
    if (term.samples.length > MAX_SAMPLES) term.samples.splice(1, 1);
  }

  /** How far the feed is behind the clock (0 while standing by). */
  feedLagMs(now = Date.now()): number {
    return this.term ? Math.max(0, now - this.term.completeAt) : 0;
  }

  private watchLag(term: Term, now: number): void {
    const lag = now - term.completeAt;
    if (lag > FEED_LAG_WARN_MS && !term.lagWarned) {
      term.lagWarned = true;
      this.o.log.warn({ lagSeconds: Math.round(lag / 1000) }, 'the rules are behind what was stored: a transaction still open on the PostgreSQL server holds the feed back (pg_stat_activity, state "idle in transaction"); silence is judged as of the feed, and alerts wait');
    } else if (lag <= FEED_LAG_WARN_MS && term.lagWarned) {
      term.lagWarned = false;
      this.o.log.info('the rules have caught up with what was stored');
    }
  }

  private handle(term: Term, row: FeedRow): void {
    const rules = term.rules!;
    term.view!.apply(row);
    this.fed++;
    try {
      if (row.kind === 'status') rules.onStatus(row.m, row.previous, row.receivedTs);
      else if (row.kind === 'summary') rules.onSummary(row.m, row.receivedTs);
      else rules.onEvent(row.m, row.receivedTs);
    } catch (e) {
      this.o.ruleError(e, row);
    }
  }

  private adoptDead(term: Term): void {
    if (term.adopting || this.term !== term) return;
    term.adoption = this.adoptEach(term);
  }

  private async adoptEach(term: Term): Promise<void> {
    term.adopting = true;
    try {
      // Every replica handed over locked is released (taken over) or abandoned (not), whatever happens.
      const dead = await this.o.deadReplicas();
      for (const [i, d] of dead.entries()) {
        try {
          if (this.term !== term) throw new Error('leadership ended');
          const n = await this.o.adopt(d.clientId);
          await d.release();
          // A replica stopped on purpose leaves its session empty (it unsubscribed, and its commits
          // ended before it left): ending that session is routine. One that held messages died
          // with them in hand, or had them routed to it while it was away.
          if (n) this.o.log.warn({ replica: d.clientId, messages: n }, 'took over the broker session of a replica that is gone: what the broker held for it is stored');
          else this.o.log.info({ replica: d.clientId, messages: 0 }, 'ended the broker session of a replica that is gone: nothing was waiting in it');
        } catch (e) {
          for (const rest of dead.slice(i)) await rest.abandon().catch(() => undefined);
          if (this.term === term) this.o.log.warn({ replica: d.clientId, err: (e as Error).message }, 'could not take over the broker session of a replica that is gone; trying again');
          return;
        }
      }
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'could not list the replicas that are gone; trying again');
    } finally {
      term.adopting = false;
    }
  }

  /** Acknowledges in the leader's memory too, so its next write of the alert keeps the acknowledgement. */
  acknowledge(id: string, ack: { by: string; comment: string; at: string }): void {
    const a = this.term?.rules?.firing.find((x) => x.id === id);
    if (a) a.ack = ack;
  }

  /**
   * Ends the current term at once, its rebuild included; then waits for a takeover in progress and
   * the write being made. A write still being tried is given up: the lock is lost, and the next
   * leader acts again on what it was for (the read position is recorded behind the writes). With
   * `drain` (the replica stops and hands the lead on), the writes made so far get DRAIN_MS to
   * commit first. A term started meanwhile is not touched.
   */
  async stop(o: { drain?: boolean } = {}): Promise<void> {
    const term = this.term;
    if (!o.drain) this.draining?.close(); // the lock is lost while an earlier term drains: it stops too
    if (!term) return;
    this.term = undefined;
    for (const t of term.timers) clearInterval(t);
    const view = term.view;
    if (o.drain && view) {
      this.draining = view;
      await view.drain(DRAIN_MS);
      if (this.draining === view) this.draining = undefined;
    } else view?.close();
    await term.adoption;
    await view?.settled();
  }
}
