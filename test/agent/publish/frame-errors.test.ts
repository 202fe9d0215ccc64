/** agent/publish/frame-errors.ts: a frame failure is logged at once per camera and stage, then at most once a minute with how many failed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frameErrorLog } from '../../../agent/publish/frame-errors.js';
import { LEVEL, logLines } from '../../helpers/log-lines.js';

test('first failure per camera and stage at once, then one line a minute with the count', () => {
  const { log, lines } = logLines();
  let mono = 0;
  const onFrameError = frameErrorLog(log, { now: () => 0, monotonic: () => mono });
  onFrameError('dock', 'detect', new Error('session failed'));
  onFrameError('dock', 'store', 'disk I/O error');
  for (let i = 0; i < 100; i++) {
    mono += 100;
    onFrameError('dock', 'detect', new Error('session failed'));
  }
  assert.equal(lines.length, 2, 'the repeats inside the minute are held back');
  assert.deepEqual(
    lines.map((l) => [l.level, l.camera, l.stage, l.err, l.failed, l.msg]),
    [
      [LEVEL.warn, 'dock', 'detect', 'session failed', 1, 'camera dock: a frame failed at detect: session failed'],
      [LEVEL.warn, 'dock', 'store', 'disk I/O error', 1, 'camera dock: a frame failed at store: disk I/O error'],
    ],
  );
  mono = 60_000;
  onFrameError('dock', 'detect', new Error('session failed'));
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!.failed, 101, 'this one and the 100 held back');
  assert.equal(lines[2]!.msg, 'camera dock: 101 frames failed at detect since the last report, the last with: session failed');
});
