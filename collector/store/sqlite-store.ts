/**
 * The default collector store: one SQLite file (WAL, synchronous=NORMAL), numbered migrations,
 * prepared statements; a summary is stored once per (site, device, camera, seq), and a re-delivered
 * one is a no-op.
 *
 * Ingest writes one row per summary and nothing else: a 4 KB summary plus its bookkeeping in one
 * transaction cost 124 µs, the row alone 60 µs (bench: collector). The per-camera and per-device
 * bookkeeping (last seq, last verdict, last seen) is kept in memory and written every `flushMs`, in
 * one transaction, and before any read of it. A crash between two flushes loses no data, only up to
 * `flushMs` of "last seen" freshness.
 *
 * The summaries table has no per-camera key of its own: rows go in receive order (`id`), and their
 * keys, (camera, seq) → id, go into summary_keys with the bookkeeping, in bulk, from the rows stored
 * since the last. A key per row in the row's own transaction cost a page of the key's B-tree per
 * camera per COMMIT: at full ingest, as many WAL bytes as the summaries themselves (16 KiB pages, a
 * camera's keys sorted together). Written every `flushMs`, a row and its key cost 8.7 µs, not 11.3
 * (docs/performance.md, "Summaries keyed in bulk").
 * Every read of keys first indexes the rows not yet indexed (`indexed()`), so the keys always read
 * whole; after a crash the next read indexes what the last flush did not. Dedupe reads the camera's
 * highest seq from memory (exact: a single writer), and a seq at or below it from the keys.
 *
 * The devices table is also kept in memory, read through: the rules read a summary's device on
 * every summary, and a read used to flush the bookkeeping and parse the status each time. WAL
 * checkpoints run on a worker thread (sqlite-checkpointer.ts), not inside a commit.
 */
import { statSync } from 'node:fs';
import { openPrivateDatabase } from '../../lib/private-files.js';
import Database from 'better-sqlite3';
import { driftlineError } from '../../lib/errors.js';
import { migrate } from '../../lib/sqlite-migrations.js';
import type { EventMessage, StatusMessage, SummaryMessage } from '../../protocol/messages.js';
import { Checkpointer } from './sqlite-checkpointer.js';
import { SQLITE_MIGRATIONS } from './sqlite-schema.js';
import type { AlertQuery, AlertRecord, CameraRow, CollectorStore, DeviceRow, Stored, TimelineRow } from './store.js';

/**
 * SQLite's page cache for this connection, in bytes. better-sqlite3 builds SQLite with a 16 MiB default;
 * the cache fills as the database grows and then stays full, which a soak reads as growth for hours.
 * Set on purpose: small, because ingest appends and the API reads recent rows (docs/performance.md).
 */
const DEFAULT_CACHE_BYTES = 4 << 20;

/**
 * The page size of a new database (an existing one keeps its own). A summary is about 4.5 KB: on
 * 4 KiB pages each takes a leaf cell and an overflow page, and a batch's COMMIT writes about 1.2 WAL
 * frames per summary; on 16 KiB pages a summary sits whole in its leaf, with three others, and the
 * COMMIT writes a quarter of the frames. That halved COMMIT's cost (docs/performance.md).
 */
const PAGE_BYTES = 16_384;

/**
 * Told before an existing database is upgraded: schema 5 rebuilds the summaries table once (about
 * 7 s per GB on a 2-core VM), and the collector starts only when that is done.
 */
export type OnUpgrade = (o: { readonly from: number; readonly to: number; readonly bytes: number }) => void;

function open(file: string, cacheBytes: number, onUpgrade: OnUpgrade | undefined): Database.Database {
  try {
    const db = openPrivateDatabase(file);
    db.pragma(`page_size = ${PAGE_BYTES}`); // before anything writes the file; a no-op on an existing database
    db.pragma(`cache_size = ${-Math.max(64, Math.round(cacheBytes / 1024))}`); // negative: KiB
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    let upgraded = false;
    migrate(db, SQLITE_MIGRATIONS, 'collector', (from, to) => {
      upgraded = true;
      onUpgrade?.({ from, to, bytes: fileBytes(file) });
    });
    // An upgrade that rebuilt a table left a WAL as large as the table: copied back and cut to nothing now.
    if (upgraded) db.pragma('wal_checkpoint(TRUNCATE)');
    return db;
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_STORE', { file, reason: (e as Error).message }, { cause: e });
  }
}

