/**
 * Store and forward: every message the agent publishes is first a row in the SQLite outbox, written
 * in the same transaction that hands out its `seq`. A row is deleted only when the broker has
 * acknowledged it (PUBACK), so a broker outage, a network cut or an agent crash loses nothing: the
 * backlog is sent again, oldest first. The outbox is bounded; beyond `maxRows` the oldest rows are
 * dropped and counted, so a months-long outage cannot fill the disk.
 *
 * On a disk full to the last byte even a DELETE is refused (its journal needs room). An acknowledged
 * row whose delete is refused is kept: its id is remembered, it is not handed out again while this
 * process runs, it is not counted as waiting or as dropped, and retryAcks() deletes such rows in
 * bounded batches once the database takes writes again. After a restart it is sent once more; the
 * collector drops the repeat by its seq. Acknowledgements come in id order (the publisher sends in
 * id order, and a broker acknowledges in the order it received, MQTT 4.6): the rows after the
 * highest kept id all wait, so reads from there cost what they cost with nothing kept.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/database.js';

export interface OutboxRow {
  readonly id: number;
  readonly topic: string;
  readonly payload: string;
}

/** Kept rows deleted per retryAcks(): one transaction, run inside a callback, so bounded. */
export const RETRY_BATCH = 500;
/** Rows read per query while passing over kept ones. */
const SCAN_PAGE = 500;
const NONE: readonly { id: number }[] = [];

/** The status seq's counter among the streams' (a camera name cannot begin with `$`). */
const STATUS_STREAM = '$status';

export class Outbox {
  private readonly nextSeq: ReturnType<Db['prepare']>;
  private readonly insert: ReturnType<Db['prepare']>;
  private readonly after: ReturnType<Db['prepare']>;
  private readonly firstAfter: ReturnType<Db['prepare']>;
  private readonly exists: ReturnType<Db['prepare']>;
  private readonly remove: ReturnType<Db['prepare']>;
  private readonly trim: ReturnType<Db['prepare']>;
  private readonly countRows: ReturnType<Db['prepare']>;
  private readonly enqueueTx: (stream: string, build: (seq: number) => { topic: string; payload: string }) => { seq: number; trimmed: readonly { id: number }[] };
  private readonly removeMany: (ids: readonly number[]) => number;
  /** Rows in the table, kept ones included. */
  private rows: number;
  /** Acknowledged ids whose delete the database refused (ack()), in the order they were acknowledged. */
  private readonly kept = new Set<number>();
  /**
   * The highest kept id; 0 when none is kept. Acknowledgements come in send order, which is id
   * order, so every row after it waits, and reads that start there need not look for kept rows.
   */
  private keptMax = 0;
  /** Kept rows per retryAcks() batch: RETRY_BATCH, one after a refused batch, doubling again with each success. */
  private batch = RETRY_BATCH;
  /** Rows dropped because the outbox was full (the oldest go first). */
  dropped = 0;
  /** Takes the next status seq (nextStatusSeq). */
  private readonly nextStatusTx: () => number;
  /**
   * This database's sequence epoch: made once, with the seq counters. A new database (a re-imaged
   * device, a deleted store) starts seqs again at 1 under a new epoch, which the birth announces,
   * so the collector takes them as new instead of as repeats (docs/mqtt.md).
   */
  readonly epoch: string;

  /**
   * The next status seq: one per broker connection, kept with the seq counters (so it goes on
   * across restarts, and starts again with a new epoch). The collector orders a device's statuses
   * by it (docs/mqtt.md), so a seq handed out must never be handed out again: it is written in a
   * transaction of its own (a commit the disk refuses throws, where a statement's own implicit
   * commit would not), synced to disk whatever `synchronous` the database runs with (a power cut
   * must not roll it back). Undefined when it cannot be stored (a full disk): the statuses then go
   * without, and the collector orders them by when they arrive.
   */
  nextStatusSeq(): number | undefined {
    if (this.db.inTransaction) return undefined; // (never, today) its own transaction, and the sync setting, need none open
    try {
      const synchronous = this.db.pragma('synchronous', { simple: true }) as number;
      try {
        this.db.pragma('synchronous = FULL');
        return this.nextStatusTx();
      } finally {
        this.db.pragma(`synchronous = ${synchronous}`);
      }
    } catch {
      return undefined;
    }
  }

