/**
 * The cameras table: each configured camera's row id, made on its first start and kept across
 * restarts (every telemetry, window and review row points at it). Here, with the store's other
 * SQL, so that the agent's composition root only wires.
 */
import type { Db } from './database.js';

/** The row id of each camera named, in the same order; a camera seen for the first time gets a row. */
export function cameraIds(db: Db, names: readonly string[]): number[] {
  const upsert = db.prepare('INSERT INTO cameras (name) VALUES (?) ON CONFLICT(name) DO UPDATE SET name = excluded.name RETURNING id');
  return names.map((name) => (upsert.get(name) as { id: number }).id);
}