const fileBytes = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0; // :memory:
  }
};

type Stmt = Database.Statement<unknown[], unknown>;

const LOST_BATCH = 'the batch was rolled back: a write in it failed (a full disk?); its messages are delivered again';

/** Sets a device's touch row ([receivedTs, site, device]) unless the one there is as late (the UPDATE keeps the latest too); allocates only then. */
function touchLatest(rows: Map<string, unknown[]>, key: string, receivedTs: number, site: unknown, device: unknown): void {
  const there = rows.get(key);
  if (!there || receivedTs > (there[0] as number)) rows.set(key, [receivedTs, site, device]);
}

/** A camera's id, in a statement that then takes (site, device, camera) first. */
const CAM = 'SELECT id FROM summary_cameras WHERE site = ? AND device = ? AND camera = ?';

/** About this much written since the last checkpoint asks for the next (SQLite's own default: 1,000 pages). */
const CHECKPOINT_BYTES = 4 << 20;
/**
 * The writer's own autocheckpoint while the worker does them: a WAL of about this size. A PASSIVE
 * checkpoint copies what was committed before it began; under steady ingest the writer commits
 * again before it ends, so the WAL never starts over from its beginning until the writer itself
 * checkpoints (most frames already copied: one short checkpoint per this many bytes, not one per 4 MB).
 */
const SAFETY_CHECKPOINT_BYTES = 64 << 20;
const DEFAULT_CHECKPOINT_PAGES = 1000;

/** A devices row as stored: the status parsed once. Never handed out: device() returns a copy. */
interface CachedDevice {
  readonly site: string;
  readonly device: string;
  readonly state: 'online' | 'offline';
  lastSeen: number;
  readonly status: StatusMessage;
}

export class SqliteStore implements CollectorStore {
  private readonly db: Database.Database;
  private readonly s: Record<string, Stmt>;
  /** Per camera: its id in summary_cameras (0: none yet) and its highest stored seq. Dropped on a rollback. */
  private readonly cams = new Map<string, { id: number; seq: number }>();
  /** Rows stored since summary_keys last caught up (may over-count: only a cue to look). */
  private unindexed = 0;
  /** beginBatch() opened a transaction that commitBatch() has not ended (SQLite may end it first: liveBatch). */
  private batchOpen = false;
  /** Alert queries by site, device and camera, prepared once per combination of filters. */
  private readonly scoped = new Map<string, Stmt>();
  /** Timed bookkeeping writes that failed (a full disk); each is tried again on the next tick. */
  flushFailures = 0;
  private readonly offsets = new Map<string, { summary: number; event: number }>();
  /** Bookkeeping of committed writes, waiting for the next flush (putCamera and touch rows). */
  private readonly dirtyCameras = new Map<string, unknown[]>();
  private readonly dirtyDevices = new Map<string, unknown[]>();
  /** Bookkeeping of the open batch: joins the above when the batch commits, dropped when it is rolled back. */
  private readonly batchCameras = new Map<string, unknown[]>();
  private readonly batchDevices = new Map<string, unknown[]>();
  private readonly flushTx: () => void;
  private readonly timer: NodeJS.Timeout;
  /** Devices rows by site/device, read through; null: no row. Dropped on a status write or a rollback. */
  private readonly deviceRows = new Map<string, CachedDevice | null>();
  /** Bytes of payload written since the last checkpoint was asked for (an estimate of the WAL's growth). */
  private unCheckpointed = 0;
  private checkpointer: Checkpointer | undefined;
  /** The worker died: checkpoints are the writer's again (SQLite's default), for good. */
  private checkpointerDead = false;
  private readonly walBytes: number;
  /** Batches committed, and the time their COMMITs took (ms): the bench's store cost per summary. */
  readonly batches = { committed: 0, commitMs: 0 };

