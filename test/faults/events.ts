/** Events the collector stored, read from its database file (in-process or CLI collector). */
import Database from 'better-sqlite3';

export interface StoredEvent {
  readonly camera: string;
  readonly ts: number;
  readonly detail: Record<string, number | string>;
}

/** Events of one kind the collector stored for a device, in the order it received them. */
export function storedEvents(collectorDb: string, site: string, device: string, kind: string): StoredEvent[] {
  const db = new Database(collectorDb, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    const rows = db.prepare('SELECT camera, payload FROM events WHERE site = ? AND device = ? AND kind = ? ORDER BY received_ts').all([site, device, kind]) as { camera: string; payload: string }[];
    return rows.map((r) => {
      const m = JSON.parse(r.payload) as { ts: number; detail?: Record<string, number | string> };
      return { camera: r.camera, ts: m.ts, detail: m.detail ?? {} };
    });
  } finally {
    db.close();
  }
}
