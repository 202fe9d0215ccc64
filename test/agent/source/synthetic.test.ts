import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionsAt, SyntheticSource } from '../../../agent/source/synthetic.js';

test('the schedule interpolates between keyframes and holds after the last', () => {
  const sched = [{ at: 0, conditions: { gain: 1 } }, { at: 600, conditions: { gain: 0.6, colourTempK: 4500 } }];
  assert.equal(conditionsAt(sched, 0).gain, 1);
  assert.ok(Math.abs(conditionsAt(sched, 300).gain - 0.8) < 1e-12, 'a 40% drop over 10 minutes is at 20% after 5');
  assert.equal(conditionsAt(sched, 300).colourTempK, 5000);
  assert.equal(conditionsAt(sched, 10_000).gain, 0.6);
  assert.equal(conditionsAt([], 5).gain, 1);
});

test('the synthetic source delivers frames at its rate, under its schedule', async () => {
  let t = 0;
  const src = new SyntheticSource({ name: 's', width: 64, height: 48, fps: 50, seed: 1, clock: () => t, schedule: [{ at: 0, conditions: { gain: 1 } }, { at: 1, conditions: { gain: 0.5 } }] });
  const gains: number[] = [];
  src.start((f) => {
    assert.equal(f.data.length, 64 * 48 * 3);
    gains.push(src.current.gain);
    t += 0.1;
  });
  await new Promise((r) => setTimeout(r, 400));
  await src.stop();
  assert.equal(src.state, 'stopped');
  assert.ok(gains.length >= 5, `${gains.length} frames in 400 ms at 50 fps`);
  assert.ok(gains.every((g, i) => i === 0 || g <= gains[i - 1]!));
  assert.equal(src.counters.frames, gains.length);
});
