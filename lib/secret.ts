/** Secrets (passwords, tokens, HMAC keys) come inline, or better from a file (a systemd credential). */
import { readFileSync } from 'node:fs';
import { driftlineError } from './errors.js';

/** A secret from the config or from the file it names (file wins); `key` names it in errors. */
export function secret(value: string, file: string, key: string): string {
  if (!file) return value;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_CONFIG', { key, value: file, expected: `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` }, { cause: e });
  }
}