  constructor(
    private readonly db: Db,
    readonly maxRows: number,
  ) {
    this.nextSeq = db.prepare('INSERT INTO publish_seq (stream, seq) VALUES (?, 1) ON CONFLICT(stream) DO UPDATE SET seq = seq + 1 RETURNING seq');
    this.nextStatusTx = db.transaction(() => (this.nextSeq.get([STATUS_STREAM]) as { seq: number }).seq);
    this.insert = db.prepare('INSERT INTO outbox (topic, payload, created_ts) VALUES (?, ?, ?)');
    this.after = db.prepare('SELECT id, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?');
    this.firstAfter = db.prepare('SELECT created_ts AS ts FROM outbox WHERE id > ? ORDER BY id LIMIT 1');
    this.exists = db.prepare('SELECT 1 FROM outbox WHERE id = ?');
    this.remove = db.prepare('DELETE FROM outbox WHERE id = ?');
    this.trim = db.prepare('DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?) RETURNING id');
    this.countRows = db.prepare('SELECT count(*) AS n FROM outbox');
    this.rows = (this.countRows.get([]) as { n: number }).n;
    db.prepare("INSERT INTO agent_meta (key, value) VALUES ('publish_epoch', ?) ON CONFLICT(key) DO NOTHING").run([randomBytes(8).toString('hex')]);
    this.epoch = (db.prepare("SELECT value FROM agent_meta WHERE key = 'publish_epoch'").get([]) as { value: string }).value;
    // The trim is part of the message's transaction: a trim the database refuses takes the message
    // back with it, so a caller that retries does not store it twice under two seqs.
    this.enqueueTx = db.transaction((stream: string, build: (seq: number) => { topic: string; payload: string }) => {
      const seq = (this.nextSeq.get([stream]) as { seq: number }).seq;
      const m = build(seq);
      this.insert.run([m.topic, m.payload, Date.now()]);
      const over = this.rows + 1 - this.maxRows;
      return { seq, trimmed: over > 0 ? (this.trim.all([over]) as { id: number }[]) : NONE };
    });
    this.removeMany = db.transaction((ids: readonly number[]) => {
      let n = 0;
      for (const id of ids) n += this.remove.run([id]).changes;
      return n;
    });
  }

  /** Rows waiting for a broker acknowledgement (kept rows are acknowledged: not counted). */
  get size(): number {
    return this.rows - this.kept.size;
  }

  /**
   * Takes the next `seq` of `stream` and stores the message built with it, atomically: a seq is
   * never handed out without its message, nor reused after a restart. Throws when the database
   * refuses the write (disk full); the seq is then not consumed.
   */
  enqueue(stream: string, build: (seq: number) => { topic: string; payload: string }): number {
    const { seq, trimmed } = this.enqueueTx(stream, build);
    this.rows += 1 - trimmed.length;
    // The oldest rows go first, and kept ones are among the oldest: delivered already, not dropped.
    for (const { id } of trimmed) if (!this.kept.delete(id)) this.dropped++;
    if (this.kept.size === 0) this.keptMax = 0;
    return seq;
  }

  /** When the oldest unacknowledged message was stored (ms since the epoch), or undefined when none waits. */
  oldestTs(): number | undefined {
    return (this.firstAfter.get([this.keptMax]) as { ts: number } | undefined)?.ts;
  }

  /**
   * Up to `limit` rows after `afterId` that wait for an acknowledgement, oldest first, and `through`:
   * the id to ask after next time (past the rows returned and the kept rows passed over).
   */
  next(afterId: number, limit: number): { rows: OutboxRow[]; through: number } {
    if (limit <= 0) return { rows: [], through: afterId };
    if (afterId >= this.keptMax) {
      const got = this.after.all([afterId, limit]) as OutboxRow[];
      return { rows: got, through: got.length ? got[got.length - 1]!.id : afterId };
    }
    // Among kept rows: read a page at a time and pass over them.
    const rows: OutboxRow[] = [];
    const page = Math.max(limit, SCAN_PAGE);
    let through = afterId;
    for (;;) {
      const got = this.after.all([through, page]) as OutboxRow[];
      for (const r of got) {
        through = r.id;
        if (this.kept.has(r.id)) continue;
        rows.push(r);
        if (rows.length === limit) return { rows, through };
      }
      if (got.length < page) return { rows, through };
    }
  }

  /**
   * The broker acknowledged the row: delete it. A delete the database refuses keeps the id (see the
   * header) and throws.
   */
  ack(id: number): void {
    try {
      if (this.remove.run([id]).changes > 0) this.rows--;
    } catch (e) {
      let there = true;
      try {
        there = this.exists.get([id]) !== undefined; // a read still works on a full disk
      } catch {
        // Cannot tell: kept, and retryAcks finds out.
      }
      if (there) {
        this.kept.add(id);
        if (id > this.keptMax) this.keptMax = id;
      }
      throw e;
    }
  }

  /** Acknowledged rows whose delete the database refused, still in it. */
  get undeleted(): number {
    return this.kept.size;
  }

  /**
   * Deletes up to `limit` kept rows, the first acknowledged first, in one transaction; returns how
   * many are still kept. A batch refused is tried as its first row alone (a nearly full disk may have
   * room for one delete's journal); when it goes, the next batches start at one row and double with
   * each that succeeds, up to RETRY_BATCH. Throws, keeping them all, when the single row is refused too.
   */
  retryAcks(limit = this.batch): number {
    if (this.kept.size === 0) return 0;
    const ids: number[] = [];
    for (const id of this.kept) {
      ids.push(id);
      if (ids.length >= limit) break;
    }
    let deleted: number;
    try {
      deleted = this.removeMany(ids);
      this.batch = Math.min(RETRY_BATCH, this.batch * 2);
    } catch (e) {
      // A nearly full disk may take one delete's journal and not a batch's: then one at a time.
      if (ids.length === 1) throw e;
      ids.length = 1;
      deleted = this.removeMany(ids);
      this.batch = 1; // one went where the batch did not
    }
    this.rows -= deleted;
    for (const id of ids) this.kept.delete(id);
    if (this.kept.size === 0) this.keptMax = 0;
    return this.kept.size;
  }
}
