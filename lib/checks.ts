/**
 * Start-up checks shared by `--check` and by the real start: every file a config names exists and
 * can be read, every program it needs is installed, every folder it writes to can be created. All
 * problems are collected and reported at once, before anything is created on disk, so a start that
 * fails leaves nothing behind and a `--check` that passes means the start gets past these.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, parse } from 'node:path';
import { DriftlineError, driftlineError } from './errors.js';

/** What an empty PEM file is told: the same words at --check and at the start (lib/mqtt-options.ts). */
export const EMPTY_PEM = 'a PEM file, and this one is empty: fill it (docs/deploy.md, "Secrets: systemd credentials")';

export class Checks {
  readonly problems: DriftlineError[] = [];
  readonly warnings: string[] = [];

  add(e: DriftlineError): void {
    this.problems.push(e);
  }

  warn(message: string): void {
    this.warnings.push(message);
  }

  /** A config key naming a file that must be readable; an empty value is not set, so nothing to check. */
  readable(key: string, file: string, what = 'a readable file'): boolean {
    if (!file) return true;
    const why = unreadable(file);
    if (why) this.add(driftlineError('DRIFTLINE_ERR_CONFIG', { key, value: JSON.stringify(file), expected: `${what} (${why})` }));
    return !why;
  }

  /**
   * A PEM file (a CA, a client certificate or key): readable and not empty. install.sh creates the
   * systemd credentials empty; one named before it was filled fails here, as it would at the start.
   */
  pem(key: string, file: string): boolean {
    if (!this.readable(key, file, 'a readable PEM file')) return false;
    if (!file || readFileSync(file, 'latin1').trim()) return true;
    this.add(driftlineError('DRIFTLINE_ERR_CONFIG', { key, value: JSON.stringify(file), expected: EMPTY_PEM }));
    return false;
  }

  /** A file (or folder) that will be created: its nearest existing ancestor folder must be writable. */
  creatable(key: string, path: string): void {
    let dir = dirname(path);
    while (!existsSync(dir) && dir !== parse(dir).root) dir = dirname(dir);
    try {
      if (!statSync(dir).isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' });
      accessSync(dir, constants.W_OK);
    } catch (e) {
      this.add(driftlineError('DRIFTLINE_ERR_CONFIG', { key, value: JSON.stringify(path), expected: `a path in a folder this user can write (${dir}: ${(e as NodeJS.ErrnoException).code ?? 'not writable'})` }));
    }
  }

  /** Try a check that throws a DriftlineError; collect it instead. */
  attempt(fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof DriftlineError) this.add(e);
      else throw e;
    }
  }

  /** A port that something already holds: a warning, since the service itself may be what holds it. True when taken. */
  async port(key: string, host: string, port: number): Promise<boolean> {
    if (port === 0) return false;
    const taken = await new Promise<string | undefined>((resolve) => {
      const s = createServer();
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(undefined)));
    });
    if (taken) this.warn(`${key}: ${host}:${port} cannot be opened now (${taken}); if this service is not the one holding it, the start will fail`);
    return taken !== undefined;
  }

  /** Throws when there are problems: the one problem itself, or all of them in one error. */
  throwIfAny(): void {
    if (this.problems.length === 1) throw this.problems[0]!;
    if (this.problems.length > 1) {
      throw driftlineError('DRIFTLINE_ERR_CHECK', { found: this.problems.map((p) => `${p.code}: ${p.message}`) });
    }
  }
}

/** Why `file` cannot be read (ENOENT, EACCES, a folder), or undefined when it can. */
function unreadable(file: string): string | undefined {
  try {
    if (statSync(file).isDirectory()) return 'EISDIR: a folder, not a file';
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
}
