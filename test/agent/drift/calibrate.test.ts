import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibrate, correlationTime, summarise } from '../../../agent/drift/calibrate.js';
import { Judge } from '../../../agent/drift/judge.js';
import { binOf, PROFILE_FEATURES, ProfileBuilder } from '../../../agent/drift/profile.js';
import { ScoringReference } from '../../../agent/drift/scores.js';
import { CONF_BINS } from '../../../agent/telemetry/detection-stats.js';

/** A deterministic uniform generator for crafted series. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}

test('correlation time: about 1 for independent frames, (1+φ)/(1−φ) territory for an AR(1) stream', () => {
  const r = lcg(1);
  const iid = Array.from({ length: 5000 }, () => r());
  assert.ok(correlationTime(iid) < 1.2, String(correlationTime(iid)));
  const ar: number[] = [0];
  for (let i = 1; i < 20000; i++) ar.push(0.9 * ar[i - 1]! + (r() - 0.5));
  const tau = correlationTime(ar);
  // Summing until ρ < 0.05 stops early: 1 + 2 Σ_{k≤28} 0.9^k ≈ 17.9 of the full 19.
  assert.ok(tau > 14 && tau < 21, String(tau));
  assert.equal(correlationTime([3, 3, 3, 3, 3]), 1, 'a constant has no correlation to speak of');
});

test('summarise: mean, variance, the 80th percentile and the mean excess over it, by hand', () => {
  const s = summarise(Float64Array.from([10, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  // sorted[floor(0.8 * 10)] = 9; only 10 exceeds it, by 1.
  assert.deepEqual(s, [5.5, 9.16667, 9, 1]);
  assert.deepEqual(summarise(new Float64Array(0)), [0, 0, 0, 0]);
  // Exponential tail: P(X > u + e·ln(0.2/p)) = p.
  assert.ok(Math.abs(Judge.tailQuantile([0, 0, 9, 1], 0.002) - (9 + Math.log(100))) < 1e-12);
});

function series(frames: number, seed: number, shift = 0): ProfileBuilder {
  const r = lcg(seed);
  const b = new ProfileBuilder(['washer', 'scratch']);
  const fs = new Float64Array(12);
  const ds = new Float64Array(7);
  const hist = new Float64Array(2 * CONF_BINS);
  let level = 0;
  for (let t = 0; t < frames; t++) {
    level = 0.8 * level + (r() - 0.5) * 4; // correlated frames
    for (let i = 0; i < 12; i++) fs[i] = (i === 0 ? 80 + shift : 10 * (i + 1)) + level + r() * 3;
    ds.set([3, 0.9 + r() * 0.05, 0.85, 20, 0.04, 1, r() < 0.1 ? 1 : 0]);
    hist.fill(0);
    hist[18] = 3;
    hist[CONF_BINS + 2] = r() < 0.5 ? 1 : 0;
    b.add(fs, ds, [3, r() < 0.05 ? 1 : 0], hist);
  }
  return b;
}

test('calibration: thresholds fall with the window length, and new data from the same process rarely crosses warn', () => {
  const b = series(8000, 7);
  const built = b.build({ file: 'm.onnx', sha256: 'x', names: ['washer', 'scratch'] }, { source: 'test', images: 8000, skipped: 0 });
  const cal = calibrate(built, b.series(), { windows: [30, 120, 480], replicates: 400 });
  assert.deepEqual(cal.windows.map((w) => w.frames), [30, 120, 480]);
  assert.ok(cal.correlationFrames.brightness! > 2, 'the crafted frames are correlated');
  assert.ok(cal.blockFrames >= 4);
  const judge = new Judge(new ScoringReference(built), cal, { windowSeconds: 60 });
  const k = judge.ref.keys.indexOf('psi:brightness');
  const t30 = judge.thresholdsFor(30).warn[k]!;
  const t120 = judge.thresholdsFor(120).warn[k]!;
  const t480 = judge.thresholdsFor(480).warn[k]!;
  assert.ok(t30 > t120 && t120 > t480, `${t30} > ${t120} > ${t480}`);
  assert.ok(judge.thresholdsFor(240).warn[k]! < t120 && judge.thresholdsFor(240).warn[k]! > t480, 'interpolated between lengths');
  assert.ok(judge.thresholdsFor(120).alert[k]! > t120, 'alert sits above warn');
  // New windows from an independent run of the same process: scored and judged.
  const fresh = series(120 * 50, 99).series();
  const shifted = series(120 * 5, 5, 25).series();
  const flagged = (s: ReturnType<ProfileBuilder['series']>, n: number): number => {
    const w = judge.ref.newCounts();
    const scores = new Float64Array(judge.ref.keys.length);
    let count = 0;
    for (let start = 0; start + n <= s.frames; start += n) {
      w.clear();
      for (let t = start; t < start + n; t++) {
        PROFILE_FEATURES.forEach((_, i) => {
          const v = s.values[i]![t]!;
          w.bins[i]![binOf(judge.ref.edges[i]!, v)]!++;
          w.sum[i]! += v;
          w.sumSq[i]! += v * v;
        });
        w.frames++;
      }
      if (judge.drivers(w, judge.ref.score(w, scores)).length) count++;
    }
    return count;
  };
  assert.ok(flagged(fresh, 120) <= 1, 'at most one of 50 no-drift windows is flagged');
  assert.equal(flagged(shifted, 120), 5, 'a 25-unit brightness shift is flagged in every window');
});

test('fixed thresholds are available as an override; calibrated mode refuses a profile without a calibration', () => {
  const b = series(2000, 3);
  const built = b.build({ file: 'm.onnx', sha256: 'x', names: ['washer', 'scratch'] }, { source: 'test', images: 2000, skipped: 0 });
  const fixed = new Judge(new ScoringReference(built), undefined, { windowSeconds: 60, thresholds: 'fixed' });
  const { warn, alert } = fixed.thresholdsFor(100);
  const k = fixed.ref.keys.indexOf('psi:brightness');
  assert.deepEqual([warn[k], alert[k]], [0.1, 0.25]);
  assert.throws(() => new Judge(new ScoringReference(built), undefined, { windowSeconds: 60 }), /no calibration/);
});
