/**
 * What the rules read and write on the leader of replicas on PostgreSQL (store.ts RuleStore): the
 * devices and the active alerts, loaded when leadership begins and then kept by the feed of stored
 * messages. The rules run synchronously on it; their alert writes go to the database behind, one
 * after another in order, and an alert's notification leaves only once its write has committed
 * (afterWrites), so a new leader always finds every alert that was ever sent.
 *
 * A write the database refuses for the moment (a lost connection, a timeout, a full disk) is tried
 * again, and the notifications behind it wait, until it commits or the leadership ends (close()):
 * the next leader then works from what is stored. A write the database will never take is given
 * up, logged, and that alert is not notified while its last write is not stored. When that is
 * because another alert of its fingerprint is firing in the database (an earlier leader's write
 * that committed after this leader loaded the active alerts), `onFiring` hears of the stored one,
 * for the rules to carry on with it (RuleEngine.adopt).
 *
 * How far the rules have read is recorded in the same queue (recordPosition), behind the alert
 * writes of what was read: a leader that dies with writes still waiting leaves the position where
 * its last committed ones were, and the next leader acts on those messages again (a Last Will's
 * alert is raised by the next leader, not lost with the dead one's memory). A replica that stops
 * on purpose first gives its waiting writes a few seconds to commit (drain()).
 *
 * Every write carries the leadership's term, the fencing token (beginTerm, postgres-store.ts): once the
 * next leader has begun, a write of this one is refused, and this view closes, so a leader that
 * lost its lock without knowing yet (its connection cut) writes nothing the next one did not load.
 */
import type { Logger } from '../../lib/log.js';
import { FencedError, type FeedCursor, type FeedRow, type PostgresStore } from '../store/postgres-store.js';
import type { AlertQuery, AlertRecord, DeviceRow, RuleStore } from '../store/store.js';

const key = (site: string, device: string): string => `${site}\u0000${device}`;

export class LeaderView implements RuleStore {
  private readonly byDevice = new Map<string, DeviceRow>();
  private readonly firing = new Map<string, AlertRecord>();
  private writes: Promise<void> = Promise.resolve();
  /** Alerts whose last write was given up: not notified until a later write of theirs is stored. */
  private readonly unstored = new Set<string>();
  /**
   * Alerts stored firing (loaded, or written by this leader): only these are written resolved. One
   * whose firing was never stored is not stored or notified as resolved either.
   */
  private readonly known = new Set<string>();
  private closed = false;
  /** Wakes a write waiting to be tried again, when leadership ends. */
  private wake: (() => void) | undefined;
  /** Alert writes the database refused, each try (logged); the rules go on from memory. */
  writeFailures = 0;
  /** A firing alert stored under another id took the place of one the rules wrote (see the header). */
  onFiring: (stored: AlertRecord) => void = () => undefined;
  /** A write was refused for a later term (fenced()): the leadership must end. */
  onFenced: () => void = () => undefined;

  private constructor(
    private readonly store: PostgresStore,
    private readonly log: Logger,
    /** This leadership's term (beginTerm): its writes are refused once another has begun. */
    private readonly term: number,
  ) {}

  /** Loads the devices and active alerts, for leadership term `term` (taken before: beginTerm). */
  static async load(store: PostgresStore, log: Logger, term: number): Promise<LeaderView> {
    const v = new LeaderView(store, log, term);
    for (const d of await store.devices()) v.byDevice.set(key(d.site, d.device), d);
    for (const a of await store.alerts({ state: 'firing', limit: 1_000_000 })) {
      v.firing.set(a.id, a);
      v.known.add(a.id);
    }
    return v;
  }

  /**
   * A stored message, from the feed: a status replaces its device's; any message marks its device
   * seen, never earlier than it was (a status ordered by its seq may have been received by a replica
   * whose clock is behind, as the store's last_seen keeps the greatest).
   */
  apply(row: FeedRow): void {
    const k = key(row.m.site, row.m.device);
    const d = this.byDevice.get(k);
    if (row.kind === 'status') {
      this.byDevice.set(k, { site: row.m.site, device: row.m.device, state: row.m.state, lastSeen: Math.max(d?.lastSeen ?? 0, row.receivedTs), status: row.m });
      return;
    }
    if (d && d.lastSeen < row.receivedTs) d.lastSeen = row.receivedTs;
  }

  device(site: string, device: string): DeviceRow | undefined {
    return this.byDevice.get(key(site, device));
  }

