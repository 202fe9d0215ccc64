/**
 * The test runner itself (scripts/run-tests.ts): a failing test still ends the run within its
 * bound with every process it started gone; a run past its bound is stopped and swept; a machine
 * without the system packages is told what to install before any test starts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  code: number | null;
  out: string;
  /** Processes that still carry this run's mark after it ended (pid and command). */
  strays: string[];
}

/** Every live process whose environment carries `mark` (children inherit it: ffmpeg, brokers…). */
function marked(mark: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) continue; // exited, awaiting its reaper
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`DRIFTLINE_TEST_MARK=${mark}`)) {
        found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 120)}`);
      }
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Runs `npm test`'s runner on `args` with `env`, as npm would; kills its group if this test fails. */
async function runner(t: TestContext, args: string[], env: Record<string, string>): Promise<Run> {
  const mark = randomUUID();
  // NODE_TEST_CONTEXT tells a node --test that it runs under another one (it would report to it).
  const { NODE_TEST_CONTEXT: _parent, ...outer } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/run-tests.ts', ...args], {
    cwd: ROOT,
    env: { ...outer, ...env, DRIFTLINE_TEST_MARK: mark },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  t.after(() => {
    for (const line of marked(mark)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, out, strays: marked(mark) };
}

test('a test that fails while its camera and ffmpeg run still releases them, and the run ends within its bound', { timeout: 180_000 }, async (t) => {
  // Without --test-force-exit, a camera server or ffmpeg that the failing test did not release would
  // keep its file's process alive until the 120 s bound: the run would end at the bound, not by itself.
  const r = await runner(t, ['--test-name-pattern', 'a stalled camera is detected', 'test/agent/source/ffmpeg.test.ts'], {
    DRIFTLINE_TEST_FAIL: 'ffmpeg-stall',
    DRIFTLINE_TEST_BUDGET_S: '120',
    DRIFTLINE_TEST_FORCE_EXIT: '0',
    DRIFTLINE_TEST_SKIP_PREFLIGHT: '1',
  });
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /not ok \d+ - a stalled camera is detected and restarted/);
  assert.match(r.out, /failing on purpose at fail point 'ffmpeg-stall'/);
  assert.match(r.out, /npm test: failed in \d+ s/, 'the run ended by itself, not at its bound');
  assert.doesNotMatch(r.out, /outlived their tests/, 'the failing test released its camera and ffmpeg itself');
  assert.deepEqual(r.strays, [], 'no process of the run is left');
});

test('a run past its bound is stopped, and every process it started is gone', { timeout: 240_000 }, async (t) => {
  // The slow-camera test needs several seconds of frames; a 2 s bound stops it mid-way.
  const r = await runner(t, ['--test-name-pattern=a slow camera is left alone', 'test/agent/source/ffmpeg.test.ts'], {
    DRIFTLINE_TEST_BUDGET_S: '2',
    DRIFTLINE_TEST_SKIP_PREFLIGHT: '1',
  });
  assert.equal(r.code, 124, r.out);
  assert.match(r.out, /passed its bound of 2 s/);
  assert.match(r.out, /stopped at the bound/);
  assert.deepEqual(r.strays, [], 'no process of the run is left');
});

test('without the system packages, npm test names each missing package and the command that installs them', { timeout: 60_000 }, async (t) => {
  const r = await runner(t, ['test/agent/source/ffmpeg.test.ts'], { PATH: '/nonexistent' });
  assert.equal(r.code, 1, r.out);
  for (const pkg of ['ffmpeg', 'gstreamer1.0-tools', 'prometheus-alertmanager', 'prometheus', 'chromium']) assert.match(r.out, new RegExp(`^  ${pkg.replace('.', '\\.')} `, 'm'), `${pkg} is named`);
  assert.match(r.out, /Run \.\/scripts\/test\.sh/);
  assert.match(r.out, /sudo apt-get install -y --no-install-recommends ffmpeg /);
  assert.doesNotMatch(r.out, /^# tests/m, 'no test started');
});
