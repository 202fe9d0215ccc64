/**
 * Retention, enforced while the agent runs: rows older than `maxAgeMs` go, and when the database
 * (main file plus WAL) would exceed `maxBytes`, the oldest frames go first, then the oldest windows,
 * until it is back under a low-water mark. Deletes run in small chunks so that the event loop is
 * never held for long; incremental vacuum and a WAL checkpoint hand the space back to the disk.
 */
import type { Statement } from 'better-sqlite3';
import { databaseBytes, type Db } from './database.js';

export interface RetentionPolicy {
  /** Frames older than this are deleted (default 7 days). */
  readonly frameMaxAgeMs: number;
  /** Windows older than this are deleted (default 90 days). */
  readonly windowMaxAgeMs: number;
  /** Budget for main file + WAL, in bytes. */
  readonly maxBytes: number;
  /** Deleting stops once usage is below this fraction of maxBytes (default 0.8). */
  readonly lowWater?: number;
}

export interface RetentionResult {
  readonly framesDeleted: number;
  readonly windowsDeleted: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

const CHUNK = 2000;

export class Retention {
  private readonly delFramesOlder: ReturnType<Db['prepare']>;
  private readonly delWindowsOlder: ReturnType<Db['prepare']>;
  private readonly delOldestFrames: ReturnType<Db['prepare']>;
  private readonly delOldestWindows: ReturnType<Db['prepare']>;
  private readonly countFrames: Statement<[], { n: number }>;

  constructor(
    private readonly db: Db,
    readonly policy: RetentionPolicy,
  ) {
    this.delFramesOlder = db.prepare(`DELETE FROM frames WHERE rowid IN (SELECT rowid FROM frames WHERE ts < ? ORDER BY ts LIMIT ${CHUNK})`);
    this.delWindowsOlder = db.prepare(`DELETE FROM windows WHERE id IN (SELECT id FROM windows WHERE end_ts < ? ORDER BY end_ts LIMIT ${CHUNK})`);
    this.delOldestFrames = db.prepare(`DELETE FROM frames WHERE rowid IN (SELECT rowid FROM frames ORDER BY rowid LIMIT ?)`);
    this.delOldestWindows = db.prepare(`DELETE FROM windows WHERE id IN (SELECT id FROM windows ORDER BY id LIMIT ?)`);
    this.countFrames = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM frames');
  }

  enforce(now = Date.now()): RetentionResult {
    const p = this.policy;
    const before = databaseBytes(this.db);
    let framesDeleted = 0;
    let windowsDeleted = 0;
    for (let n = CHUNK; n === CHUNK; ) {
      n = this.delFramesOlder.run(now - p.frameMaxAgeMs).changes;
      framesDeleted += n;
    }
    for (let n = CHUNK; n === CHUNK; ) {
      n = this.delWindowsOlder.run(now - p.windowMaxAgeMs).changes;
      windowsDeleted += n;
    }
    const target = p.maxBytes * (p.lowWater ?? 0.8);
    const afterAge = databaseBytes(this.db);
    if (before.file + before.wal > p.maxBytes * 0.95 || afterAge.used + afterAge.wal > target) {
      // Checkpoint first so the WAL's share is measured after it is folded into the main file.
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      for (let guard = 0; guard < 10_000; guard++) {
        const used = databaseBytes(this.db).used;
        if (used <= target) break;
        const rows = this.countFrames.get()!;
        if (rows.n > 0) {
          // Delete a slice proportional to the overshoot, at least one chunk.
          const over = (used - target) / Math.max(1, used);
          const n = Math.max(CHUNK, Math.ceil(rows.n * Math.min(0.5, over + 0.02)));
          framesDeleted += this.delOldestFrames.run(n).changes;
        } else {
          const w = this.delOldestWindows.run(100).changes;
          windowsDeleted += w;
          if (w === 0) break;
        }
      }
    }
    if (framesDeleted + windowsDeleted > 0) {
      this.db.pragma('incremental_vacuum');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    }
    const after = databaseBytes(this.db);
    return { framesDeleted, windowsDeleted, bytesBefore: before.file + before.wal, bytesAfter: after.file + after.wal };
  }
}