  devices(): DeviceRow[] {
    return [...this.byDevice.values()];
  }

  /** The active alerts (the rules ask for nothing else). */
  alerts(o: AlertQuery): AlertRecord[] {
    if (o.state !== 'firing') throw new Error('the leader view holds only firing alerts');
    return [...this.firing.values()].slice(0, o.limit);
  }

  alert(id: string): AlertRecord | undefined {
    return this.firing.get(id);
  }

  saveAlert(a: AlertRecord): void {
    if (a.state === 'firing') this.firing.set(a.id, a);
    else this.firing.delete(a.id);
    const snapshot = structuredClone(a);
    this.writes = this.writes.then(() => this.persist(snapshot));
  }

  /** Writes one alert change, trying again while the database refuses it for the moment and leadership lasts. */
  private async persist(a: AlertRecord): Promise<void> {
    if (a.state !== 'firing' && !this.known.has(a.id)) {
      this.unstored.add(a.id);
      this.log.warn({ alert: a.id, rule: a.rule }, 'an alert whose firing was never stored is not stored or notified as resolved');
      return;
    }
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.store.saveAlert(a, this.term);
        this.unstored.delete(a.id);
        if (a.state === 'firing') this.known.add(a.id);
        else this.known.delete(a.id); // no write follows a resolve
        return;
      } catch (e) {
        if (e instanceof FencedError) {
          this.fenced(e);
          return;
        }
        this.writeFailures++;
        const err = e as Error & { code?: string };
        const never = typeof err.code === 'string' && PERMANENT.test(err.code);
        this.log.error({ alert: a.id, rule: a.rule, state: a.state, err: err.message, code: err.code }, never ? 'could not store an alert change: it is not notified' : 'could not store an alert change; trying again (its notification waits for it)');
        if (never) {
          this.unstored.add(a.id);
          if (this.firing.get(a.id)?.state === 'firing' && a.state === 'firing') this.firing.delete(a.id); // never stored
          if (err.code === '23505' && a.state === 'firing' && !this.closed) {
            const stored = await this.store.firingAlert(a.fingerprint).catch(() => undefined);
            if (stored && stored.id !== a.id && !this.closed) {
              this.known.add(stored.id);
              this.onFiring(stored);
            }
          }
          return;
        }
        await this.pause(Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt));
      }
    }
  }

  /** Waits `ms`, or less if leadership ends meanwhile (not at all if it has: close() came during the write). */
  private pause(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /**
   * Records how far the rules have read (PostgresStore.saveFeedPosition), once every alert write
   * made so far is done: not at all if leadership ends first, so that the next leader reads those
   * messages again. Failing to record, a next leader acts on them again as well: logged, not fatal.
   */
  recordPosition(cursor: FeedCursor, at: number): void {
    this.writes = this.writes.then(async () => {
      if (this.closed) return;
      await this.store.saveFeedPosition(cursor, at, this.term).catch((e: unknown) => {
        if (e instanceof FencedError) this.fenced(e);
        else this.log.warn({ err: (e as Error).message }, 'could not record how far the rules have read; a next leader acts on these messages again');
      });
    });
  }

  /**
   * Runs `f` once every alert write made so far has committed, unless alert `id`'s last write was
   * given up or leadership ended first (close()): a notification never leaves for an alert that a
   * new leader would not find.
   */
  afterWrites(id: string, f: () => void): void {
    void this.writes.then(() => {
      if (!this.closed && !this.unstored.has(id)) f();
    });
  }

  /** Another replica has begun leading: this view writes and notifies nothing more. */
  private fenced(e: FencedError): void {
    if (this.closed) return;
    this.log.warn({ term: e.term, current: e.current }, 'another replica leads now: this one stops writing alerts and notifying, and gives the lead up (the new leader acts on what was not stored)');
    this.close();
    this.onFenced();
  }

  /** Leadership ended: writes still being tried stop, and no notification waiting for them leaves. */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  /**
   * Leadership is being handed on: the writes made so far get up to `ms` to commit (the next leader
   * then finds them, and sends what they were not notified for), then close().
   */
  async drain(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.writes, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
    this.close();
  }

  /** Resolves when the writes made so far are done (or given up). */
  settled(): Promise<void> {
    return this.writes;
  }
}

/** SQLSTATE classes a write will never get past by trying again: data exceptions (22) and constraints (23). */
const PERMANENT = /^2[23]/;
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 10_000;
