import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareProfiles, COUNT_FEATURES, cumulativeAt, rebin } from '../../../agent/drift/compare.js';
import { ProfileBuilder } from '../../../agent/drift/profile.js';
import type { FeatureProfile } from '../../../agent/drift/types.js';
import { recordOf } from './record-of.js';

test('cumulative counts interpolate inside bins; re-binning keeps the total', () => {
  const f: FeatureProfile = { edges: [0, 10, 20], counts: [0, 10, 30, 0], mean: 0, std: 1 };
  assert.equal(cumulativeAt(f, -1), 0);
  assert.equal(cumulativeAt(f, 5), 5);
  assert.equal(cumulativeAt(f, 10), 10);
  assert.equal(cumulativeAt(f, 15), 25);
  assert.equal(cumulativeAt(f, 20), 40);
  assert.equal(cumulativeAt(f, 25), 40);
  const ref: FeatureProfile = { edges: [5, 15, 30], counts: [0, 1, 1, 0], mean: 0, std: 1 };
  // Under 5: 5; [5, 15): 25 - 5 = 20; [15, 30]: 40 - 25 = 15; over 30: 0.
  assert.deepEqual(rebin(f, ref), [5, 20, 15, 0]);
});

function profile(brightness: (i: number) => number, seed: number) {
  const b = new ProfileBuilder(['part']);
  let s = seed;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  for (let i = 0; i < 2000; i++) {
    const fs = Array.from({ length: 12 }, (_, k) => (k === 0 ? brightness(i) + rnd() * 10 : 50 + rnd() * 10));
    b.add(recordOf(fs, [3, 0.9, 0.8, 10, 0.05, 1.5].map((v) => v + rnd() * 0.01), [3], new Array(20).fill(0)));
  }
  return b.build({ file: 'm', sha256: 'x', names: ['part'] }, { source: 's', images: 2000, skipped: 0 });
}

test('the same distribution drifts nowhere; a shifted one drifts on the shifted feature only', () => {
  const train = profile(() => 120, 1);
  const same = profile(() => 120, 2);
  const dark = profile(() => 70, 3);
  const nothing = compareProfiles(train, same);
  for (const r of nothing) assert.ok(r.psi < 0.1 && r.ks < 0.1, `${r.feature}: psi ${r.psi.toFixed(3)} ks ${r.ks.toFixed(3)}`);
  const rows = compareProfiles(train, dark);
  assert.equal(rows[0]!.feature, 'brightness', 'sorted by PSI, brightness first');
  assert.ok(rows[0]!.psi > 5 && rows[0]!.ks > 0.99 && rows[0]!.js > 0.9, JSON.stringify(rows[0]));
  assert.ok(rows[0]!.w1 > 10, 'moved by ~50 levels against a spread of ~3');
  for (const r of rows.slice(1)) assert.ok(r.psi < 0.1, `${r.feature} did not move: psi ${r.psi.toFixed(3)}`);
});

test('profile Wasserstein-1 is the distance the mass moved, in feature units', async () => {
  const { profileWasserstein } = await import('../../../agent/drift/compare.js');
  const a: FeatureProfile = { edges: [0, 10], counts: [0, 100, 0], mean: 5, std: 2.9 };
  const b: FeatureProfile = { edges: [30, 40], counts: [0, 50, 0], mean: 35, std: 2.9 };
  assert.ok(Math.abs(profileWasserstein(a, b) - 30) < 1e-9, 'uniform [0,10] to uniform [30,40]: 30');
  assert.ok(Math.abs(profileWasserstein(a, a)) < 1e-12);
});

test('a constant feature (a point mass) re-bins onto itself exactly, and drifts nowhere against itself', () => {
  const zero: FeatureProfile = { edges: [0, 0], counts: [0, 800, 0], mean: 0, std: 0 };
  assert.deepEqual(rebin(zero, zero), [0, 800, 0]);
  assert.equal(cumulativeAt(zero, 0, false), 0);
  assert.equal(cumulativeAt(zero, 0, true), 800);
  const spread: FeatureProfile = { edges: [0, 0.001, 0.002], counts: [0, 10, 10, 0], mean: 0.001, std: 0.0005 };
  assert.deepEqual(rebin(zero, spread), [0, 800, 0, 0], 'zeros fall in the first inner bin, not underflow');
});

test('per-frame counts re-bin as whole numbers: a count on an edge stays at that edge', () => {
  // A: 0 or 1 uncertain detections per frame (edges collapse onto [0, 1]); B: the same plus a frame with 2.
  const a: FeatureProfile = { edges: [0, 1], counts: [0, 80, 0], mean: 0.125, std: 0.33 };
  const b: FeatureProfile = { edges: [0, 1, 2], counts: [0, 70, 10, 0], mean: 0.15, std: 0.4 };
  // As a continuous feature, B's [1, 2] bin is spread between 1 and 2, and all of it lands past A's last edge.
  assert.deepEqual(rebin(b, a), [0, 70, 10]);
  // As whole numbers, it holds the counts 1 and 2 in equal shares: half of it is at 1, inside A's range.
  assert.deepEqual(rebin(b, a, true), [0, 75, 5]);
  assert.equal(cumulativeAt(b, 1, true, true), 75);
  assert.equal(cumulativeAt(b, 1, false, true), 70);
  assert.equal(cumulativeAt(b, 2, true, true), 80);
  // A count of few values has a bin per value between half-integer edges: re-binned as whole
  // numbers onto quantile edges, each value lands where it is.
  const c: FeatureProfile = { edges: [-0.5, 0.5, 1.5, 2.5], counts: [0, 60, 15, 5, 0], mean: 0.31, std: 0.6 };
  assert.deepEqual(rebin(c, b, true), [0, 60, 20, 0], "the 0s in B's [0, 1), the 1s and 2s in its closed [1, 2]");
  assert.deepEqual(rebin(b, c, true), [0, 70, 5, 5, 0]);
  // compareProfiles uses it for the count features.
  assert.ok(COUNT_FEATURES.has('uncertain') && COUNT_FEATURES.has('oodDetections') && !COUNT_FEATURES.has('brightness'));
});
