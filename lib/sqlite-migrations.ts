/**
 * The one migration runner of Driftline's SQLite databases (the agent's and the collector's). A
 * database's `user_version` is the number of migrations applied; each pending migration runs once,
 * in order, in its own transaction. A database that a newer program migrated further than this one
 * knows is refused, untouched: its schema may hold what this program would break.
 */
import type Database from 'better-sqlite3';

/**
 * Applies the migrations `db` has not had yet. Throws an Error naming `program` (`agent`,
 * `collector`) when the database's schema is newer than `migrations`; the caller wraps it in its
 * store error, with the file. `onUpgrade` hears of an existing database's upgrade before it starts.
 */
export function migrate(db: Database.Database, migrations: readonly string[], program: string, onUpgrade?: (from: number, to: number) => void): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(`schema version ${current} is newer than this ${program} knows (${migrations.length}); upgrade the ${program}`);
  }
  // A database with data in it (not a new one) is about to change: the caller may say so, as it can take a while.
  if (current > 0 && current < migrations.length) onUpgrade?.(current, migrations.length);
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
