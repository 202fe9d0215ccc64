import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClockSteps } from '../../../agent/pipeline/clock-steps.js';

test('a step of the wall clock against the monotonic one is reported once, with its sign; creep is not', () => {
  const c = new ClockSteps(2000);
  assert.equal(c.check(1_000_000, 10), 0, 'the first frame has nothing to compare with');
  assert.equal(c.check(1_000_050, 60), 0, 'both clocks moved 50 ms');
  assert.equal(c.check(1_000_100 + 1500, 110), 0, 'a 1.5 s correction is inside the tolerance');
  assert.equal(c.check(1_000_150 + 1500 - 3_600_000, 160), -3_600_000, 'set back an hour');
  assert.equal(c.check(1_000_200 + 1500 - 3_600_000, 210), 0, 'then runs true again: no second report');
  assert.equal(c.check(1_000_250 + 1500 - 3_600_000 + 90_000, 260), 90_000, 'forward 90 s');
  // An NTP slew of 0.5 ms/s never adds up to a step, however long it runs.
  const slew = new ClockSteps(2000);
  for (let s = 0; s < 86_400; s += 10) assert.equal(slew.check(s * 1000 + s * 0.5, s * 1000), 0);
});
