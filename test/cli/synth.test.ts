import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'bin', 'driftline.js');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: ROOT, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let dataset = '';

before(async () => {
  dataset = await mkdtemp(join(tmpdir(), 'driftline-cli-'));
  const r = await cli('synth', '--out', dataset, '--count', '6', '--seed', '99', '--val', '0', '--defectRate', '0.5');
  assert.equal(r.code, 0, r.stderr);
});

test('synth writes the dataset it reports', async () => {
  const files = await readdir(join(dataset, 'images', 'train'));
  assert.equal(files.length, 6);
});

test('synth refuses a bad condition with the key, the value and the range', async () => {
  const r = await cli('synth', '--out', dataset, '--gain', 'bright');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /DRIFTLINE_ERR_CONFIG: invalid conditions\.gain: got "?bright"?, expected a number in \[0, 4\]/);
  const missing = await cli('synth', '--count', '3');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--out DIR is required/);
});
