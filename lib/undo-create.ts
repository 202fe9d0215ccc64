/**
 * A start that fails leaves nothing behind: before a service creates its database (and the folders
 * above it), this notes what does not exist yet, so that a failure further on can remove exactly
 * that, and never a file or folder that was there before.
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname, parse, resolve } from 'node:path';

/** Returns an undo that removes `file`, its SQLite -wal/-shm/-journal files and the folders made for it, if none existed before. */
export function undoCreate(file: string): () => void {
  const path = resolve(file);
  if (existsSync(path)) return () => undefined;
  let top: string | undefined;
  for (let dir = dirname(path); !existsSync(dir) && dir !== parse(dir).root; dir = dirname(dir)) top = dir;
  return () => {
    for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) rmSync(f, { force: true });
    if (top) rmSync(top, { recursive: true, force: true });
  };
}
