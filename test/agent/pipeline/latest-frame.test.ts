import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatestFrame } from '../../../agent/pipeline/latest-frame.js';

const frame = (v: number, index: number) => ({ data: new Uint8Array(2 * 1 * 3).fill(v), width: 2, height: 1, channels: 3 as const, ts: index, mono: index, index });

test('latest frame wins; replaced frames are counted; the frame being read is never overwritten', () => {
  const q = new LatestFrame(2, 1);
  assert.equal(q.take(), undefined);
  q.offer(frame(1, 0));
  q.offer(frame(2, 1)); // replaces 1 before it was taken
  assert.equal(q.dropped, 1);
  const a = q.take()!;
  assert.equal(a.index, 1);
  assert.equal(a.data[0], 2);
  q.offer(frame(3, 2)); // arrives while `a` is being read
  q.offer(frame(4, 3));
  assert.equal(a.data[0], 2, 'the frame in use is untouched');
  assert.equal(q.dropped, 2);
  q.release();
  const b = q.take()!;
  assert.deepEqual([b.index, b.data[0]], [3, 4]);
  assert.equal(q.offered, 4);
  assert.equal(q.hasFrame, false);
});

test('the source buffer may be reused right after offer(): the queue keeps its own copy', () => {
  const q = new LatestFrame(2, 1);
  const f = frame(9, 0);
  q.offer(f);
  f.data.fill(0);
  assert.equal(q.take()!.data[0], 9);
});
