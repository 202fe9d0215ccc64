import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { calibrate, correlationTime, summarise } from '../../../agent/drift/calibrate.js';
import { CameraDrift } from '../../../agent/drift/camera-drift.js';
import { Judge } from '../../../agent/drift/judge.js';
import { PROFILE_FEATURES, ProfileBuilder, type Profile } from '../../../agent/drift/profile.js';
import { ScoringReference } from '../../../agent/drift/scores.js';
import { CONF_BINS } from '../../../agent/telemetry/detection-stats.js';
import { FRAME_FEATURES } from '../../../agent/telemetry/frame-stats.js';

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

/** Crafted frames; with `runs`, that many cameras, each with its own brightness offset from `offsets`. */
function series(frames: number, seed: number, shift = 0, runs = 1, offsets: readonly number[] = [0]): ProfileBuilder {
  const r = lcg(seed);
  const b = new ProfileBuilder(['washer', 'scratch']);
  const per = Math.floor(frames / runs);
  const fs = new Float64Array(12);
  const ds = new Float64Array(7);
  const hist = new Float64Array(2 * CONF_BINS);
  let level = 0;
  for (let t = 0; t < frames; t++) {
    if (t > 0 && t % per === 0) b.startRun();
    const camera = offsets[Math.floor(t / per) % offsets.length]!;
    level = 0.8 * level + (r() - 0.5) * 4; // correlated frames
    for (let i = 0; i < 12; i++) fs[i] = (i === 0 ? 80 + shift + camera : 10 * (i + 1)) + level + r() * 3;
    ds.set([3, 0.9 + r() * 0.05, 0.85, 20, 0.04, 1, r() < 0.1 ? 1 : 0]);
    hist.fill(0);
    hist[18] = 3;
    hist[CONF_BINS + 2] = r() < 0.5 ? 1 : 0;
    b.add(fs, ds, [3, r() < 0.05 ? 1 : 0], hist);
  }
  return b;
}

/** How many consecutive windows of `n` frames of `s` are not `ok`, judged as the agent judges them (CameraDrift). */
function windowsFlagged(judge: Judge, s: ReturnType<ProfileBuilder['series']>, n: number): number {
  const nc = judge.ref.names.length;
  const nf = FRAME_FEATURES.length;
  const fs = new Float64Array(nf);
  const ds = new Float64Array(PROFILE_FEATURES.length - nf);
  const drift = new CameraDrift(judge, judge.calibration);
  const cc = Float64Array.from(s.classCounts);
  const ch = Float64Array.from(s.confHist);
  let count = 0;
  for (let t = 0; t < s.frames; t++) {
    PROFILE_FEATURES.forEach((_, i) => (i < nf ? (fs[i] = s.values[i]![t]!) : (ds[i - nf] = s.values[i]![t]!)));
    drift.add(fs, ds, cc.subarray(t * nc, (t + 1) * nc), ch.subarray(t * nc * CONF_BINS, (t + 1) * nc * CONF_BINS));
    if (drift.frames === n && drift.close().severity !== 'ok') count++;
  }
  return count;
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
  const flagged = (s: ReturnType<ProfileBuilder['series']>, n: number): number => windowsFlagged(judge, s, n);
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

test('a reference of several cameras: each no-drift window is drawn from one camera and scored against the others, so a new camera of the same line is not an alarm', () => {
  // Eight cameras whose brightness differs by up to 12 units, as cameras of one line may.
  const offsets = [-12, 9, -6, 12, 3, -9, 6, 0];
  const names = ['washer', 'scratch'];
  const multi = series(8000, 11, 0, 8, offsets);
  const built = multi.build({ file: 'm.onnx', sha256: 'x', names }, { source: 'test', images: 8000, skipped: 0, runs: 8 });
  assert.deepEqual(multi.series().runs, [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000]);
  const byCamera = calibrate(built, multi.series(), { windows: [30, 120, 480], replicates: 400 });
  assert.equal(byCamera.runs, 8);
  const { runs: _ignored, ...oneRun } = multi.series();
  const asOne = calibrate(built, oneRun, { windows: [30, 120, 480], replicates: 400 });
  assert.equal(asOne.runs, undefined);
  const judgeBy = new Judge(new ScoringReference(built), byCamera, { windowSeconds: 60 });
  const judgeOne = new Judge(new ScoringReference(built), asOne, { windowSeconds: 60 });
  const k = judgeBy.ref.keys.indexOf('psi:brightness');
  const [by, one] = [judgeBy.thresholdsFor(120).warn[k]!, judgeOne.thresholdsFor(120).warn[k]!];
  assert.ok(by > one * 1.2, `a window from one camera against the others spreads wider than blocks mixed across cameras: ${by} vs ${one}`);
  // The same line profiled from one camera only: a second camera 10 units brighter looks like drift.
  const single = series(8000, 11);
  const builtSingle = single.build({ file: 'm.onnx', sha256: 'x', names }, { source: 'test', images: 8000, skipped: 0 });
  const judgeSingle = new Judge(new ScoringReference(builtSingle), calibrate(builtSingle, single.series(), { windows: [30, 120, 480], replicates: 400 }), { windowSeconds: 60 });
  for (const [seed, offset] of [[21, 10], [22, -10]] as const) {
    const fresh = series(120 * 20, seed, offset).series();
    assert.ok(windowsFlagged(judgeBy, fresh, 120) <= 1, `new camera at ${offset}: at most one of 20 windows flagged against the eight-camera reference`);
    assert.ok(windowsFlagged(judgeSingle, fresh, 120) >= 15, `... and most of them against a one-camera reference (${windowsFlagged(judgeSingle, fresh, 120)})`);
  }
  // A real drift still is one.
  // A real drift still is one: a shift far beyond the spread between cameras.
  assert.equal(windowsFlagged(judgeBy, series(120 * 5, 5, 80).series(), 120), 5, 'an 80-unit brightness shift is flagged in every window');
});

test('scores whose warn threshold is past their bound are named: they cannot fire, and the agent says so', async () => {
  const b = series(8000, 7);
  const built = b.build({ file: 'm.onnx', sha256: 'x', names: ['washer', 'scratch'] }, { source: 'test', images: 8000, skipped: 0 });
  const quiet = new Judge(new ScoringReference(built), calibrate(built, b.series(), { windows: [30, 120, 480], replicates: 400 }), { windowSeconds: 60 });
  assert.deepEqual(quiet.powerless(480), [], 'one camera of smooth frames: every bounded score can fire in long windows');
  // The shipped profile: eight cameras, some features disjoint from one camera to the next.
  const shipped = JSON.parse(await readFile(new URL('../../../models/line-detector.profile.json', import.meta.url), 'utf8')) as Profile;
  const judge = new Judge(new ScoringReference(shipped), shipped.calibration, { windowSeconds: 60 });
  const dead = judge.powerless(120);
  assert.ok(dead.includes('ks:brightness') && dead.every((k) => /^(js|ks|rate):/.test(k)), dead.join(' '));
  assert.ok(!dead.includes('rate:ood'), 'the out-of-distribution share has a real band');
});
