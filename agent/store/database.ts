/**
 * Opens the agent's SQLite database: WAL journal (readers never block the writer, and a process
 * killed at any moment leaves every committed transaction intact), incremental auto-vacuum so that
 * retention can give space back to the file system, and the numbered migrations (migrations.ts, run
 * by lib/sqlite-migrations.ts).
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { openPrivateDatabase } from '../../lib/private-files.js';
import { driftlineError } from '../../lib/errors.js';
import { migrate } from '../../lib/sqlite-migrations.js';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  /**
   * `normal` (default): committed transactions survive a process crash or kill -9; a power cut may
   * lose the last ones, never the database. `full`: they survive power cuts too, at more fsyncs.
   */
  readonly synchronous?: 'normal' | 'full';
}

export function openDatabase(file: string, o: OpenOptions = {}): Db {
  let db: Db;
  try {
    db = openPrivateDatabase(file);
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_STORE', { file, reason: (e as Error).message }, { cause: e });
  }
  try {
    const fresh = (db.pragma('user_version', { simple: true }) as number) === 0 && (db.pragma('page_count', { simple: true }) as number) <= 1;
    // auto_vacuum only takes effect before the first table is created.
    if (fresh) db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${o.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    // Keep the WAL file from growing past 8 MiB between checkpoints.
    db.pragma('journal_size_limit = 8388608');
    migrate(db, MIGRATIONS, 'agent');
  } catch (e) {
    db.close();
    throw driftlineError('DRIFTLINE_ERR_STORE', { file, reason: (e as Error).message }, { cause: e });
  }
  return db;
}

/** Bytes on disk: the main file, the part of it holding live pages, and the WAL file. */
export function databaseBytes(db: Db): { file: number; used: number; wal: number } {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const pages = db.pragma('page_count', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  let wal = 0;
  if (!db.memory) {
    try {
      wal = statSync(`${db.name}-wal`).size;
    } catch {
      wal = 0;
    }
  }
  return { file: pages * pageSize, used: (pages - free) * pageSize, wal };
}

/** A value the agent remembers across starts (agent_meta), or undefined. */
export function readMeta(db: Db, key: string): string | undefined {
  return (db.prepare('SELECT value FROM agent_meta WHERE key = ?').get([key]) as { value: string } | undefined)?.value;
}

/** Remembers a value across starts (agent_meta), replacing any before. */
export function writeMeta(db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO agent_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run([key, value]);
}
