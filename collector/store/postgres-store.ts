/**
 * The collector store on PostgreSQL (`store.url`), for replicas that act as one collector
 * (docs/scale.md). Ingest stages each message of a burst and writes the burst in one transaction
 * (commitBatch, awaited before the burst's PUBACKs leave): statuses first, then summaries through
 * the sequence function (postgres-schema.ts), then events. Each staged message learns what became
 * of it (stored, duplicate, quarantined) when the transaction commits.
 *
 * Reads are asynchronous; the rules do not read here directly but through the leader's view
 * (collector/cluster/leader-view.ts), which this store feeds: every stored message carries the id of
 * the transaction that wrote it, and feed() returns the rows of transactions that have all ended, in
 * order, so the leader sees each message once whichever replica stored it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { driftlineError } from '../../lib/errors.js';
import { redactUrl } from '../../lib/redact.js';
import { withPassword } from './postgres-url.js';
import type { EventMessage, StatusMessage, SummaryMessage } from '../../protocol/messages.js';
import type { Handled } from '../ingest/ingest.js';
import { PG_MIGRATIONS } from './postgres-schema.js';
import { laterStatus } from './status-order.js';
import type { AlertQuery, AlertRecord, CameraRow, DeviceRow, StoreQueries, TimelineRow } from './store.js';

const BIGINT = 20;
/** BIGINT columns as numbers (ms times and seqs stay far below 2^53); everything else as pg parses it. */
const TYPES = { getTypeParser: ((oid: number, format?: string) => (oid === BIGINT ? Number : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser };

export interface SummaryOutcome {
  readonly handled: Handled;
  /** Stored below the camera's last seq: it arrived after a later one (replicas do not keep a camera's order), filling its gap. */
  readonly late: boolean;
  /** The camera's last seq before this one (0: none); after a jump that released quarantine, the last before it. */
  readonly previousSeq: number;
  /** The seq it has in the collector's space (after an epoch offset). */
  readonly seq: number;
  /** Quarantined summaries this one released into the store. */
  readonly released: number;
}

interface Staged<M, R> {
  readonly m: M;
  /** Its place in the burst's arrival order (Batch.arrived). */
  readonly order: number;
  readonly at: number;
  readonly raw: string;
  readonly extra: string | null;
  resolve(r: R): void;
  reject(e: unknown): void;
}

interface Batch {
  readonly statuses: Staged<StatusMessage, void>[];
  readonly summaries: Staged<SummaryMessage, SummaryOutcome>[];
  readonly events: Staged<EventMessage, Handled>[];
  /** Messages staged so far: the next one's order. */
  arrived: number;
}

/** A birth that names an epoch: it may start a new one, which moves the seqs of what comes after it (only). */
const mayStartEpoch = (s: Staged<StatusMessage, void>): boolean => s.m.state === 'online' && !!s.m.epoch;

/**
 * The burst in parts, in arrival order, each ending with a birth that names an epoch (the last part
 * ends with the burst). A new epoch's offsets are read from what is stored when its birth is
 * written, so what arrived before the birth (the old epoch's last windows, delivered in the same
 * burst after an outage) must be written before it.
 */
function parts(b: Batch): Batch[] {
  const cuts = b.statuses.filter(mayStartEpoch).map((s) => s.order);
  if (!cuts.length) return [b];
  const out: Batch[] = [];
  let from = -1;
  for (const to of [...cuts.sort((x, y) => x - y), Number.POSITIVE_INFINITY]) {
    const within = <T extends { order: number }>(xs: T[]): T[] => xs.filter((x) => x.order > from && x.order <= to);
    out.push({ statuses: within(b.statuses), summaries: within(b.summaries), events: within(b.events), arrived: 0 });
    from = to;
  }
  return out;
}

/** A row of the feed: one stored message, in the order of the transactions that stored them. */
export type FeedRow =
  | { readonly kind: 'status'; readonly receivedTs: number; readonly m: StatusMessage; readonly previous: StatusMessage | undefined }
  | { readonly kind: 'summary'; readonly receivedTs: number; readonly m: SummaryMessage }
  | { readonly kind: 'event'; readonly receivedTs: number; readonly m: EventMessage };

/** Where the feed is: per table, the (transaction, id) of the last row read. */
export interface FeedCursor {
  status: [xid: string, id: number];
  summary: [xid: string, id: number];
  event: [xid: string, id: number];
}

/**
 * Key order (site, device, camera), the order rows are locked in; Array.prototype.sort is stable, so
 * one camera's messages keep their arrival order (a seq that comes after a higher one is a repeat,
 * as on SQLite).
 */
const byKey = <T extends { m: { site: string; device: string; camera?: string } }>(a: T, b: T): number =>
  a.m.site < b.m.site ? -1 : a.m.site > b.m.site ? 1 : a.m.device < b.m.device ? -1 : a.m.device > b.m.device ? 1 : (a.m.camera ?? '') < (b.m.camera ?? '') ? -1 : (a.m.camera ?? '') > (b.m.camera ?? '') ? 1 : 0;

const ALERT_COLUMNS = 'record';
const CAMERA_COLUMNS = 'site, device, camera, last_seq AS "lastSeq", last_end AS "lastEnd", last_status AS "lastStatus", last_received AS "lastReceived"';
const DEVICE_COLUMNS = 'site, device, state, last_seen AS "lastSeen", status';
/** Summaries per call of the sequence function (each payload one bind parameter): a message of about 1 MB. */
const STATEMENT_ROWS = 250;
/** Rows each retention statement deletes: short transactions that never hold ingest up for long. */
export const PRUNE_BATCH = 5000;
/** Tries of one burst when the server refuses it as a deadlock's victim (write()). */
const WRITE_TRIES = 4;
/**
 * Why a first connection failed, in words that say where the password came from: node-postgres's
 * own say only that a password was refused, or missing ("client password must be a string").
 */
function connectFailure(e: unknown, fromFile: boolean): string {
  const m = (e as Error).message;
  const code = (e as { code?: unknown }).code;
  if (code === '28P01') return `${m} (the password ${fromFile ? 'in store.passwordFile' : 'from the URL, PGPASSWORD or ~/.pgpass'} was refused)`;
  if (/client password must be a string|no password supplied/i.test(m)) return `${m} (the server asks for a password and none was given: store.passwordFile, a password in the URL, PGPASSWORD or ~/.pgpass)`;
  return m;
}

/** deadlock_detected, serialization_failure: the transaction was refused for the moment, not for what it holds. */
const retryable = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
};

export class PostgresStore implements StoreQueries {
  private batch: Batch | undefined;
  /** The commit in progress: bursts commit one after another, in arrival order (a camera's seqs stay in order). */
  private committing: Promise<void> = Promise.resolve();
  /** The batch waiting for the commit in progress, and its own commit. */
  private next: { readonly batch: Batch; readonly done: Promise<void> } | undefined;
  /** The newest receive time of each device's messages, written to devices.last_seen every flush, outside ingest's transactions. */
  private readonly seen = new Map<string, { site: string; device: string; at: number }>();
  private readonly seenTimer: NodeJS.Timeout;
  private flushingSeen: Promise<void> = Promise.resolve();
  /** Retention batches run so far and the longest one, ms: how long it held its rows (metrics, docs/scale.md). */
  readonly pruneStats = { batches: 0, longestMs: 0 };
  /** Bursts the server refused as a deadlock's or serialization failure's victim, and written again (write()). */
  readonly writeStats = { retried: 0 };

  private constructor(
    readonly pool: pg.Pool,
    readonly url: string,
    private readonly maxSeqJump: number,
    seenFlushMs: number,
  ) {
    this.seenTimer = setInterval(() => void this.flushSeen().catch(() => undefined), seenFlushMs);
    this.seenTimer.unref();
  }

  /** Connects and migrates (once, whichever replica comes first); a bad URL or an unreachable server is a DRIFTLINE_ERR_STORE. */
  static async open(
    url: string,
    o: { readonly maxSeqJump: number; readonly password?: string; readonly poolSize?: number; readonly applicationName?: string; readonly seenFlushMs?: number; readonly limits?: { readonly lock_timeout?: number; readonly statement_timeout?: number; readonly query_timeout?: number } },
  ): Promise<PostgresStore> {
    let connectionString: string;
    try {
      connectionString = withPassword(url, o.password);
    } catch (e) {
      throw driftlineError('DRIFTLINE_ERR_STORE', { file: redactUrl(url), reason: (e as Error).message });
    }
    const session = { connectionString, application_name: o.applicationName ?? 'driftline-collector' };
    const pool = new pg.Pool({ ...session, max: o.poolSize ?? 4, types: TYPES, ...SESSION_LIMITS, ...o.limits });
    // An idle client that loses its server emits 'error' on the pool; the next query reconnects.
    // A checked-out one emits it on itself (checkedOut() below listens while it is out).
    pool.on('error', () => undefined);
    try {
      const { connectionTimeoutMillis, keepAlive, keepAliveInitialDelayMillis, idle_in_transaction_session_timeout } = SESSION_LIMITS;
      await migrate(new pg.Client({ ...session, connectionTimeoutMillis, keepAlive, keepAliveInitialDelayMillis, idle_in_transaction_session_timeout }));
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw driftlineError('DRIFTLINE_ERR_STORE', { file: redactUrl(url), reason: connectFailure(e, o.password !== undefined && o.password !== '') }, { cause: e });
    }
    return new PostgresStore(pool, url, o.maxSeqJump, o.seenFlushMs ?? 500);
  }

  beginBatch(): void {
    this.batch ??= { statuses: [], summaries: [], events: [], arrived: 0 };
  }

  /**
   * Writes the devices' last-seen times gathered since the last flush, in one statement in key order.
   * Ingest does not touch device rows (each replica would wait on the others' hot rows): a crash
   * loses at most one flush interval of "last seen" freshness, never a message.
   */
  flushSeen(): Promise<void> {
    if (!this.seen.size) return this.flushingSeen;
    const rows = [...this.seen.values()].sort((x, y) => (x.site < y.site ? -1 : x.site > y.site ? 1 : x.device < y.device ? -1 : x.device > y.device ? 1 : 0));
    this.seen.clear();
    // A flush that fails puts its times back for the next (the latest of each device wins).
    const putBack = (e: unknown): never => {
      for (const r of rows) this.markSeen(r.site, r.device, r.at);
      throw e;
    };
    this.flushingSeen = this.flushingSeen
      .catch(() => undefined)
      .then(() =>
        this.pool.query(
          `UPDATE devices d SET last_seen = greatest(d.last_seen, k.at)
           FROM (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(site, device, at) ORDER BY site, device) k
           WHERE d.site = k.site AND d.device = k.device`,
          [rows.map((x) => x.site), rows.map((x) => x.device), rows.map((x) => x.at)],
        ),
      )
      .then(() => undefined, putBack);
    return this.flushingSeen;
  }

  private staged(): Batch {
    this.beginBatch();
    return this.batch!;
  }

  /** Stores a status at the next commit (with its previous one, for the rules); a new epoch moves the device's seqs on. */
  stageStatus(m: StatusMessage, receivedTs: number, raw: string): Promise<void> {
    const b = this.staged();
    return new Promise((resolve, reject) => b.statuses.push({ m, order: b.arrived++, at: receivedTs, raw, extra: null, resolve, reject }));
  }

  /** Stores a summary at the next commit under the sequence rules; `timeProblem` quarantines it with that reason. */
  stageSummary(m: SummaryMessage, receivedTs: number, raw: string, timeProblem?: string): Promise<SummaryOutcome> {
    const b = this.staged();
    return new Promise((resolve, reject) => b.summaries.push({ m, order: b.arrived++, at: receivedTs, raw, extra: timeProblem ?? null, resolve, reject }));
  }

  stageEvent(e: EventMessage, receivedTs: number, raw: string): Promise<Handled> {
    const b = this.staged();
    return new Promise((resolve, reject) => b.events.push({ m: e, order: b.arrived++, at: receivedTs, raw, extra: null, resolve, reject }));
  }

  /**
   * Writes the staged burst in one transaction, after the bursts before it; every staged message
   * settles. Rejects (rolled back) when the database refuses it.
   */
  commitBatch(): Promise<void> {
    const b = this.batch;
    // Nothing staged: it waits for the write in flight, if any, but does not take on that write's
    // failure (its burst is refused and delivered again on its own; this one has nothing to store).
    if (!b || (!b.statuses.length && !b.summaries.length && !b.events.length)) return this.committing.then(settled, settled);
    // Already waiting for the write before it: the bursts that arrive meanwhile join it (one
    // transaction for all of them), and all wait for that one commit.
    if (this.next?.batch === b) return this.next.done;
    const done = this.committing
      .catch(() => undefined)
      .then(() => {
        if (this.batch === b) this.batch = undefined;
        this.next = undefined;
        return this.write(b);
      });
    this.next = { batch: b, done };
    this.committing = done;
    return done;
  }

  /**
   * Writes the burst, trying again (from BEGIN, the whole burst) when the server chose it as the
   * victim of a deadlock or a serialization failure: two replicas' bursts may lock the same camera
   * rows in different orders (a burst of several parts, a new camera inserted before the existing
   * ones are locked), and what one replica was refused the other has then committed. Only after
   * `WRITE_TRIES` such refusals, or any other failure, is the burst refused (and delivered again).
   */
  private async write(b: Batch): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.writeOnce(b);
        return;
      } catch (e) {
        if (attempt < WRITE_TRIES && retryable(e)) {
          this.writeStats.retried++;
          await delay(10 * attempt + Math.random() * 20 * attempt); // apart, so the two do not meet again
          continue;
        }
        fail(b, e);
        throw e;
      }
    }
  }

  private async writeOnce(b: Batch): Promise<void> {
    const settle: (() => void)[] = [];
    const client = await checkedOut(this.pool);
    try {
      await client.query('BEGIN');
      const split = parts(b);
      if (split.length === 1) {
        await this.writeDevices(client, b, settle);
        await this.writeSummaries(client, b, settle);
        await this.writeEvents(client, b, settle);
      } else {
        // Each part's summaries and events before its births. (Device rows are then locked part by
        // part, not all in key order: two such bursts may deadlock, and the victim tries again.)
        for (const part of split) {
          await this.writeSummaries(client, part, settle);
          await this.writeEvents(client, part, settle);
          await this.writeDevices(client, part, settle);
        }
      }
      await client.query('COMMIT');
      client.giveBack();
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.giveBack(true);
      throw e;
    }
    // Seen once stored: a burst rolled back moves no device's last-seen time.
    for (const x of b.summaries) this.markSeen(x.m.site, x.m.device, x.at);
    for (const x of b.events) this.markSeen(x.m.site, x.m.device, x.at);
    for (const s of settle) s();
  }

  /** The burst's statuses, with their device rows locked in key order: two bursts never wait on each other in a cycle. */
  private async writeDevices(c: pg.PoolClient, b: Batch, settle: (() => void)[]): Promise<void> {
    if (!b.statuses.length) return;
    const statuses = [...b.statuses].sort(byKey);
    const keys = new Map<string, [string, string]>();
    for (const s of statuses) keys.set(`${s.m.site}\u0000${s.m.device}`, [s.m.site, s.m.device]);
    const sorted = [...keys.values()];
    const locked = await c.query<{ site: string; device: string; status: string; epoch: string | null }>(
      'SELECT d.site, d.device, d.status, d.epoch FROM devices d JOIN unnest($1::text[], $2::text[]) AS k(site, device) ON d.site = k.site AND d.device = k.device ORDER BY d.site, d.device FOR UPDATE OF d',
      [sorted.map((k) => k[0]), sorted.map((k) => k[1])],
    );
    const current = new Map(locked.rows.map((r) => [`${r.site}\u0000${r.device}`, r.status]));
    // The last epoch each device named (store.ts lastEpoch): an older agent's offline status names none.
    const epochs = new Map(locked.rows.map((r) => [`${r.site}\u0000${r.device}`, r.epoch ?? undefined]));
    for (const s of statuses) {
      const k = `${s.m.site}\u0000${s.m.device}`;
      const previousRaw = current.get(k);
      const m = s.m;
      // A status earlier than the one the device row holds is superseded: a Last Will and the next
      // birth, milliseconds apart, reach two replicas, and the Will's burst commits second. Earlier
      // by the device's status seq where both have one (status-order.ts), else by receive time.
      // It is kept in the history, marked, and changes neither the row nor the rules (feed()).
      const previous = previousRaw === undefined ? undefined : (JSON.parse(previousRaw) as StatusMessage);
      const later = previous && laterStatus(m, previous);
      // Only a birth announces an epoch (an offline status names it for the order only: a stale
      // Will of the old epoch must not take the device back to it).
      const announced = m.state === 'online' ? m.epoch : undefined;
      const applied = await c.query(
        `INSERT INTO devices (site, device, state, last_seen, status, epoch, status_received) VALUES ($1, $2, $3, $4, $5, $6, $4)
         ON CONFLICT (site, device) DO UPDATE SET state = excluded.state, last_seen = greatest(devices.last_seen, excluded.last_seen), status = excluded.status,
           epoch = coalesce(excluded.epoch, devices.epoch), status_received = excluded.status_received
         WHERE CASE WHEN $7::boolean IS NULL THEN devices.status_received IS NULL OR excluded.status_received >= devices.status_received ELSE $7::boolean END
         RETURNING 1`,
        [m.site, m.device, m.state, s.at, s.raw, announced ?? null, later ?? null],
      );
      const superseded = applied.rowCount === 0;
      const known = epochs.get(k);
      // A birth naming a new epoch starts it; so does one superseded by an offline status (its own
      // connection's Will stored first by another replica, or the old database's, delivered late),
      // which announces no epoch: the device did start again.
      if (announced !== undefined && announced !== known && (!superseded || previous?.state === 'offline')) {
        if (known !== undefined) await newEpoch(c, m.site, m.device);
        if (superseded) await c.query('UPDATE devices SET epoch = $3 WHERE site = $1 AND device = $2', [m.site, m.device, announced]);
        epochs.set(k, announced);
      }
      await c.query('INSERT INTO statuses (site, device, received_ts, previous, payload, superseded) VALUES ($1, $2, $3, $4, $5, $6)', [m.site, m.device, s.at, previousRaw ?? null, s.raw, superseded]);
      if (!superseded) current.set(k, s.raw);
      settle.push(() => s.resolve());
    }
  }

  private markSeen(site: string, device: string, at: number): void {
    const k = `${site}\u0000${device}`;
    const cur = this.seen.get(k);
    if (!cur) this.seen.set(k, { site, device, at });
    else if (cur.at < at) cur.at = at;
  }

  private async writeSummaries(c: pg.PoolClient, b: Batch, settle: (() => void)[]): Promise<void> {
    const xs = [...b.summaries].sort(byKey);
    for (let from = 0; from < xs.length; from += STATEMENT_ROWS) await this.summaryRows(c, xs.slice(from, from + STATEMENT_ROWS), settle);
  }

  /**
   * One call of the sequence function. The payloads go as parameters of their own, gathered into an
   * array by the server: node-pg would otherwise write a 4 KB JSON payload into an array literal,
   * escaping every quote, which cost more than the insert.
   */
  private async summaryRows(c: pg.PoolClient, xs: Staged<SummaryMessage, SummaryOutcome>[], settle: (() => void)[]): Promise<void> {
    const col = <T>(f: (x: Staged<SummaryMessage, SummaryOutcome>) => T): T[] => xs.map(f);
    const payloads = xs.map((_, i) => `$${i + 12}`).join(', ');
    const r = await c.query<{ idx: number; outcome: string; prev: number; stored_seq: number }>(
      `SELECT idx, outcome, prev, stored_seq FROM driftline_ingest_summaries($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::integer[], $9::bigint[], ARRAY[${payloads}]::text[], $10::text[], $11)`,
      [col((x) => x.m.site), col((x) => x.m.device), col((x) => x.m.camera), col((x) => x.m.seq), col((x) => x.m.start), col((x) => x.m.end), col((x) => x.m.status), col((x) => x.m.frames), col((x) => x.at), col((x) => x.extra), this.maxSeqJump, ...col((x) => x.raw)],
    );
    const released = new Map<number, number>();
    const outcome = new Map<number, { handled: Handled; late: boolean; previousSeq: number; seq: number }>();
    for (const row of r.rows) {
      if (row.outcome === 'released') released.set(row.idx, (released.get(row.idx) ?? 0) + 1);
      else outcome.set(row.idx, { handled: row.outcome === 'late' ? 'stored' : (row.outcome as Handled), late: row.outcome === 'late', previousSeq: row.prev, seq: row.stored_seq });
    }
    xs.forEach((x, i) => {
      const o = outcome.get(i + 1) ?? { handled: 'duplicate' as const, late: false, previousSeq: 0, seq: x.m.seq };
      settle.push(() => x.resolve({ ...o, released: released.get(i + 1) ?? 0 }));
    });
  }

  private async writeEvents(c: pg.PoolClient, b: Batch, settle: (() => void)[]): Promise<void> {
    if (!b.events.length) return;
    const xs = [...b.events].sort(byKey);
    const r = await c.query<{ site: string; device: string; camera: string; device_seq: number }>(
      `INSERT INTO events (site, device, camera, seq, ts, kind, received_ts, payload)
       SELECT k.site, k.device, k.camera, k.seq + coalesce(e.event_offset, 0), k.ts, k.kind, k.at,
              CASE WHEN coalesce(e.event_offset, 0) = 0 THEN k.payload ELSE jsonb_set(k.payload::jsonb, '{seq}', to_jsonb(k.seq + e.event_offset))::text END
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::bigint[], $8::text[]) AS k(site, device, camera, seq, ts, kind, at, payload)
       LEFT JOIN epochs e ON e.site = k.site AND e.device = k.device AND e.camera = k.camera
       ON CONFLICT DO NOTHING
       RETURNING site, device, camera, seq - coalesce((SELECT event_offset FROM epochs x WHERE x.site = events.site AND x.device = events.device AND x.camera = events.camera), 0) AS device_seq`,
      [xs.map((x) => x.m.site), xs.map((x) => x.m.device), xs.map((x) => x.m.camera), xs.map((x) => x.m.seq), xs.map((x) => x.m.ts), xs.map((x) => x.m.kind), xs.map((x) => x.at), xs.map((x) => x.raw)],
    );
    const stored = new Set(r.rows.map((x) => `${x.site}\u0000${x.device}\u0000${x.camera}\u0000${x.device_seq}`));
    for (const x of xs) {
      const k = `${x.m.site}\u0000${x.m.device}\u0000${x.m.camera}\u0000${x.m.seq}`;
      const h: Handled = stored.delete(k) ? 'stored' : 'duplicate';
      settle.push(() => x.resolve(h));
    }
  }

  // ---- reads -----------------------------------------------------------------------------------

  private async rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(sql, params)).rows as T[];
  }

  private static device(r: { site: string; device: string; state: 'online' | 'offline'; lastSeen: number; status: string }): DeviceRow {
    return { ...r, status: JSON.parse(r.status) as StatusMessage };
  }

  async device(site: string, device: string): Promise<DeviceRow | undefined> {
    const [r] = await this.rows<Parameters<typeof PostgresStore.device>[0]>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE site = $1 AND device = $2`, [site, device]);
    return r && PostgresStore.device(r);
  }

  async devices(): Promise<DeviceRow[]> {
    return (await this.rows<Parameters<typeof PostgresStore.device>[0]>(`SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY site, device`)).map(PostgresStore.device);
  }

  async cameras(): Promise<CameraRow[]> {
    return this.rows<CameraRow>(`SELECT ${CAMERA_COLUMNS} FROM cameras WHERE last_seq > 0 ORDER BY site, device, camera`);
  }

  async camera(site: string, device: string, camera: string): Promise<CameraRow | undefined> {
    const [r] = await this.rows<CameraRow>(`SELECT ${CAMERA_COLUMNS} FROM cameras WHERE site = $1 AND device = $2 AND camera = $3 AND last_seq > 0`, [site, device, camera]);
    return r;
  }

  async devicePage(after: readonly [string, string] | undefined, limit: number): Promise<DeviceRow[]> {
    const rows = await this.rows<Parameters<typeof PostgresStore.device>[0]>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE (site, device) > ($1, $2) ORDER BY site, device LIMIT $3`, [...(after ?? ['', '']), limit]);
    return rows.map(PostgresStore.device);
  }

  async cameraPage(after: readonly [string, string, string] | undefined, limit: number): Promise<CameraRow[]> {
    return this.rows<CameraRow>(`SELECT ${CAMERA_COLUMNS} FROM cameras WHERE (site, device, camera) > ($1, $2, $3) AND last_seq > 0 ORDER BY site, device, camera LIMIT $4`, [...(after ?? ['', '', '']), limit]);
  }

  async timeline(site: string, device: string, camera: string, sinceTs: number, limit: number, beforeSeq = Number.MAX_SAFE_INTEGER): Promise<TimelineRow[]> {
    type Raw = Omit<TimelineRow, 'drivers' | 'familyScores'> & { drivers: TimelineRow['drivers'] | null; familyScores: Record<string, number> | null };
    const rows = await this.rows<Raw>(
      `SELECT seq, start_ts AS start, end_ts AS "end", status, frames, j->'drivers' AS drivers, j->'familyScores' AS "familyScores"
       FROM summaries CROSS JOIN LATERAL (SELECT payload::jsonb AS j) p
       WHERE site = $1 AND device = $2 AND camera = $3 AND end_ts >= $4 AND seq < $5 ORDER BY seq DESC LIMIT $6`,
      [site, device, camera, sinceTs, beforeSeq, limit],
    );
    return rows.map(({ drivers, familyScores, ...r }) => ({ ...r, drivers: drivers ?? [], ...(familyScores ? { familyScores } : {}) })).reverse();
  }

  async summaries(site: string, device: string, camera: string): Promise<SummaryMessage[]> {
    return (await this.rows<{ payload: string }>('SELECT payload FROM summaries WHERE site = $1 AND device = $2 AND camera = $3 ORDER BY seq', [site, device, camera])).map((r) => JSON.parse(r.payload) as SummaryMessage);
  }

  async summary(site: string, device: string, camera: string, seq: number): Promise<SummaryMessage | undefined> {
    const [r] = await this.rows<{ payload: string }>('SELECT payload FROM summaries WHERE site = $1 AND device = $2 AND camera = $3 AND seq = $4', [site, device, camera, seq]);
    return r && (JSON.parse(r.payload) as SummaryMessage);
  }

  async quarantineSize(): Promise<number> {
    const [r] = await this.rows<{ n: number }>('SELECT count(*)::bigint AS n FROM quarantine');
    return r!.n;
  }

  /** The camera's quarantined summaries, in seq order (the API and the tests). */
  async quarantined(site: string, device: string, camera: string): Promise<{ seq: number; reason: string }[]> {
    return this.rows('SELECT seq, reason FROM quarantine WHERE site = $1 AND device = $2 AND camera = $3 ORDER BY seq', [site, device, camera]);
  }

  // ---- alerts ----------------------------------------------------------------------------------

  async alert(id: string): Promise<AlertRecord | undefined> {
    const [r] = await this.rows<{ record: AlertRecord }>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = $1`, [id]);
    return r?.record;
  }

  /** The firing alert of this fingerprint, if any (there is at most one: alerts_one_firing). */
  async firingAlert(fingerprint: string): Promise<AlertRecord | undefined> {
    const [r] = await this.rows<{ record: AlertRecord }>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE fingerprint = $1 AND state = 'firing'`, [fingerprint]);
    return r?.record;
  }

  async alerts(o: AlertQuery): Promise<AlertRecord[]> {
    const before = o.before ?? ['\uffff', '\uffff'];
    const where: string[] = ['(updated_at, id) < ($1, $2)'];
    const params: unknown[] = [before[0], before[1]];
    const add = (sql: string, v: unknown): void => {
      params.push(v);
      where.push(`${sql} = $${params.length}`);
    };
    if (o.state) add('state', o.state);
    if (o.site !== undefined) add('site', o.site);
    if (o.device !== undefined) add('device', o.device);
    if (o.camera !== undefined) add('camera', o.camera);
    params.push(o.limit);
    return (await this.rows<{ record: AlertRecord }>(`SELECT record FROM alerts WHERE ${where.join(' AND ')} ORDER BY updated_at DESC, id DESC LIMIT $${params.length}`, params)).map((r) => r.record);
  }

  /** Runs `write` in a transaction that first checks that `term` is still the leaders' current one. */
  private async fenced(term: number, write: (c: pg.PoolClient) => Promise<unknown>): Promise<void> {
    const c = await checkedOut(this.pool);
    let broken = false;
    try {
      await c.query('BEGIN');
      const [r] = (await c.query<{ term: string }>('SELECT term::text AS term FROM leader_term WHERE id = 1 FOR SHARE')).rows;
      if (Number(r!.term) !== term) throw new FencedError(term, Number(r!.term));
      await write(c);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => (broken = true));
      throw e;
    } finally {
      c.giveBack(broken);
    }
  }

  /**
   * Writes an alert's state; with `term`, only while that leader's term lasts (beginTerm). An
   * acknowledgement made on any replica (acknowledge) stays when the leader writes the alert again
   * without it. Only one firing alert per fingerprint can exist (a unique index): a second leader
   * could not raise the same alert twice.
   */
  async saveAlert(a: AlertRecord, term?: number): Promise<void> {
    if (term !== undefined) return this.fenced(term, (c) => this.writeAlert(c, a));
    await this.writeAlert(this.pool, a);
  }

  private async writeAlert(c: pg.Pool | pg.PoolClient, a: AlertRecord): Promise<void> {
    await c.query(
      `INSERT INTO alerts (id, fingerprint, state, starts_at, updated_at, record, site, device, camera) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = greatest(alerts.updated_at, excluded.updated_at),
         record = CASE WHEN excluded.record ? 'ack' OR NOT alerts.record ? 'ack' THEN excluded.record
                       ELSE excluded.record || jsonb_build_object('ack', alerts.record->'ack') END
       -- An alert that resolved stays resolved (a new incident is a new id): a firing write that lands
       -- after the resolve (queued by a leader that has since lost the lead) does not bring it back.
       WHERE alerts.state <> 'resolved' OR excluded.state = 'resolved'`,
      [a.id, a.fingerprint, a.state, a.startsAt, a.updatedAt, JSON.stringify(a), a.labels.site ?? null, a.labels.device ?? null, a.labels.camera ?? null],
    );
  }

  /** Records an acknowledgement on the alert in the database; undefined for an unknown id. */
  async acknowledge(id: string, ack: { by: string; comment: string; at: string }): Promise<AlertRecord | undefined> {
    const [r] = await this.rows<{ record: AlertRecord }>(
      `UPDATE alerts SET updated_at = $3, record = record || jsonb_build_object('ack', $2::jsonb, 'updatedAt', $3::text) WHERE id = $1 RETURNING record`,
      [id, JSON.stringify(ack), ack.at],
    );
    return r?.record;
  }

  /** A notifier delivered this state of the alert. */
  async delivered(alertId: string, sink: string, state: string, severity: string, at: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO deliveries (alert_id, sink, state, severity, at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (alert_id, sink) DO UPDATE SET state = excluded.state, severity = excluded.severity, at = excluded.at
       -- A send abandoned at a handover may finish after the next leader delivered the resolve.
       WHERE deliveries.state <> 'resolved' OR excluded.state = 'resolved'`,
      [alertId, sink, state, severity, at],
    );
  }

  /** Alerts (firing, or changed since `sinceMs`) whose current state a notifier has not delivered, with those notifiers. */
  async undelivered(sinks: readonly string[], sinceMs: number): Promise<{ alert: AlertRecord; sinks: string[] }[]> {
    if (!sinks.length) return [];
    const rows = await this.rows<{ record: AlertRecord; sinks: string[] }>(
      `SELECT a.record, array_agg(s.sink ORDER BY s.sink) AS sinks
       FROM alerts a CROSS JOIN unnest($1::text[]) AS s(sink)
       LEFT JOIN deliveries d ON d.alert_id = a.id AND d.sink = s.sink
       WHERE (a.state = 'firing' OR a.updated_at >= $2) AND (d.state IS NULL OR d.state <> a.state OR d.severity <> a.record->>'severity')
       GROUP BY a.id, a.record ORDER BY a.updated_at`,
      [sinks, new Date(sinceMs).toISOString()],
    );
    return rows.map((r) => ({ alert: r.record, sinks: r.sinks }));
  }

  // ---- the leader's feed -----------------------------------------------------------------------

  /** Transactions below this id have all ended: rows they wrote are final. */
  async horizon(): Promise<string> {
    return (await this.snapshot()).horizon;
  }

  /**
   * The horizon, and the first transaction id not yet given out (`next`): every transaction that
   * committed before this call has an id below `next`. Once a later horizon reaches it, the feed
   * read up to that horizon holds every row committed before this call.
   */
  async snapshot(): Promise<{ horizon: string; next: string }> {
    const [r] = await this.rows<{ h: string; n: string }>('SELECT pg_snapshot_xmin(s)::text AS h, pg_snapshot_xmax(s)::text AS n FROM pg_current_snapshot() AS s');
    return { horizon: r!.h, next: r!.n };
  }

  /**
   * The feed from `cursor` up to `horizon` (exclusive), at most `limit` rows per table; advances the
   * cursor once every table has been read: a read that fails part-way leaves it where it was, so
   * the next read gives the same rows again instead of skipping those already read.
   */
  async feed(cursor: FeedCursor, horizon: string, limit: number): Promise<FeedRow[]> {
    type Raw = { xid: string; id: number; received_ts: number; payload: string | null; previous?: string | null; superseded?: boolean } & Partial<SlimColumns>;
    const next: FeedCursor = { ...cursor };
    const read = async (table: string, k: keyof FeedCursor, columns: string): Promise<Raw[]> => {
      const [x, id] = cursor[k];
      const rows = await this.rows<Raw>(
        `SELECT xid::text AS xid, id, received_ts, ${columns} FROM ${table}
         WHERE xid >= $1::xid8 AND xid < $2::xid8 AND (xid > $1::xid8 OR id > $3) ORDER BY xid, id LIMIT $4`,
        [x, horizon, id, limit],
      );
      const last = rows[rows.length - 1];
      if (last) next[k] = [last.xid, last.id];
      return rows;
    };
    const out: (FeedRow & { order: number })[] = [];
    for (const r of await read('statuses', 'status', 'payload, previous, superseded')) if (!r.superseded) out.push({ kind: 'status', receivedTs: r.received_ts, m: JSON.parse(r.payload!) as StatusMessage, previous: r.previous ? (JSON.parse(r.previous) as StatusMessage) : undefined, order: 0 });
    for (const r of await read('summaries', 'summary', SUMMARY_FEED_COLUMNS)) out.push({ kind: 'summary', receivedTs: r.received_ts, m: summaryOf(r as SlimColumns & { payload: string | null }), order: 1 });
    for (const r of await read('events', 'event', 'payload')) out.push({ kind: 'event', receivedTs: r.received_ts, m: JSON.parse(r.payload!) as EventMessage, order: 2 });
    // Merged by receive time; a status before the summaries that arrived with it.
    out.sort((a, b) => a.receivedTs - b.receivedTs || a.order - b.order);
    Object.assign(cursor, next);
    return out;
  }

  /**
   * Summaries stored since `sinceTs`, in receive order, up to a feed position: by transactions below
   * a horizon (a transaction id), or at or before a cursor's summary position. The rules' memory, rebuilt.
   */
  async recentSummaries(sinceTs: number, upTo: string | FeedCursor['summary']): Promise<{ receivedTs: number; m: SummaryMessage }[]> {
    const [where, args] = typeof upTo === 'string' ? ['xid < $2::xid8', [upTo]] : ['(xid, id) <= ($2::xid8, $3::bigint)', upTo];
    const rows = await this.rows<SlimColumns & { received_ts: number; payload: string | null }>(
      `SELECT received_ts, ${SUMMARY_FEED_COLUMNS} FROM summaries WHERE received_ts >= $1 AND ${where} ORDER BY received_ts, id`,
      [sinceTs, ...args],
    );
    return rows.map((r) => ({ receivedTs: r.received_ts, m: summaryOf(r) }));
  }

  /** Where the leaders' rules have read the feed to, and when that was written; undefined: never. */
  async feedPosition(): Promise<{ cursor: FeedCursor; at: number } | undefined> {
    const [r] = await this.rows<{ sx: string; si: number; mx: string; mi: number; ex: string; ei: number; at: number }>(
      'SELECT status_xid::text AS sx, status_id AS si, summary_xid::text AS mx, summary_id AS mi, event_xid::text AS ex, event_id AS ei, updated_at AS at FROM leader_feed',
    );
    return r && { cursor: { status: [r.sx, r.si], summary: [r.mx, r.mi], event: [r.ex, r.ei] }, at: r.at };
  }

  /**
   * Records that the rules have acted on the feed up to `cursor`. Each table's position only moves
   * forward: a write from a leader that has since lost the lead cannot take it back.
   */
  async saveFeedPosition(cursor: FeedCursor, at: number, term?: number): Promise<void> {
    if (term !== undefined) return this.fenced(term, (c) => this.writeFeedPosition(c, cursor, at));
    await this.writeFeedPosition(this.pool, cursor, at);
  }

  private async writeFeedPosition(c: pg.Pool | pg.PoolClient, cursor: FeedCursor, at: number): Promise<void> {
    const later = (t: string): string => `CASE WHEN (excluded.${t}_xid, excluded.${t}_id) > (f.${t}_xid, f.${t}_id) THEN excluded.${t}_xid ELSE f.${t}_xid END`;
    const laterId = (t: string): string => `CASE WHEN (excluded.${t}_xid, excluded.${t}_id) > (f.${t}_xid, f.${t}_id) THEN excluded.${t}_id ELSE f.${t}_id END`;
    await c.query(
      `INSERT INTO leader_feed AS f (id, status_xid, status_id, summary_xid, summary_id, event_xid, event_id, updated_at)
       VALUES (1, $1::xid8, $2, $3::xid8, $4, $5::xid8, $6, $7)
       ON CONFLICT (id) DO UPDATE SET
         status_xid = ${later('status')}, status_id = ${laterId('status')},
         summary_xid = ${later('summary')}, summary_id = ${laterId('summary')},
         event_xid = ${later('event')}, event_id = ${laterId('event')},
         updated_at = greatest(f.updated_at, excluded.updated_at)`,
      [...cursor.status, ...cursor.summary, ...cursor.event, at],
    );
  }

  // ---- retention -------------------------------------------------------------------------------

  /**
   * Deletes what is past retention in batches of PRUNE_BATCH rows, each its own transaction found
   * through the BRIN index on receive time: ingest waits on no lock for longer than one batch.
   */
  async prune(now: number, keepMs: number, keepAlertsMs: number): Promise<number> {
    let n = 0;
    const cutoff = now - keepMs;
    for (const table of ['summaries', 'events', 'statuses', 'quarantine']) {
      for (;;) {
        const t0 = performance.now();
        const r = await this.pool.query(`DELETE FROM ${table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${table} WHERE received_ts < $1 LIMIT ${PRUNE_BATCH}))`, [cutoff]);
        this.pruneStats.batches++;
        this.pruneStats.longestMs = Math.max(this.pruneStats.longestMs, performance.now() - t0);
        n += r.rowCount ?? 0;
        if ((r.rowCount ?? 0) < PRUNE_BATCH) break;
      }
    }
    const old = new Date(now - keepAlertsMs).toISOString();
    const r = await this.pool.query("DELETE FROM alerts WHERE state = 'resolved' AND updated_at < $1", [old]);
    await this.pool.query('DELETE FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = d.alert_id)');
    return n + (r.rowCount ?? 0);
  }

  async close(): Promise<void> {
    clearInterval(this.seenTimer);
    await this.committing.catch(() => undefined);
    await this.flushSeen().catch(() => undefined);
    await this.pool.end();
  }
}

interface SlimColumns {
  readonly site: string;
  readonly device: string;
  readonly camera: string;
  readonly seq: number;
  readonly start_ts: number;
  readonly end_ts: number;
  readonly status: SummaryMessage['status'];
  readonly frames: number;
}

/**
 * What the feed reads of a summary: the whole payload of a drifting window (warn, alert), whose
 * features, scores and drivers become an alert's evidence; of any other window only its identity,
 * times and verdict, from the table's columns, which is all the rules read of it. Parsing 4 KB of
 * JSON for each ok window cost the leader more than storing it.
 */
const SUMMARY_FEED_COLUMNS = "CASE WHEN status IN ('warn', 'alert') THEN payload END AS payload, site, device, camera, seq, start_ts, end_ts, status, frames";

function summaryOf(r: SlimColumns & { payload: string | null }): SummaryMessage {
  if (r.payload !== null) return JSON.parse(r.payload) as SummaryMessage;
  return { site: r.site, device: r.device, camera: r.camera, seq: r.seq, start: r.start_ts, end: r.end_ts, status: r.status, frames: r.frames } as SummaryMessage;
}

function fail(b: Batch, e: unknown): void {
  for (const x of [...b.statuses, ...b.summaries, ...b.events]) x.reject(e);
}

/** The device started its seqs again: later ones are stored after the highest stored so far; its quarantine is dropped. */
async function newEpoch(c: pg.PoolClient, site: string, device: string): Promise<void> {
  // The device's camera rows first (after its device row: the lock order), so that another
  // replica's burst of the old epoch, still in flight, has committed before the offsets are read.
  await c.query('SELECT 1 FROM cameras WHERE site = $1 AND device = $2 ORDER BY camera FOR UPDATE', [site, device]);
  // From the cameras' last seqs as well as the stored rows: retention may have pruned every
  // summary of a camera whose last seq dedupe still compares against.
  await c.query(
    `INSERT INTO epochs (site, device, camera, summary_offset, event_offset)
     SELECT $1, $2, camera, max(s), max(e) FROM (
       SELECT camera, last_seq AS s, 0 AS e FROM cameras WHERE site = $1 AND device = $2
       UNION ALL SELECT camera, max(seq), 0 FROM summaries WHERE site = $1 AND device = $2 GROUP BY camera
       UNION ALL SELECT camera, 0, max(seq) FROM events WHERE site = $1 AND device = $2 GROUP BY camera
     ) x GROUP BY camera
     ON CONFLICT (site, device, camera) DO UPDATE SET summary_offset = excluded.summary_offset, event_offset = excluded.event_offset`,
    [site, device],
  );
  // The cameras' last seqs stay: the next summaries come after them.
  await c.query('DELETE FROM quarantine WHERE site = $1 AND device = $2', [site, device]);
}

/**
 * Begins a leader's term: the next fencing token. It waits for the writes of earlier terms in flight
 * (each holds the term's row while it checks it: PostgresStore.fenced()), and from its commit on,
 * every write of an earlier term is refused (FencedError): a leader that lost its lock without
 * knowing yet writes nothing the next one does not find when it loads. Taken on the leadership
 * lock's own connection (Leadership), so that only the holder of the lock can take one. With
 * `waitMs`, the server gives up waiting after that long (a lock timeout: the caller tries again
 * later), so that the session, and the locks it holds, do not outlive the caller's patience.
 */
export async function beginTerm(c: pg.ClientBase | pg.Pool, waitMs?: number): Promise<number> {
  const take = { text: 'UPDATE leader_term SET term = term + 1 WHERE id = 1 RETURNING term::text AS term', ...(waitMs ? { query_timeout: waitMs + 5000 } : {}) };
  if (!waitMs || c instanceof pg.Pool) return Number((await c.query<{ term: string }>(take)).rows[0]!.term);
  await c.query('BEGIN');
  try {
    await c.query(`SET LOCAL lock_timeout = ${Math.round(waitMs)}`);
    const r = await c.query<{ term: string }>(take);
    await c.query('COMMIT');
    return Number(r.rows[0]!.term);
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** A write of a leader's term that has ended: another replica has begun leading (beginTerm, postgres-store.ts). */
export class FencedError extends Error {
  constructor(
    readonly term: number,
    readonly current: number,
  ) {
    super(`leader term ${term} has ended (the current term is ${current}): another replica leads`);
    this.name = 'FencedError';
  }
}

/**
 * Applies the numbered migrations not yet applied, under an advisory lock (replicas starting
 * together migrate once), on a session of its own without the pool's limits (SESSION_LIMITS): a
 * migration may rewrite a large table, and a replica starting beside one that migrates waits for
 * it to finish, however long that takes, rather than failing its start. A migrating replica cut off
 * from the server still loses its session, and the table locks its migration holds: idle in a
 * transaction for 30 s, as the pool's sessions, or silent to the server's keepalives
 * (SERVER_KEEPALIVES), as the leadership's session.
 */
async function migrate(c: pg.Client): Promise<void> {
  c.on('error', () => undefined); // a lost session fails its query as well
  await c.connect();
  try {
    await c.query(`SET statement_timeout = 0; SET lock_timeout = 0; ${SERVER_KEEPALIVES}`);
    await c.query("SELECT pg_advisory_lock(hashtext('driftline-migrate'))");
    await c.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const r = await c.query<{ version: number }>('SELECT version FROM schema_version');
    let version = r.rows[0]?.version ?? 0;
    if (!r.rows.length) await c.query('INSERT INTO schema_version VALUES (0)');
    if (version > PG_MIGRATIONS.length) throw new Error(`schema version ${version} is newer than this collector knows (${PG_MIGRATIONS.length}); upgrade the collector`);
    for (; version < PG_MIGRATIONS.length; version++) {
      await c.query('BEGIN');
      try {
        await c.query(PG_MIGRATIONS[version]!);
        await c.query('UPDATE schema_version SET version = $1', [version + 1]);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK');
        throw new Error(`migration ${version + 1}: ${(e as Error).message}`);
      }
    }
  } finally {
    await c.end().catch(() => undefined); // its advisory lock goes with the session
  }
}

const settled = (): void => undefined;

/**
 * The server's side of a session that holds locks for as long as it lives (the leadership's, a
 * migration's): PostgreSQL's keepalives give up on a replica cut off from the network after
 * 5 + 3 x 2 s, not the kernel's 2 hours, and its locks go with the session.
 */
export const SERVER_KEEPALIVES = 'SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3';

/**
 * Every session of the pool: a server that goes silent, or a replica cut off in the middle of a
 * transaction, must not hold ingest or the other replicas' camera rows for the kernel's two hours.
 * - keepAlive: TCP keepalives from this side, so a dead server is noticed.
 * - query_timeout: a statement whose answer does not come in 60 s fails here (the burst is refused
 *   and delivered again) instead of holding every later burst behind it.
 * - statement_timeout and lock_timeout, on the server: no statement of ours runs, or waits for
 *   another replica's row, longer than that.
 * - idle_in_transaction_session_timeout: a replica that stops half-way through a burst (cut off,
 *   frozen) loses its session, and its locks, after 30 s.
 */
export const SESSION_LIMITS = {
  connectionTimeoutMillis: 10_000,
  keepAlive: true,
  keepAliveInitialDelayMillis: 10_000,
  query_timeout: 60_000,
  statement_timeout: 55_000,
  lock_timeout: 30_000,
  idle_in_transaction_session_timeout: 30_000,
} as const;

/**
 * A client taken from the pool, with a listener for its 'error' while it is out: pg-pool removes its
 * own while a client is checked out, and a session the server ends (a failover, a restart,
 * pg_terminate_backend, idle_in_transaction_session_timeout) emits 'error' on the client besides
 * failing its query. Unheard, that event would end the process. giveBack() removes the listener
 * and returns the client (destroyed when `broken`).
 */
async function checkedOut(pool: pg.Pool): Promise<pg.PoolClient & { giveBack(broken?: boolean): void }> {
  const c = await pool.connect();
  let lost: Error | undefined;
  const heard = (e: Error): void => {
    lost = e;
  };
  c.on('error', heard);
  return Object.assign(c, {
    giveBack(broken = false): void {
      c.off('error', heard);
      c.release(broken || lost !== undefined);
    },
  });
}
