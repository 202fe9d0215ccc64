/**
 * Retention, enforced while the agent runs: rows older than `maxAgeMs` go, and when the database
 * (main file plus WAL) would exceed `maxBytes`, the oldest frames go first, then the oldest windows,
 * until it is back under a low-water mark. Deletes run in small chunks so that the event loop is
 * never held for long; incremental vacuum and a WAL checkpoint hand the space back to the disk.
 *
 * The disk may be smaller than the budget, or shared: when the filesystem's free space is under
 * `minFreeBytes`, the same order of shedding frees what is missing (and a quarter more, so that it
 * does not run again at once). Under `pressure` (a write just failed with the disk full) it sheds a
 * tenth of the live data at least. The outbox is never shed: it is the data not yet delivered.
 */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
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
  /** Free space to keep on the database's filesystem, in bytes (default 0: none). */
  readonly minFreeBytes?: number;
}

export interface RetentionResult {
  readonly framesDeleted: number;
  readonly windowsDeleted: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** Free bytes on the database's filesystem afterwards (Infinity for an in-memory database). */
  readonly freeBytes: number;
}

/** Bytes an unprivileged process may still write on the filesystem holding `db`. */
export function freeBytes(db: Db): number {
  if (db.memory) return Number.POSITIVE_INFINITY;
  const s = statfsSync(dirname(db.name));
  return s.bavail * s.bsize;
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

  enforce(now = Date.now(), o: { pressure?: boolean } = {}): RetentionResult {
    const p = this.policy;
    if (o.pressure) {
      // The WAL may hold megabytes the main file no longer needs: folding it in and truncating it
      // is the one write that frees space before anything is deleted.
      try {
        this.db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // A checkpoint the full disk refuses: the deletes below still free pages for reuse.
      }
    }
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
    const afterAge = databaseBytes(this.db);
    let target = p.maxBytes * (p.lowWater ?? 0.8);
    const minFree = p.minFreeBytes ?? 0;
    // Only a free-space floor needs the filesystem's figure here (pressure sheds a share of the data).
    const free = minFree > 0 ? freeBytes(this.db) : Number.POSITIVE_INFINITY;
    if (free < minFree) target = Math.min(target, afterAge.used - (minFree - free) * 1.25);
    if (o.pressure) target = Math.min(target, afterAge.used * 0.9);
    target = Math.max(0, target);
    if (before.file + before.wal > p.maxBytes * 0.95 || afterAge.used + afterAge.wal > target) {
      // Checkpoint first so the WAL's share is measured after it is folded into the main file.
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      for (let guard = 0; guard < 10_000; guard++) {
        const used = databaseBytes(this.db).used;
        if (used <= target) break;
        const rows = this.countFrames.get()!;
        if (rows.n > 0) {
          // Delete a slice proportional to the overshoot: at least one chunk, or a tenth of a small table.
          const over = (used - target) / Math.max(1, used);
          const n = Math.max(Math.min(CHUNK, Math.ceil(rows.n / 10)), Math.ceil(rows.n * Math.min(0.5, over + 0.02)));
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
    const freeAfter = minFree > 0 || o.pressure ? freeBytes(this.db) : Number.POSITIVE_INFINITY;
    return { framesDeleted, windowsDeleted, bytesBefore: before.file + before.wal, bytesAfter: after.file + after.wal, freeBytes: freeAfter };
  }
}