  constructor(
    readonly file: string,
    flushMs = 500,
    o: {
      readonly cacheBytes?: number;
      /** While checkpoints run on the worker, the WAL grows to about this much before the writer checkpoints itself (default 64 MiB). */
      readonly walBytes?: number;
      readonly onUpgrade?: OnUpgrade;
    } = {},
  ) {
    this.walBytes = o.walBytes ?? SAFETY_CHECKPOINT_BYTES;
    this.db = open(file, o.cacheBytes ?? DEFAULT_CACHE_BYTES, o.onUpgrade);
    const p = (sql: string): Stmt => this.db.prepare(sql);
    this.s = {
      putStatus: p(`INSERT INTO devices (site, device, state, last_seen, status, epoch) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT(site, device) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen, status = excluded.status, epoch = coalesce(excluded.epoch, devices.epoch)`),
      lastEpoch: p('SELECT epoch FROM devices WHERE site = ? AND device = ?'),
      touch: p('UPDATE devices SET last_seen = max(last_seen, ?) WHERE site = ? AND device = ?'),
      insertSummary: p('INSERT INTO summaries (site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload, cam) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      camId: p(CAM),
      newCam: p('INSERT INTO summary_cameras (site, device, camera) VALUES (?, ?, ?)'),
      lastSeq: p('SELECT max(seq) AS seq FROM summary_keys WHERE cam = ?'),
      hasSummary: p('SELECT 1 AS x FROM summary_keys WHERE cam = ? AND seq = ?'),
      // The rows past the highest indexed id; OR IGNORE: a second row of one key (none is stored twice) never blocks the rest.
      indexTail: p('INSERT OR IGNORE INTO summary_keys (cam, seq, rid) SELECT cam, seq, id FROM summaries WHERE id > (SELECT coalesce(max(rid), 0) FROM summary_keys)'),
      putCamera: p(`INSERT INTO cameras (site, device, camera, last_seq, last_end, last_status, last_received) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(site, device, camera) DO UPDATE SET
          last_seq = max(last_seq, excluded.last_seq),
          last_end = CASE WHEN excluded.last_seq >= last_seq THEN excluded.last_end ELSE last_end END,
          last_status = CASE WHEN excluded.last_seq >= last_seq THEN excluded.last_status ELSE last_status END,
          last_received = excluded.last_received`),
      insertEvent: p('INSERT OR IGNORE INTO events (site, device, camera, seq, ts, kind, received_ts, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      device: p('SELECT site, device, state, last_seen AS lastSeen, status FROM devices WHERE site = ? AND device = ?'),
      devices: p('SELECT site, device, state, last_seen AS lastSeen, status FROM devices ORDER BY site, device'),
      cameras: p('SELECT site, device, camera, last_seq AS lastSeq, last_end AS lastEnd, last_status AS lastStatus, last_received AS lastReceived FROM cameras ORDER BY site, device, camera'),
      // One json_extract with two paths: the payload is parsed once per row, into [drivers, familyScores].
      timeline: p(`SELECT k.seq, s.start_ts AS start, s.end_ts AS "end", s.status, s.frames, json_extract(s.payload, '$.drivers', '$.familyScores') AS chart
        FROM summary_keys k JOIN summaries s ON s.id = k.rid
        WHERE k.cam = (${CAM}) AND s.end_ts >= ? AND k.seq < ? ORDER BY k.seq DESC LIMIT ?`),
      camera: p('SELECT site, device, camera, last_seq AS lastSeq, last_end AS lastEnd, last_status AS lastStatus, last_received AS lastReceived FROM cameras WHERE site = ? AND device = ? AND camera = ?'),
      summaries: p(`SELECT s.payload FROM summary_keys k JOIN summaries s ON s.id = k.rid WHERE k.cam = (${CAM}) ORDER BY k.seq`),
      summary: p(`SELECT s.payload FROM summary_keys k JOIN summaries s ON s.id = k.rid WHERE k.cam = (${CAM}) AND k.seq = ?`),
      saveAlert: p(`INSERT INTO alerts (id, fingerprint, state, starts_at, updated_at, record, site, device, camera) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at, record = excluded.record`),
      alert: p('SELECT record FROM alerts WHERE id = ?'),
      devicePage: p('SELECT site, device, state, last_seen AS lastSeen, status FROM devices WHERE (site, device) > (?, ?) ORDER BY site, device LIMIT ?'),
      cameraPage: p('SELECT site, device, camera, last_seq AS lastSeq, last_end AS lastEnd, last_status AS lastStatus, last_received AS lastReceived FROM cameras WHERE (site, device, camera) > (?, ?, ?) ORDER BY site, device, camera LIMIT ?'),
      // (updated_at, id) is the page key: unique, and in the order the list is read.
      alertsAll: p('SELECT record FROM alerts WHERE (updated_at, id) < (?, ?) ORDER BY updated_at DESC, id DESC LIMIT ?'),
      alertsBy: p('SELECT record FROM alerts WHERE state = ? AND (updated_at, id) < (?, ?) ORDER BY updated_at DESC, id DESC LIMIT ?'),
      // Rows are inserted in receive order, so id order is receive order: no index on received_ts.
      pruneBefore: p('SELECT coalesce((SELECT id FROM summaries WHERE received_ts >= ? ORDER BY id LIMIT 1), (SELECT max(id) + 1 FROM summaries)) AS id').pluck(),
      pruneSummaries: p('DELETE FROM summaries WHERE id < ?'),
      pruneKeys: p('DELETE FROM summary_keys WHERE rid < ?'),
      pruneEvents: p('DELETE FROM events WHERE received_ts < ?'),
      pruneQuarantine: p('DELETE FROM quarantine WHERE received_ts < ?'),
      quarantine: p('INSERT OR IGNORE INTO quarantine (site, device, camera, seq, received_ts, reason, payload) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      // Summaries held for their times (reason `time: …`) are never released: only seq jumps are.
      quarantineTop: p("SELECT max(seq) AS seq FROM quarantine WHERE site = ? AND device = ? AND camera = ? AND reason NOT LIKE 'time:%'"),
      quarantined: p("SELECT received_ts AS receivedTs, payload FROM quarantine WHERE site = ? AND device = ? AND camera = ? AND reason NOT LIKE 'time:%' ORDER BY seq"),
      unquarantine: p("DELETE FROM quarantine WHERE site = ? AND device = ? AND camera = ? AND reason NOT LIKE 'time:%'"),
      quarantineCount: p('SELECT count(*) AS n FROM quarantine'),
      offsets: p('SELECT summary_offset AS summary, event_offset AS event FROM epochs WHERE site = ? AND device = ? AND camera = ?'),
      // From the cameras' last seqs as well as the stored keys: retention may have pruned every
      // summary of a camera whose last seq dedupe still compares against.
      deviceSeqs: p(`SELECT camera, max(s) AS summary, max(e) AS event FROM (
          SELECT camera, last_seq AS s, 0 AS e FROM cameras WHERE site = ? AND device = ?
          UNION ALL SELECT c.camera, max(k.seq), 0 FROM summary_cameras c JOIN summary_keys k ON k.cam = c.id WHERE c.site = ? AND c.device = ? GROUP BY c.camera
          UNION ALL SELECT camera, 0, max(seq) FROM events WHERE site = ? AND device = ? GROUP BY camera
        ) GROUP BY camera`),
      putOffsets: p(`INSERT INTO epochs (site, device, camera, summary_offset, event_offset) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(site, device, camera) DO UPDATE SET summary_offset = excluded.summary_offset, event_offset = excluded.event_offset`),
      dropQuarantine: p('DELETE FROM quarantine WHERE site = ? AND device = ?'),
      pruneAlerts: p("DELETE FROM alerts WHERE state = 'resolved' AND updated_at < ?"),
    };
    this.flushTx = this.db.transaction(() => {
      // Either order: each statement keeps the highest seq and the latest time.
      for (const m of [this.dirtyCameras, this.batchCameras]) for (const row of m.values()) this.s.putCamera!.run(row);
      for (const m of [this.dirtyDevices, this.batchDevices]) for (const row of m.values()) this.s.touch!.run(row);
      this.s.indexTail!.run([]);
    });
    // A crash after a COMMIT and before its flush left rows without keys: index them before any read.
    this.unindexed = 1;
    this.indexedIfPossible();
    this.timer = setInterval(() => {
      try {
        this.flush();
      } catch {
        // A full disk: the bookkeeping stays dirty and is written on the next tick that succeeds.
        this.flushFailures++;
      }
    }, flushMs);
    this.timer.unref();
  }

  beginBatch(): void {
    this.liveBatch(); // a lost batch is refused by its own commit first, never merged into the next
    if (this.db.inTransaction) return;
    this.db.exec('BEGIN');
    this.batchOpen = true;
  }

  commitBatch(): void {
    if (this.batchLost()) {
      this.batchOpen = false;
      throw new Error(LOST_BATCH);
    }
    if (!this.db.inTransaction) return;
    this.batchOpen = false;
    const t0 = performance.now();
    try {
      this.db.exec('COMMIT');
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.forget();
      throw e;
    }
    this.batches.committed++;
    this.batches.commitMs += performance.now() - t0;
    for (const [key, row] of this.batchCameras) this.dirtyCameras.set(key, row); // newer: set only at a seq at or above the last
    for (const [key, row] of this.batchDevices) touchLatest(this.dirtyDevices, key, row[0] as number, row[1], row[2]);
    this.batchCameras.clear();
    this.batchDevices.clear();
    if (this.unCheckpointed >= CHECKPOINT_BYTES) this.checkpointSoon();
  }

  /**
   * SQLite ended the open batch itself: a write in it failed with SQLITE_FULL, IOERR or NOMEM, which
   * roll back the whole transaction, not the statement (a write whose error a rule or a read
   * contained, too). Nothing of the batch is stored, and the caches are forgotten. Until the batch's
   * own commitBatch(), which throws so that its messages are refused, every ingest write throws
   * (liveBatch) and no bookkeeping is flushed: each would commit on its own, outside the batch.
   */
  private batchLost(): boolean {
    if (!this.batchOpen || this.db.inTransaction) return false;
    this.forget();
    return true;
  }

  private liveBatch(): void {
    if (this.batchLost()) throw new Error(LOST_BATCH);
  }

  /**
   * After a rollback: the caches may name rows and cameras that were rolled back. Forgotten rather
   * than claim a last seq whose summary is not stored (the next summaries of each camera write them
   * again). The batch's bookkeeping goes; that of batches committed before it stays dirty (a flush
   * inside the batch wrote it there, and the rollback took that back too). Keys written inside the
   * batch (a read indexes first) went back with it, those of rows committed before it too: the next
   * read indexes again.
   */
  private forget(): void {
    this.cams.clear();
    this.offsets.clear(); // a new epoch's offsets, written in the batch
    this.unindexed = 1;
    this.batchCameras.clear();
    this.batchDevices.clear();
    this.deviceRows.clear();
  }

  /** Asks the worker for a checkpoint, starting it the first time (stores that stay small never start one). */
  private checkpointSoon(): void {
    if (this.checkpointerDead || this.file === ':memory:') return;
    if (!this.checkpointer) {
      this.checkpointer = new Checkpointer(this.file, () => {
        this.checkpointerDead = true;
        this.checkpointer = undefined;
        if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${DEFAULT_CHECKPOINT_PAGES}`);
      });
      const page = this.db.pragma('page_size', { simple: true }) as number;
      this.db.pragma(`wal_autocheckpoint = ${Math.ceil(this.walBytes / page)}`);
    }
    if (this.checkpointer.request()) this.unCheckpointed = 0;
  }

  /** Checkpoints done and failed on the worker thread (tests, diagnostics); undefined before it started. */
  get checkpoints(): { done: number; failures: number; lastError: string | undefined } | undefined {
    const c = this.checkpointer;
    return c && { done: c.done, failures: c.failures, lastError: c.lastError };
  }

  /** Writes the in-memory bookkeeping (cameras' last seq and verdict, devices' last seen) and the new rows' keys. */
  flush(): void {
    if (!this.dirtyCameras.size && !this.dirtyDevices.size && !this.batchCameras.size && !this.batchDevices.size && !this.unindexed) return;
    if (this.batchLost()) return; // the bookkeeping may name rows that are gone: forgotten, not written
    this.flushTx();
    this.unindexed = 0; // a rollback sets it again (forget)
    // Inside a batch (a read during a burst) the rows went into it: kept dirty until it commits, as a rollback takes them back.
    if (this.db.inTransaction) return;
    this.dirtyCameras.clear();
    this.dirtyDevices.clear();
  }

  /** Brings summary_keys up to the last row stored (in the open batch, if any: a rollback takes both back). */
  private indexed(): void {
    if (!this.unindexed) return;
    this.s.indexTail!.run([]);
    this.unindexed = 0;
  }

  /**
   * For reads that answer on a full disk too (the API, the page): the keys as far as they could be
   * written. The rows past them are indexed by the next read or flush that can write. Dedupe does
   * not use this: a store that cannot write its keys cannot store the summary either.
   */
  private indexedIfPossible(): void {
    try {
      this.indexed();
    } catch {
      // SQLITE_FULL or an I/O error: unindexed stays set; a batch this ended is refused at its commit (batchLost).
    }
  }

  putStatus(m: StatusMessage, receivedTs: number): void {
    this.liveBatch();
    this.flush();
    // Read again from the table next time (a status is rare): the row is exactly what was stored.
    this.deviceRows.delete(`${m.site}/${m.device}`);
    this.s.putStatus!.run([m.site, m.device, m.state, receivedTs, JSON.stringify(m), m.state === 'online' ? (m.epoch ?? null) : null]); // only a birth announces an epoch
  }

  lastEpoch(site: string, device: string): string | undefined {
    const r = this.s.lastEpoch!.get([site, device]) as { epoch: string | null } | undefined;
    return r?.epoch ?? undefined;
  }

  /**
   * Marks the device seen at `receivedTs`: written with the bookkeeping, at once in the cached row.
   * Both keep the latest time (a summary released from quarantine carries its older receive time).
   */
  private touch(site: string, device: string, receivedTs: number): void {
    const key = `${site}/${device}`;
    touchLatest(this.batchOpen ? this.batchDevices : this.dirtyDevices, key, receivedTs, site, device);
    const row = this.deviceRows.get(key);
    if (row && receivedTs > row.lastSeen) row.lastSeen = receivedTs; // as the UPDATE does: max(last_seen, ?)
  }

  addSummary(m: SummaryMessage, receivedTs: number, raw?: string): { result: Stored; previousSeq: number } {
    this.liveBatch();
    const key = `${m.site}/${m.device}/${m.camera}`;
    const cam = this.camOf(key, m.site, m.device, m.camera);
    const prev = cam.seq;
    // Above the camera's highest seq a summary is new; at or below it, late or repeated: the keys say which.
    if (m.seq <= prev && this.has(cam.id, m.seq)) return { result: 'duplicate', previousSeq: prev };
    if (cam.id === 0) cam.id = Number(this.s.newCam!.run([m.site, m.device, m.camera]).lastInsertRowid);
    const payload = raw ?? JSON.stringify(m);
    this.s.insertSummary!.run([m.site, m.device, m.camera, m.seq, m.start, m.end, m.status, m.frames, receivedTs, payload, cam.id]);
    this.unindexed++;
    this.unCheckpointed += payload.length + 128;
    if (m.seq >= prev) {
      cam.seq = m.seq;
      (this.batchOpen ? this.batchCameras : this.dirtyCameras).set(key, [m.site, m.device, m.camera, m.seq, m.end, m.status, receivedTs]);
    }
    this.touch(m.site, m.device, receivedTs);
    return { result: 'stored', previousSeq: prev };
  }

  lastSeq(site: string, device: string, camera: string): number {
    return this.camOf(`${site}/${device}/${camera}`, site, device, camera).seq;
  }

  /** The camera's id and highest seq: from memory after the first read. */
  private camOf(key: string, site: string, device: string, camera: string): { id: number; seq: number } {
    let cam = this.cams.get(key);
    if (cam === undefined) {
      const id = (this.s.camId!.get([site, device, camera]) as { id: number } | undefined)?.id ?? 0;
      if (id !== 0) this.indexed();
      cam = { id, seq: id === 0 ? 0 : ((this.s.lastSeq!.get([id]) as { seq: number | null }).seq ?? 0) };
      this.cams.set(key, cam);
    }
    return cam;
  }

  private has(cam: number, seq: number): boolean {
    if (cam === 0) return false;
    this.indexed();
    return this.s.hasSummary!.get([cam, seq]) !== undefined;
  }

  quarantine(m: SummaryMessage, receivedTs: number, raw: string, reason: string): Stored {
    this.liveBatch();
    const stored = this.s.quarantine!.run([m.site, m.device, m.camera, m.seq, receivedTs, reason, raw]).changes > 0;
    if (stored) this.unCheckpointed += raw.length + 128;
    return stored ? 'stored' : 'duplicate';
  }

  quarantineTop(site: string, device: string, camera: string): number {
    return (this.s.quarantineTop!.get([site, device, camera]) as { seq: number | null }).seq ?? 0;
  }

  releaseQuarantine(site: string, device: string, camera: string): SummaryMessage[] {
    const rows = this.s.quarantined!.all([site, device, camera]) as { receivedTs: number; payload: string }[];
    const released: SummaryMessage[] = [];
    for (const r of rows) {
      const m = JSON.parse(r.payload) as SummaryMessage;
      if (this.addSummary(m, r.receivedTs, r.payload).result === 'stored') released.push(m);
    }
    this.s.unquarantine!.run([site, device, camera]);
    return released;
  }

  seqOffsets(site: string, device: string, camera: string): { summary: number; event: number } {
    const key = `${site}/${device}/${camera}`;
    let o = this.offsets.get(key);
    if (!o) {
      o = (this.s.offsets!.get([site, device, camera]) as { summary: number; event: number } | undefined) ?? { summary: 0, event: 0 };
      this.offsets.set(key, o);
    }
    return o;
  }

  newEpoch(site: string, device: string): void {
    this.liveBatch();
    this.flush();
    this.db.transaction(() => {
      for (const r of this.s.deviceSeqs!.all([site, device, site, device, site, device]) as { camera: string; summary: number; event: number }[]) {
        this.s.putOffsets!.run([site, device, r.camera, r.summary, r.event]);
        this.offsets.set(`${site}/${device}/${r.camera}`, { summary: r.summary, event: r.event });
      }
      this.s.dropQuarantine!.run([site, device]); // seqs of the old epoch: they will never be continued
    })();
  }

  quarantineSize(): number {
    return (this.s.quarantineCount!.get([]) as { n: number }).n;
  }

  addEvent(e: EventMessage, receivedTs: number, raw?: string): Stored {
    this.liveBatch();
    const payload = raw ?? JSON.stringify(e);
    const stored = this.s.insertEvent!.run([e.site, e.device, e.camera, e.seq, e.ts, e.kind, receivedTs, payload]).changes > 0;
    if (stored) {
      this.unCheckpointed += payload.length + 128;
      this.touch(e.site, e.device, receivedTs);
    }
    return stored ? 'stored' : 'duplicate';
  }

  private static device(r: { site: string; device: string; state: 'online' | 'offline'; lastSeen: number; status: string }): DeviceRow {
    return { ...r, status: JSON.parse(r.status) as StatusMessage };
  }

  /**
   * One device's row: from memory after the first read (the rules ask on every summary). Its
   * `lastSeen` includes what the next bookkeeping flush writes, as a read after a flush would. The
   * status object is shared between calls: callers read it, none changes it.
   */
  device(site: string, device: string): DeviceRow | undefined {
    const key = `${site}/${device}`;
    let row = this.deviceRows.get(key);
    if (row === undefined) {
      this.flush();
      const r = this.s.device!.get([site, device]) as Parameters<typeof SqliteStore.device>[0] | undefined;
      row = r ? SqliteStore.device(r) : null;
      this.deviceRows.set(key, row);
    }
    return row ? { site: row.site, device: row.device, state: row.state, lastSeen: row.lastSeen, status: row.status } : undefined;
  }

  devices(): DeviceRow[] {
    this.flush();
    return (this.s.devices!.all([]) as Parameters<typeof SqliteStore.device>[0][]).map(SqliteStore.device);
  }

  cameras(): CameraRow[] {
    this.flush();
    return this.s.cameras!.all([]) as CameraRow[];
  }

  timeline(site: string, device: string, camera: string, sinceTs: number, limit: number, beforeSeq = Number.MAX_SAFE_INTEGER): TimelineRow[] {
    this.indexedIfPossible();
    type Raw = Omit<TimelineRow, 'drivers' | 'familyScores'> & { chart: string };
    return (this.s.timeline!.all([site, device, camera, sinceTs, beforeSeq, limit]) as Raw[])
      .map(({ chart, ...r }) => {
        const [drivers, familyScores] = JSON.parse(chart) as [TimelineRow['drivers'] | null, Record<string, number> | null];
        return { ...r, drivers: drivers ?? [], ...(familyScores ? { familyScores } : {}) };
      })
      .reverse();
  }

  camera(site: string, device: string, camera: string): CameraRow | undefined {
    this.flush();
    return this.s.camera!.get([site, device, camera]) as CameraRow | undefined;
  }

  summaries(site: string, device: string, camera: string): SummaryMessage[] {
    this.indexedIfPossible();
    return (this.s.summaries!.all([site, device, camera]) as { payload: string }[]).map((r) => JSON.parse(r.payload) as SummaryMessage);
  }

  summary(site: string, device: string, camera: string, seq: number): SummaryMessage | undefined {
    this.indexedIfPossible();
    const r = this.s.summary!.get([site, device, camera, seq]) as { payload: string } | undefined;
    return r && (JSON.parse(r.payload) as SummaryMessage);
  }

  saveAlert(a: AlertRecord): void {
    this.s.saveAlert!.run([a.id, a.fingerprint, a.state, a.startsAt, a.updatedAt, JSON.stringify(a), a.labels.site ?? null, a.labels.device ?? null, a.labels.camera ?? null]);
  }

  alert(id: string): AlertRecord | undefined {
    const r = this.s.alert!.get([id]) as { record: string } | undefined;
    return r && (JSON.parse(r.record) as AlertRecord);
  }

  devicePage(after: readonly [string, string] | undefined, limit: number): DeviceRow[] {
    this.flush();
    return (this.s.devicePage!.all([...(after ?? ['', '']), limit]) as Parameters<typeof SqliteStore.device>[0][]).map(SqliteStore.device);
  }

  cameraPage(after: readonly [string, string, string] | undefined, limit: number): CameraRow[] {
    this.flush();
    return this.s.cameraPage!.all([...(after ?? ['', '', '']), limit]) as CameraRow[];
  }

  alerts(o: AlertQuery): AlertRecord[] {
    // '\uffff' sorts after every ISO time and id: no `before` means from the newest.
    const before = o.before ?? ['\uffff', '\uffff'];
    let rows: { record: string }[];
    if (o.site === undefined) rows = (o.state ? this.s.alertsBy!.all([o.state, ...before, o.limit]) : this.s.alertsAll!.all([...before, o.limit])) as { record: string }[];
    else {
      // One statement per combination of filters, each on the (site, device, camera, updated_at) index.
      const where = ['site = @site', ...(o.device !== undefined ? ['device = @device'] : []), ...(o.camera !== undefined ? ['camera = @camera'] : []), ...(o.state ? ['state = @state'] : [])];
      const key = where.join(' AND ');
      let stmt = this.scoped.get(key);
      if (!stmt) {
        stmt = this.db.prepare(`SELECT record FROM alerts WHERE ${key} AND (updated_at, id) < (@u, @i) ORDER BY updated_at DESC, id DESC LIMIT @limit`);
        this.scoped.set(key, stmt);
      }
      const params = { site: o.site, ...(o.device !== undefined ? { device: o.device } : {}), ...(o.camera !== undefined ? { camera: o.camera } : {}), ...(o.state ? { state: o.state } : {}), u: before[0], i: before[1], limit: o.limit };
      rows = stmt.all(params) as { record: string }[];
    }
    return rows.map((r) => JSON.parse(r.record) as AlertRecord);
  }

  prune(now: number, keepMs: number, keepAlertsMs: number): number {
    return this.db.transaction(() => {
      const before = this.s.pruneBefore!.get([now - keepMs]) as number | null;
      let n = this.s.pruneSummaries!.run([before]).changes;
      this.s.pruneKeys!.run([before]);
      n += this.s.pruneEvents!.run([now - keepMs]).changes;
      n += this.s.pruneQuarantine!.run([now - keepMs]).changes;
      n += this.s.pruneAlerts!.run([new Date(now - keepAlertsMs).toISOString()]).changes;
      return n;
    })();
  }

  /** Commits and flushes what is open, then closes, even when that fails (a full disk): the error is thrown after. */
  close(): void {
    if (!this.db.open) return;
    clearInterval(this.timer);
    try {
      this.commitBatch();
      this.flush();
    } finally {
      this.checkpointer?.close();
      this.checkpointer = undefined;
      this.db.close(); // an open transaction is rolled back; its messages were never acknowledged
    }
  }
}
