/**
 * agent/store/store-failures.ts: a failed telemetry flush and a window not written go to the storage
 * watch first, then one warning each; a window is retried exactly when the watch shed something.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreFailures } from '../../../agent/store/store-failures.js';
import { LEVEL, logLines } from '../../helpers/log-lines.js';

test('a failed flush: the storage watch first, then a warning with the rows still pending', () => {
  const { log, lines } = logLines();
  const order: string[] = [];
  const e = new Error('database or disk is full');
  const watch = {
    writeFailed: (x: unknown): boolean => {
      order.push('watch');
      assert.equal(x, e);
      return true;
    },
  };
  const failures = new StoreFailures(watch, log);
  failures.flushFailed(e, {
    get pending() {
      order.push('pending');
      return 42;
    },
  });
  assert.deepEqual(order, ['watch', 'pending']);
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg, l.err, l.pending]),
    [[LEVEL.warn, 'telemetry flush failed; rows kept for retry', 'database or disk is full', 42]],
  );
});

test("a window not written: retried when the storage watch shed something, not otherwise; the warning says which", () => {
  const { log, lines } = logLines();
  const full = new Error('database or disk is full');
  const busy = new Error('SQLITE_BUSY: database is locked');
  const failures = new StoreFailures({ writeFailed: (e) => e === full }, log);
  assert.equal(failures.windowFailed(full), true);
  assert.equal(failures.windowFailed(busy), false);
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg, l.err, l.retry]),
    [
      [LEVEL.warn, 'window not written to the store; its summary is still sent', 'database or disk is full', true],
      [LEVEL.warn, 'window not written to the store; its summary is still sent', 'SQLITE_BUSY: database is locked', false],
    ],
  );
});
