/** Writes closed telemetry windows to the `windows` table, one row per camera window. */
import type { DriftResult } from '../drift/camera-drift.js';
import type { WindowSummary } from '../telemetry/window.js';
import type { Db } from './database.js';

export class WindowWriter {
  private readonly insert: ReturnType<Db['prepare']>;
  /** Windows that could not be written (the database refused them); logged by the caller. */
  failed = 0;

  constructor(db: Db) {
    this.insert = db.prepare('INSERT INTO windows (camera_id, start_ts, end_ts, frames, dropped, errors, stats, severity, drift) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  }

  /** One row per window; `drift` (when scored) fills the severity and drift columns. */
  write(cameraId: number, w: WindowSummary, dropped: number, errors: number, drift?: DriftResult): boolean {
    const { startTs, endTs, frames, ...stats } = w;
    try {
      this.insert.run([cameraId, startTs, endTs, frames, dropped, errors, JSON.stringify(stats), drift?.severity ?? null, drift ? JSON.stringify(drift) : null]);
      return true;
    } catch {
      this.failed++;
      return false;
    }
  }
}
