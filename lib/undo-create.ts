/**
 * A start that fails leaves nothing behind: before a service creates its database (and the folders
 * above it), this notes what does not exist yet, so that a failure further on can remove exactly
 * that, and never a file or folder that was there before.
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname, parse, resolve } from 'node:path';

/** Returns an undo that removes `file` (a file or folder), its SQLite -wal/-shm/-journal files and the folders made for it, if none existed before. */
export function undoCreate(file: string): () => void {
  const path = resolve(file);
  if (existsSync(path)) return () => undefined;
  let top: string | undefined;
  for (let dir = dirname(path); !existsSync(dir) && dir !== parse(dir).root; dir = dirname(dir)) top = dir;
  return () => {
    // recursive: `path` may be a folder (the review frames' one); none of this existed before.
    for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`, ...(top ? [top] : [])]) {
      try {
        rmSync(f, { recursive: true, force: true });
      } catch {
        // best effort: the start's own error is what the operator must see
      }
    }
  };
}

/** Runs the undos of a start that failed, newest first; each runs whatever the others did. */
export async function undoAll(undos: (() => unknown)[]): Promise<void> {
  for (const undo of [...undos].reverse()) {
    try {
      await undo();
    } catch {
      // the start's own error is the one to report
    }
  }
}
