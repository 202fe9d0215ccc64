import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatestFrame } from '../../../agent/pipeline/latest-frame.js';
import { FrameMemory } from '../../../agent/preprocess/frame-memory.js';

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

test('a source that lends its buffer hands it over without a copy and fills the free one next', () => {
  const q = new LatestFrame(2, 1);
  let filling: Uint8Array = new Uint8Array(6).fill(5);
  const lent = filling;
  const given: Uint8Array[] = [];
  const exchange = (spare: Uint8Array): void => {
    given.push(spare);
    filling = spare;
  };
  q.offer({ data: filling, width: 2, height: 1, channels: 3, ts: 0, mono: 0, index: 0, exchange });
  const a = q.take()!;
  assert.equal(a.data, lent, 'the queue holds the source\'s own buffer');
  assert.equal(given.length, 1);
  assert.notEqual(filling, lent, 'the source fills another buffer now');
  // The next frame goes into the free buffer, never the one being read.
  filling.fill(6);
  q.offer({ data: filling, width: 2, height: 1, channels: 3, ts: 1, mono: 1, index: 1, exchange });
  assert.equal(a.data[0], 5, 'the frame in use is untouched');
  assert.notEqual(given[1], a.data, 'the buffer in use is never given to the source');
  q.release();
  assert.deepEqual([...q.take()!.data], [6, 6, 6, 6, 6, 6]);
  // A frame offered without exchange is copied.
  q.release();
  q.offer({ data: new Uint8Array(6).fill(7), width: 2, height: 1, channels: 3, ts: 2, mono: 2, index: 2 });
  assert.equal(q.take()!.data[0], 7);
  assert.equal(q.dropped, 0);
});

test('with a frame memory: a lending source\'s own buffer is copied once, then every buffer it fills lives in the memory', () => {
  const home = new FrameMemory(3 * FrameMemory.taken(6));
  const q = new LatestFrame(2, 1, home);
  const own = new Uint8Array(6).fill(1);
  let filling: Uint8Array = own;
  const exchange = (spare: Uint8Array): void => {
    filling = spare;
  };
  const seen: Uint8Array[] = [];
  for (let i = 0; i < 6; i++) {
    filling.fill(i + 1);
    q.offer({ data: filling, width: 2, height: 1, channels: 3, ts: i, mono: i, index: i, exchange });
    const f = q.take()!;
    assert.deepEqual([...f.data], new Array(6).fill(i + 1), `frame ${i}: its pixels`);
    assert.equal(FrameMemory.of(f.data), home, `frame ${i} lives in the frame memory`);
    assert.equal(FrameMemory.of(filling), home, `after frame ${i} the source fills a buffer of the frame memory`);
    seen.push(f.data);
    q.release();
  }
  assert.ok(!seen.includes(own), 'the source\'s own buffer was copied, never queued');
  assert.throws(() => home.frame(6), /no room for another frame/);
});

test('discard: a frame still waiting when the pipeline stops counts as dropped; nothing waiting, nothing counted', () => {
  const q = new LatestFrame(2, 1);
  q.discard();
  assert.deepEqual([q.offered, q.dropped], [0, 0], 'nothing waiting');
  q.offer(frame(1, 1));
  q.take();
  q.offer(frame(2, 2)); // arrives while frame 1 is being run
  q.release();
  q.discard();
  assert.equal(q.hasFrame, false);
  assert.equal(q.take(), undefined, 'the discarded frame is not handed out');
  assert.deepEqual([q.offered, q.dropped], [2, 1], 'offered = taken (1) + dropped (1)');
  q.discard();
  assert.equal(q.dropped, 1, 'counted once');
});
