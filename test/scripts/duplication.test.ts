/**
 * Code that was written twice and is now written once stays so: the pinned jscpd, run with
 * `--min-tokens 50`, finds no block shared between the two long-running commands (cli/agent.ts and
 * cli/collector.ts share one service runner) nor between the two SQLite stores that share one
 * migration runner (lib/sqlite-migrations.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/cli.js';

const PAIRS = [
  ['cli/agent.ts', 'cli/collector.ts'],
  ['agent/store/database.ts', 'collector/store/sqlite-store.ts'],
] as const;

const JSCPD = join(ROOT, 'node_modules', 'jscpd');

interface Place {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

interface Clone {
  readonly tokens: number;
  readonly firstFile: Place;
  readonly secondFile: Place;
}

const pinned = async (): Promise<{ wanted: string | undefined; installed: string }> => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  const installed = (JSON.parse(await readFile(join(JSCPD, 'package.json'), 'utf8')) as { version: string }).version;
  return { wanted: pkg.devDependencies?.jscpd, installed };
};

test('jscpd is pinned to one exact version, the one installed', async () => {
  const { wanted, installed } = await pinned();
  assert.match(wanted ?? '', /^\d+\.\d+\.\d+$/, 'package.json pins jscpd without a range');
  assert.equal(installed, wanted);
});

test('jscpd --min-tokens 50: no block shared by the CLI service commands, nor by the SQLite stores', { timeout: 120_000 }, async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'driftline-jscpd-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  // Through node on its own entry, not npx: the timeout's signal reaches jscpd itself.
  const args = [join(JSCPD, 'bin', 'jscpd'), '--min-tokens', '50', '--reporters', 'json', '--output', out, '--silent', '--no-colors', ...PAIRS.flat()];
  await promisify(execFile)(process.execPath, args, { cwd: ROOT, timeout: 90_000, killSignal: 'SIGKILL' });
  const report = JSON.parse(await readFile(join(out, 'jscpd-report.json'), 'utf8')) as { duplicates: Clone[] };
  for (const [a, b] of PAIRS) {
    const shared = report.duplicates.filter((c) => (c.firstFile.name === a && c.secondFile.name === b) || (c.firstFile.name === b && c.secondFile.name === a));
    const where = shared.map((c) => `${c.firstFile.name}:${c.firstFile.start}-${c.firstFile.end} ~ ${c.secondFile.name}:${c.secondFile.start}-${c.secondFile.end} (${c.tokens} tokens)`);
    assert.deepEqual(where, [], `${a} and ${b} share code`);
  }
});
