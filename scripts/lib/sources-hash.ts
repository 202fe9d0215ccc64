/** A short hash of source files, so a cache can tell that what made its contents has changed. */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** sha256 (12 hex digits) over every file under `paths` (files or folders, relative to `root`), in name order. */
export function sourcesHash(root: string, paths: readonly string[]): string {
  const h = createHash('sha256');
  const walk = (p: string): void => {
    const abs = join(root, p);
    if (!existsSync(abs)) return;
    if (statSync(abs).isFile()) {
      h.update(p).update(readFileSync(abs));
      return;
    }
    for (const e of readdirSync(abs).sort()) walk(join(p, e));
  };
  paths.forEach(walk);
  return h.digest('hex').slice(0, 12);
}
