/**
 * Store and forward: every message the agent publishes is first a row in the SQLite outbox, written
 * in the same transaction that hands out its `seq`. A row is deleted only when the broker has
 * acknowledged it (PUBACK), so a broker outage, a network cut or an agent crash loses nothing: the
 * backlog is sent again, oldest first. The outbox is bounded; beyond `maxRows` the oldest rows are
 * dropped and counted, so a months-long outage cannot fill the disk.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/database.js';

export interface OutboxRow {
  readonly id: number;
  readonly topic: string;
  readonly payload: string;
}

export class Outbox {
  private readonly nextSeq: ReturnType<Db['prepare']>;
  private readonly insert: ReturnType<Db['prepare']>;
  private readonly after: ReturnType<Db['prepare']>;
  private readonly remove: ReturnType<Db['prepare']>;
  private readonly trim: ReturnType<Db['prepare']>;
  private readonly countRows: ReturnType<Db['prepare']>;
  private readonly first: ReturnType<Db['prepare']>;
  private readonly enqueueTx: (stream: string, build: (seq: number) => { topic: string; payload: string }) => number;
  private rows: number;
  /** Acknowledged ids whose delete the database refused (ack()). */
  private readonly unremoved: number[] = [];
  /** Rows dropped because the outbox was full (the oldest go first). */
  dropped = 0;
  /**
   * This database's sequence epoch: made once, with the seq counters. A new database (a re-imaged
   * device, a deleted store) starts seqs again at 1 under a new epoch, which the birth announces,
   * so the collector takes them as new instead of as repeats (docs/mqtt.md).
   */
  readonly epoch: string;

  constructor(
    db: Db,
    readonly maxRows: number,
  ) {
    this.nextSeq = db.prepare('INSERT INTO publish_seq (stream, seq) VALUES (?, 1) ON CONFLICT(stream) DO UPDATE SET seq = seq + 1 RETURNING seq');
    this.insert = db.prepare('INSERT INTO outbox (topic, payload, created_ts) VALUES (?, ?, ?)');
    this.after = db.prepare('SELECT id, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?');
    this.remove = db.prepare('DELETE FROM outbox WHERE id = ?');
    this.trim = db.prepare('DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)');
    this.countRows = db.prepare('SELECT count(*) AS n FROM outbox');
    this.first = db.prepare('SELECT created_ts AS ts FROM outbox ORDER BY id LIMIT 1');
    this.rows = (this.countRows.get([]) as { n: number }).n;
    db.prepare("INSERT INTO agent_meta (key, value) VALUES ('publish_epoch', ?) ON CONFLICT(key) DO NOTHING").run([randomBytes(8).toString('hex')]);
    this.epoch = (db.prepare("SELECT value FROM agent_meta WHERE key = 'publish_epoch'").get([]) as { value: string }).value;
    this.enqueueTx = db.transaction((stream: string, build: (seq: number) => { topic: string; payload: string }) => {
      const seq = (this.nextSeq.get([stream]) as { seq: number }).seq;
      const m = build(seq);
      this.insert.run([m.topic, m.payload, Date.now()]);
      return seq;
    });
  }

  /** Rows waiting for a broker acknowledgement. */
  get size(): number {
    return this.rows;
  }

  /**
   * Takes the next `seq` of `stream` and stores the message built with it, atomically: a seq is
   * never handed out without its message, nor reused after a restart. Throws when the database
   * refuses the write (disk full); the seq is then not consumed.
   */
  enqueue(stream: string, build: (seq: number) => { topic: string; payload: string }): number {
    const seq = this.enqueueTx(stream, build);
    this.rows++;
    if (this.rows > this.maxRows) {
      const n = this.rows - this.maxRows;
      this.trim.run([n]);
      this.rows -= n;
      this.dropped += n;
    }
    return seq;
  }

  /** When the oldest unacknowledged message was stored (ms since the epoch), or undefined when none waits. */
  oldestTs(): number | undefined {
    return (this.first.get([]) as { ts: number } | undefined)?.ts;
  }

  /** Up to `limit` rows after `id`, oldest first. */
  next(afterId: number, limit: number): OutboxRow[] {
    return this.after.all([afterId, limit]) as OutboxRow[];
  }

  /**
   * The broker acknowledged the row: forget it. A delete that the database refuses (a disk full to
   * the last byte has no room even for the journal a DELETE writes) keeps the id and throws; the row
   * is deleted with the next acknowledgement that succeeds, or by retryAcks(). Until then it is not
   * sent again in this session (the publisher's cursor is past it); after a restart it would be, and
   * the collector drops the repeat by its seq.
   */
  ack(id: number): void {
    try {
      if (this.remove.run([id]).changes > 0) this.rows--;
    } catch (e) {
      this.unremoved.push(id);
      throw e;
    }
    if (this.unremoved.length > 0) this.retryAcks();
  }

  /** Acknowledged rows whose delete the database refused, still in it. */
  get undeleted(): number {
    return this.unremoved.length;
  }

  /** Deletes the acknowledged rows the database refused before, oldest first; throws (keeping the rest) when it still refuses. */
  retryAcks(): void {
    while (this.unremoved.length > 0) {
      if (this.remove.run([this.unremoved[0]!]).changes > 0) this.rows--;
      this.unremoved.shift();
    }
  }
}
