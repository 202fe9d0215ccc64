import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'bin', 'driftline.js');

test('demo runs the shipped detector on a drifting camera and prints a live view and a summary', async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, 'demo', '--seconds', '4', '--fps', '8', '--final-gain', '0.3'], { cwd: ROOT });
  assert.equal(stderr, '', 'no log noise for the expected provider fallback');
  assert.match(stdout, /Execution provider: cpu \(tensorrt, cuda not available on this machine\)/);
  const rows = stdout.split('\n').filter((l) => /^\s+\d+s\s+\d\.\d\d/.test(l));
  assert.ok(rows.length >= 2, `live rows:\n${stdout}`);
  const gains = rows.map((r) => Number(r.trim().split(/\s+/)[1]));
  assert.ok(gains.every((g, i) => i === 0 || g < gains[i - 1]!), `light fades: ${gains.join(' ')}`);
  const found = rows.map((r) => /(\d+) \/ (\d+)/.exec(r)!).map((m) => [Number(m[1]), Number(m[2])]);
  assert.ok(found.every(([f, g]) => g! > 0 && f! <= g!), 'parts found never exceed the parts present');
  const summary = /Recall went from (\d\.\d\d) at nominal light to (\d\.\d\d) at gain (0\.\d\d)/.exec(stdout);
  assert.ok(summary, stdout);
  const firstRow = found[0]!;
  assert.equal(Number(summary[1]), +(firstRow[0]! / firstRow[1]!).toFixed(2), 'the summary starts from the first row');
  assert.equal(Number(summary[3]), gains.at(-1), 'and ends at the last row');
});

test('demo stops cleanly on SIGINT with its summary', async () => {
  const child = spawn(process.execPath, [CLI, 'demo', '--seconds', '120', '--fps', '5'], { cwd: ROOT });
  let out = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      if (/^\s+\d+s\s+/m.test(out)) resolve();
    });
  });
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 0);
  assert.match(out, /Recall went from/);
});
