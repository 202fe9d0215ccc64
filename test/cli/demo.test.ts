import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CLI, ROOT } from '../helpers/cli.js';

test('demo: collector, embedded broker and agent; the drift alert fires for the fading camera only', { timeout: 120_000 }, async () => {
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    // 20 fps x 3 s windows: 60 frames a window, twice the 30 a window needs to be judged, so a loaded
    // machine that drops frames still gets verdicts.
    [CLI, 'demo', '--seconds', '36', '--window', '3', '--fps', '20', '--drift-after', '3', '--for', '3', '--http-port', '0'],
    { cwd: ROOT, maxBuffer: 8 << 20 },
  );
  assert.equal(stderr, '', 'no log noise');
  const http = /dashboard {2}(http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout);
  assert.ok(http, stdout);
  assert.match(stdout, /embedded MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+/);
  assert.match(stdout, /metrics {4}http:\/\/127\.0\.0\.1:\d+\/metrics/);
  assert.match(stdout, /agent {6}http:\/\/127\.0\.0\.1:\d+\/metrics, \/healthz, \/readyz, \/review/);
  const rows = stdout.split('\n').filter((l) => /^\s+\d+s (line1-stable|line2-drifting)\s+\d+\s+\d+\s+(ok|warn|alert|insufficient)/.test(l));
  const stable = rows.filter((r) => r.includes('line1-stable'));
  const drifting = rows.filter((r) => r.includes('line2-drifting'));
  assert.ok(stable.length >= 5 && drifting.length >= 5, `live rows for both cameras:\n${stdout}`);
  assert.ok(drifting.some((r) => /\s(warn|alert)\s/.test(r)), 'the fading camera is judged drifting');
  const firing = stdout.split('\n').filter((l) => l.startsWith('>>> ALERT FIRING'));
  assert.equal(firing.length, 1, stdout);
  // The headline names the family and leads with the brightness change (issue 12): illumination: brightness −41% (z = −23.0).
  assert.match(firing[0]!, /demo-plant\/edge-1\/line2-drifting: illumination: brightness \u2212\d+% \(z = \u2212\d+\.\d\); (input drift|camera fault)/);
  assert.match(stdout, /cause: (input-drift|camera-fault): /);
  assert.match(stdout, /Drift alerts fired: line2-drifting 1, line1-stable 0\./);
});

test('demo with its defaults: the drift alert fires 30 to 60 s in, as the README says', { timeout: 150_000 }, async (t) => {
  const child = spawn(process.execPath, [CLI, 'demo', '--http-port', '0'], { cwd: ROOT });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.setEncoding('utf8');
  const at = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      const m = /^>>> ALERT FIRING at (\d+) s .*line2-drifting/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`the demo ended without an alert:\n${out}`)));
  });
  child.kill('SIGINT');
  assert.equal(await new Promise<number | null>((r) => child.once('exit', r)), 0);
  assert.ok(at >= 30 && at <= 60, `fired at ${at} s:\n${out}`);
  assert.match(out, /Drift alerts fired: line2-drifting 1, line1-stable 0\./);
});

test('demo stops cleanly on SIGINT', { timeout: 60_000 }, async (t) => {
  const child = spawn(process.execPath, [CLI, 'demo', '--http-port', '0', '--window', '2', '--fps', '16'], { cwd: ROOT });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      if (/^\s+\d+s line1-stable/m.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the demo exited (${code}) before its first row:\n${out}`)));
  });
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 0);
  assert.match(out, /Stopping: agent/);
  assert.match(out, /Drift alerts fired: line2-drifting \d+, line1-stable 0\./);
});
