import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STAGES, STAGE_BUCKETS, StageTimings } from '../../../agent/pipeline/stage-timings.js';

test('durations land in the first bucket at or above them; the cumulative view ends with the total and the sum in seconds', () => {
  const t = new StageTimings();
  const inference = STAGES.indexOf('inference');
  for (const ms of [0.2, 0.5, 0.7, 3, 2500, 9000]) t.observe(inference, ms);
  const c = t.cumulative(inference);
  assert.equal(c.buckets.length, STAGE_BUCKETS.length);
  assert.deepEqual(c.buckets.slice(0, 4), [2, 3, 3, 4], '0.5 ms is in the 0.0005 s bucket (le is inclusive)');
  assert.equal(c.buckets[STAGE_BUCKETS.length - 1], 5, '2.5 s is in the last bucket; 9 s only in +Inf');
  assert.equal(c.count, 6);
  assert.ok(Math.abs(c.sumSeconds - 11.5044) < 1e-9);
  assert.deepEqual(t.cumulative(STAGES.indexOf('preprocess')), { buckets: STAGE_BUCKETS.map(() => 0), count: 0, sumSeconds: 0 }, 'stages are counted apart');
});
