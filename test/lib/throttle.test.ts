/** lib/throttle.ts: the first occurrence of a key passes, then at most one an interval, with the count it speaks for; keys are independent. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Throttle } from '../../lib/throttle.js';

test('the first occurrence passes; later ones within the interval are held back and counted in the next that passes', () => {
  let now = 1000;
  const t = new Throttle(60_000, () => now);
  assert.equal(t.take('a'), 1);
  now += 10_000;
  assert.equal(t.take('a'), 0);
  now += 10_000;
  assert.equal(t.take('a'), 0);
  now += 39_999;
  assert.equal(t.take('a'), 0, 'still inside the interval');
  now += 1;
  assert.equal(t.take('a'), 4, 'this one and the three held back');
  now += 60_000;
  assert.equal(t.take('a'), 1);
});

test('keys are throttled apart', () => {
  let now = 0;
  const t = new Throttle(1000, () => now);
  assert.equal(t.take('a'), 1);
  assert.equal(t.take('b'), 1);
  assert.equal(t.take('a'), 0);
  now = 1000;
  assert.equal(t.take('b'), 1);
  assert.equal(t.take('a'), 2);
});

test('strictly: a report needs more than the interval since the last one, as the source-error events always did', () => {
  let now = 0;
  const t = new Throttle(60_000, () => now, { strictly: true });
  assert.equal(t.take('cam'), 1);
  now = 60_000;
  assert.equal(t.take('cam'), 0, 'exactly one interval later is not yet more than it');
  now = 60_000.5;
  assert.equal(t.take('cam'), 2);
});

test('burst: a few reports an interval pass one by one, the rest are held back and counted in the first of the next', () => {
  let now = 0;
  const t = new Throttle(60_000, () => now, { burst: 3 });
  assert.deepEqual([t.take('cam'), t.take('cam'), t.take('cam')], [1, 1, 1]);
  assert.equal(t.spent('cam'), true);
  assert.equal(t.spent('other'), false);
  now = 30_000;
  assert.deepEqual([t.take('cam'), t.take('cam')], [0, 0]);
  now = 60_000;
  assert.equal(t.spent('cam'), false, 'a new interval');
  assert.equal(t.take('cam'), 3, 'this one and the two held back');
  assert.deepEqual([t.take('cam'), t.take('cam'), t.take('cam')], [1, 1, 0]);
  assert.throws(() => new Throttle(1000, () => now, { burst: 0 }), /burst must be a whole number >= 1, got 0/);
});
