/** Writes closed telemetry windows to the `windows` table, one row per camera window. */
import type { WindowSummary } from '../telemetry/window.js';
import type { Db } from './database.js';

export class WindowWriter {
  private readonly insert: ReturnType<Db['prepare']>;
  /** Windows that could not be written (the database refused them); logged by the caller. */
  failed = 0;

  constructor(db: Db) {
    this.insert = db.prepare('INSERT INTO windows (camera_id, start_ts, end_ts, frames, dropped, errors, stats) VALUES (?, ?, ?, ?, ?, ?, ?)');
  }

  write(cameraId: number, w: WindowSummary, dropped: number, errors: number): boolean {
    const { startTs, endTs, frames, ...stats } = w;
    try {
      this.insert.run([cameraId, startTs, endTs, frames, dropped, errors, JSON.stringify(stats)]);
      return true;
    } catch {
      this.failed++;
      return false;
    }
  }
}
