/**
 * Writes each closed window to the `windows` table, one row per camera window: its span, frame,
 * drop and error counts, its aggregates (per-feature statistics, class counts, confidence histograms
 * and latency, as JSON in `stats`) and, when drift is on, its judge verdict (`severity`) and the
 * whole drift result (`drift`, JSON).
 */
import type { DriftResult } from '../drift/types.js';
import type { WindowAggregate } from '../telemetry/window.js';
import type { Db } from './database.js';

export class WindowWriter {
  private readonly insert: ReturnType<Db['prepare']>;

  constructor(db: Db) {
    this.insert = db.prepare('INSERT INTO windows (camera_id, start_ts, end_ts, frames, dropped, errors, stats, severity, drift) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  }

  /** One row per window; `drift` (when scored) fills the severity and drift columns. False: the database refused the row. */
  write(cameraId: number, w: WindowAggregate, dropped: number, errors: number, drift?: DriftResult): boolean {
    const { startTs, endTs, frames, ...stats } = w;
    try {
      this.insert.run([cameraId, startTs, endTs, frames, dropped, errors, JSON.stringify(stats), drift?.severity ?? null, drift ? JSON.stringify(drift) : null]);
      return true;
    } catch {
      return false;
    }
  }
}
