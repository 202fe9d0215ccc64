/**
 * agent/store/retention-timer.ts: each tick enforces retention at the clock's time, logs a pass that
 * deleted something, and hands every pass to the storage watch; a failed pass goes to the watch and
 * is logged only when it was not for lack of space; the timer holds no process open and stops.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RetentionResult } from '../../../agent/store/retention.js';
import { startRetentionTimer } from '../../../agent/store/retention-timer.js';
import { LEVEL, logLines } from '../../helpers/log-lines.js';
import { sleep, until } from '../../helpers/wait.js';

const pass = (framesDeleted: number): RetentionResult => ({ framesDeleted, windowsDeleted: 0, bytesBefore: 4096, bytesAfter: 4096, freeBytes: 1 << 30 });
const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test("each tick: retention at the clock's time, a log line when it deleted something, every pass to the storage watch; unref'd; stop ends the ticks", async (t) => {
  const { log, lines } = logLines();
  const results = [pass(3), pass(0), pass(0)];
  const times: number[] = [];
  const passes: RetentionResult[] = [];
  let now = 1_000;
  const before = timeouts();
  const stop = startRetentionTimer({
    retention: {
      enforce: (t = 0) => {
        times.push(t);
        return results[Math.min(times.length, results.length) - 1]!;
      },
    },
    storage: { afterPass: (r) => void passes.push(r), writeFailed: () => assert.fail('no pass failed') },
    clock: { now: () => (now += 1_000) },
    log,
    intervalMs: 5,
  });
  t.after(stop); // also when an assertion below fails
  assert.equal(timeouts(), before, 'the timer keeps no process alive');
  await until(() => passes.length >= 3, 5_000, 'three retention passes');
  stop();
  const n = passes.length;
  await sleep(30);
  assert.equal(passes.length, n, 'no pass after stop');
  assert.deepEqual(times.slice(0, 3), [2_000, 3_000, 4_000]);
  assert.deepEqual(passes.slice(0, 3), results);
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg, l.framesDeleted]),
    [[LEVEL.info, 'retention', 3]],
  );
});

test('a failed pass goes to the storage watch; it is logged only when the watch did not shed for it', async (t) => {
  const { log, lines } = logLines();
  const errors = [Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }), new Error('SQLITE_BUSY: database is locked')];
  const failed: unknown[] = [];
  const stop = startRetentionTimer({
    retention: {
      enforce: () => {
        throw errors[Math.min(failed.length, 1)]!;
      },
    },
    storage: {
      afterPass: () => assert.fail('no pass succeeded'),
      writeFailed: (e) => {
        failed.push(e);
        return e === errors[0];
      },
    },
    clock: { now: () => 0 },
    log,
    intervalMs: 5,
  });
  t.after(stop); // also when an assertion below fails
  await until(() => failed.length >= 2, 5_000, 'two failed passes');
  stop();
  assert.deepEqual(failed.slice(0, 2), errors);
  assert.deepEqual(lines[0] && [lines[0].level, lines[0].msg, lines[0].err], [LEVEL.warn, 'retention failed', 'SQLITE_BUSY: database is locked']);
  assert.ok(lines.every((l) => l.msg === 'retention failed' && l.err === 'SQLITE_BUSY: database is locked'), 'the shed disk-full pass is not logged');
});
