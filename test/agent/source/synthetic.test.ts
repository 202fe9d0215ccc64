import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionsAt, SyntheticSource } from '../../../agent/source/synthetic.js';
import { DEFAULT_CONDITIONS } from '../../../agent/synth/conditions.js';
import { until } from '../../helpers/wait.js';

const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

test('the schedule interpolates between keyframes and holds after the last', () => {
  // Three keyframes: gain falls 1 -> 0.6 over 600 s, then rises to 0.8 by 900 s; the colour
  // temperature is keyed at 600 s only, so it moves from the default towards 4500 K and holds.
  const sched = [{ at: 0, conditions: { gain: 1 } }, { at: 600, conditions: { gain: 0.6, colourTempK: 4500 } }, { at: 900, conditions: { gain: 0.8 } }];
  const gainAt = (t: number): number => (t <= 600 ? 1 - (0.4 * t) / 600 : t <= 900 ? 0.6 + (0.2 * (t - 600)) / 300 : 0.8);
  const tempAt = (t: number): number => (t <= 600 ? DEFAULT_CONDITIONS.colourTempK + ((4500 - DEFAULT_CONDITIONS.colourTempK) * t) / 600 : t <= 900 ? 4500 + ((DEFAULT_CONDITIONS.colourTempK - 4500) * (t - 600)) / 300 : DEFAULT_CONDITIONS.colourTempK);
  for (let t = 0; t <= 1200; t += 25) {
    const c = conditionsAt(sched, t);
    assert.ok(near(c.gain, gainAt(t)), `gain at ${t} s: ${c.gain}, expected ${gainAt(t)}`);
    assert.ok(near(c.colourTempK, tempAt(t)), `colour temperature at ${t} s: ${c.colourTempK}, expected ${tempAt(t)}`);
    assert.equal(c.blur, DEFAULT_CONDITIONS.blur, 'a condition no keyframe names stays at its default');
  }
  assert.ok(near(conditionsAt(sched, 300).gain, 0.8), 'a 40% drop over 10 minutes is at 20% after 5');
  assert.deepEqual(conditionsAt(sched, 10_000), conditionsAt(sched, 900), 'held after the last keyframe');
  assert.deepEqual(conditionsAt([], 5), DEFAULT_CONDITIONS, 'no schedule: the defaults');
});

test('a constant series holds its value throughout: before, between and after its keyframes', () => {
  const sched = [{ at: 10, conditions: { gain: 0.5, noise: 7 } }, { at: 20, conditions: { gain: 0.5, noise: 7 } }, { at: 60, conditions: { gain: 0.5, noise: 7 } }];
  for (let t = 0; t <= 100; t += 0.5) {
    const c = conditionsAt(sched, t);
    assert.deepEqual([c.gain, c.noise], [0.5, 7], `at ${t} s`);
    assert.deepEqual({ ...c, gain: DEFAULT_CONDITIONS.gain, noise: DEFAULT_CONDITIONS.noise }, DEFAULT_CONDITIONS, `at ${t} s, the other conditions are the defaults`);
  }
  assert.deepEqual(conditionsAt([{ at: 0, conditions: { gain: 0.7 } }], 1e6).gain, 0.7, 'a single keyframe holds for ever');
});

test('the synthetic source delivers frames at its rate, under its schedule', async (t) => {
  let clock = 0;
  const fps = 50;
  // The schedule's clock advances 0.1 s per frame: gain falls from 1 to 0.5 over frames 0-10, then holds.
  const src = new SyntheticSource({ name: 's', width: 64, height: 48, fps, seed: 1, clock: () => clock, schedule: [{ at: 0, conditions: { gain: 1 } }, { at: 1, conditions: { gain: 0.5 } }] });
  t.after(() => src.stop());
  const gains: number[] = [];
  const sizes = new Set<number>();
  const t0 = performance.now();
  src.start((f) => {
    sizes.add(f.data.length);
    gains.push(src.current.gain);
    clock += 0.1;
  });
  assert.equal(src.state, 'streaming');
  const frames = 15;
  await until(() => gains.length >= frames, 10_000, `${frames} frames`);
  const elapsed = performance.now() - t0;
  await src.stop();
  assert.equal(src.state, 'stopped');
  const after = gains.length;
  await new Promise((r) => setTimeout(r, (3 * 1000) / fps));
  assert.equal(gains.length, after, 'nothing after stop()');
  assert.deepEqual([...sizes], [64 * 48 * 3]);
  // Never faster than its rate (a timer can only be late): at most one frame per 1/fps, plus the last.
  assert.ok(gains.length <= Math.floor((elapsed * fps) / 1000) + 1, `${gains.length} frames in ${elapsed.toFixed(0)} ms at ${fps} fps`);
  gains.forEach((g, i) => assert.ok(near(g, Math.max(0.5, 1 - 0.05 * i)), `frame ${i} at ${(0.1 * i).toFixed(1)} s of the schedule: gain ${g}`));
  assert.equal(src.counters.frames, gains.length);
});

test('keyframes listed out of order are interpolated in time order', async (t) => {
  let now = 300;
  const src = new SyntheticSource({ name: 'unsorted', width: 64, height: 48, fps: 50, seed: 1, clock: () => now, schedule: [{ at: 600, conditions: { gain: 0.6 } }, { at: 0, conditions: { gain: 1 } }] });
  t.after(() => src.stop());
  let frames = 0;
  src.start(() => frames++);
  await until(() => frames >= 1, 10_000, 'a frame at t = 300 s');
  assert.equal(src.current.gain, 0.8);
  now = 900;
  const seen = frames;
  await until(() => frames > seen, 10_000, 'a frame at t = 900 s');
  assert.equal(src.current.gain, 0.6);
});
