import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chiSquare, jsDistance, ksStatistic, Cusum, psi, wasserstein1 } from '../../../agent/drift/metrics.js';

const near = (a: number, b: number, eps = 1e-12): boolean => Math.abs(a - b) <= eps;

test('identical distributions score zero on every metric, whatever the sample sizes', () => {
  const ref = [10, 20, 30, 40];
  const win = [1, 2, 3, 4];
  assert.ok(near(psi(ref, win), 0));
  assert.ok(near(jsDistance(ref, win), 0));
  assert.ok(near(ksStatistic(ref, win), 0));
  assert.ok(near(wasserstein1(ref, win, [1, 1, 1, 1]), 0));
  assert.ok(near(chiSquare(ref, win), 0));
});

test('hand-computed values on a small shift', () => {
  const ref = [50, 50, 0, 0];
  const win = [0, 50, 50, 0];
  // PSI with epsilon 1e-4 on shares: bins 0 and 2 each contribute (0.5 - 1e-4) * ln(0.5 / 1e-4).
  const expectedPsi = 2 * (0.5 - 1e-4) * Math.log(0.5 / 1e-4);
  assert.ok(near(psi(ref, win), expectedPsi, 1e-9), `psi ${psi(ref, win)} vs ${expectedPsi}`);
  // JS: m = [0.25, 0.5, 0.25, 0]; D = 0.5 * 0.5*log2(2) + 0.5 * 0.5*log2(2) = 0.5 -> distance sqrt(0.5).
  assert.ok(near(jsDistance(ref, win), Math.sqrt(0.5)));
  // CDFs: ref 0.5, 1, 1, 1; win 0, 0.5, 1, 1 -> max difference 0.5.
  assert.equal(ksStatistic(ref, win), 0.5);
  // The whole distribution moves one bin to the right: W1 = mass 1 x distance 2.
  assert.ok(near(wasserstein1(ref, win, [2, 2, 2, 2]), 2));
  // χ² against reference shares (with epsilon for the empty expected bin 2): window n = 100.
  const chi = (0 - 50) ** 2 / 50 + 0 + (50 - 1e-4 * 100) ** 2 / (1e-4 * 100) + (0 - 1e-4 * 100) ** 2 / (1e-4 * 100);
  assert.ok(near(chiSquare(ref, win), chi, 1e-6));
});

test('disjoint supports: JS and KS reach 1, PSI is large but finite thanks to epsilon', () => {
  const ref = [100, 0, 0];
  const win = [0, 0, 7];
  assert.ok(near(jsDistance(ref, win), 1));
  assert.equal(ksStatistic(ref, win), 1);
  const p = psi(ref, win);
  assert.ok(Number.isFinite(p) && p > 15, `psi ${p}`);
  assert.ok(near(wasserstein1(ref, win, [1, 1, 1]), 2), 'all mass moves two bins');
});

test('one sample and empty histograms: defined for one sample, NaN (never "no drift") for none', () => {
  const ref = [25, 25, 25, 25];
  assert.ok(near(ksStatistic(ref, [0, 0, 1, 0]), 0.5), 'CDFs 0.25/0.5/0.75/1 against 0/0/1/1: largest gap 0.5 at bin 1');
  assert.ok(Number.isFinite(psi(ref, [0, 0, 1, 0])));
  for (const f of [psi, jsDistance, ksStatistic, chiSquare]) {
    assert.ok(Number.isNaN(f(ref, [0, 0, 0, 0])), `${f.name} of an empty window`);
    assert.ok(Number.isNaN(f([0, 0, 0, 0], ref)), `${f.name} against an empty reference`);
  }
  assert.throws(() => psi([1, 2], [1, 2, 3]), /2 and 3 bins/);
});

test('CUSUM: hand-computed sums, quiet on noise around the reference, alarms on a small sustained rise', () => {
  const c = new Cusum(0.5, 2);
  const seen = [1, 1, -2, 3].map((z) => [c.update(z), c.statistic]);
  // S: 0.5, 1.0, max(0, 1 - 2 - 0.5) = 0, 2.5 (> h = 2: signals)
  assert.deepEqual(seen, [[false, 0.5], [false, 1], [false, 0], [true, 2.5]]);
  c.reset();
  assert.equal(c.statistic, 0);
  const slow = new Cusum(0.5, 10);
  let alarms = 0;
  for (let i = 0; i < 500; i++) if (slow.update(Math.sin(i * 1.7))) alarms++;
  assert.equal(alarms, 0, 'no alarm on zero-mean noise of unit size');
  let at = -1;
  // A shift of 1.5 standard deviations per window, never alarming on one window: 10 / (1.5 - 0.5) windows.
  for (let i = 0; i < 50 && at < 0; i++) if (slow.update(1.5)) at = i + 1;
  assert.equal(at, 11);
  // However long the shift lasts, the evidence stops at 2h, so the alarm clears (h / k) windows after it ends.
  for (let i = 0; i < 1000; i++) slow.update(5);
  assert.equal(slow.statistic, 20);
  let cleared = 0;
  while (slow.update(0)) cleared++;
  assert.equal(cleared + 1, 20);
});
