/**
 * State that only the service should read: the databases (telemetry, outbox, alerts) and review
 * frames (pictures of the production line). Folders the service creates are 0700, files 0600,
 * whatever the umask. Files and folders that already exist keep the modes an operator gave them.
 */
import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

/** mkdir -p with 0700 for every folder it creates. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
}

/**
 * Opens (creating if needed) a SQLite database with a private folder and, when new, a 0600 file;
 * SQLite gives its -wal and -shm files the database file's mode.
 */
export function openPrivateDatabase(file: string): Database.Database {
  if (file === ':memory:') return new Database(file);
  privateDir(dirname(file));
  const fresh = !existsSync(file);
  const db = new Database(file);
  if (fresh) chmodSync(file, PRIVATE_FILE);
  return db;
}
