/** Reading a YAML config file: every syntax error at once, with the lines around it. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { driftlineError } from './errors.js';
import { configError } from './schema.js';

/** The parsed file and its folder (where relative paths in it start). */
export function readConfigFile(file: string): { raw: unknown; dir: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_CONFIG', { key: '--config', value: file, expected: `a readable YAML file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` }, { cause: e });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    throw configError(doc.errors.map((e) => ({ key: file, value: 'the file', expected: `valid YAML: ${e.message.trimEnd()}` })));
  }
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (e) {
    // e.g. an alias bomb: the YAML library refuses excessive alias expansion
    throw configError([{ key: file, value: 'the file', expected: `valid YAML: ${(e as Error).message}` }]);
  }
  return { raw, dir: dirname(resolve(file)) };
}
