import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { calibrate, correlationTime } from '../../../agent/drift/calibrate.js';
import { CameraDrift } from '../../../agent/drift/camera-drift.js';
import { Judge } from '../../../agent/drift/judge.js';
import { ProfileBuilder } from '../../../agent/drift/profile.js';
import { PROFILE_FEATURES } from '../../../agent/drift/profile-schema.js';
import type { Profile } from '../../../agent/drift/types.js';
import { ScoringReference } from '../../../agent/drift/scores.js';
import { summarise, tailFit, tailQuantile } from '../../../agent/drift/tail.js';
import { CONF_BINS } from '../../../agent/telemetry/detection-stats.js';
import { FRAME_FEATURES } from '../../../agent/telemetry/frame-stats.js';
import { recordOf } from './record-of.js';

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
  const v = Float64Array.from([10, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // sorted[floor(0.8 * 10)] = 9; only 10 exceeds it, by 1. Ten values are too few to check a lighter tail: power 1.
  assert.deepEqual(summarise(v), [5.5, 9.16667, 9, 1, 1]);
  assert.deepEqual(summarise(new Float64Array(0)), [0, 0, 0, 0, 1]);
  // Exponential tail: P(X > u + e·ln(0.2/p)) = p; a profile from before the power field reads as power 1.
  assert.ok(Math.abs(tailQuantile([0, 0, 9, 1], 0.002) - (9 + Math.log(100))) < 1e-12);
  assert.ok(Math.abs(tailQuantile([0, 0, 9, 1, 1], 0.002) - (9 + Math.log(100))) < 1e-12);
  // Power 2: the square's tail is exponential, P(X² > u² + e·ln(0.2/p)) = p.
  assert.ok(Math.abs(tailQuantile([0, 0, 9, 19, 2], 0.002) - Math.sqrt(81 + 19 * Math.log(100))) < 1e-12);
});

test('the tail model is chosen by the bootstrap: the square for a Gaussian-like tail, the value itself for an exponential one', () => {
  const n = 2000;
  const at = (f: (q: number) => number): Float64Array => Float64Array.from({ length: n }, (_, i) => f((i + 0.5) / n));
  // Rayleigh: its square is exactly exponential, so the lighter model fits and is taken.
  const rayleigh = summarise(at((q) => Math.sqrt(-2 * Math.log(1 - q))));
  assert.equal(rayleigh[4], 2);
  // Its far quantile is then right: P(X > x) = exp(-x²/2).
  assert.ok(Math.abs(tailQuantile(rayleigh, 1e-6) - Math.sqrt(-2 * Math.log(1e-6))) < 0.05, String(tailQuantile(rayleigh, 1e-6)));
  // Exponential: the square's tail falls ever further below the bootstrap's upper quantiles.
  const exponential = summarise(at((q) => -Math.log(1 - q)));
  assert.equal(exponential[4], 1);
  assert.ok(Math.abs(tailQuantile(exponential, 1e-6) - -Math.log(1e-6)) < 0.05);
  assert.deepEqual(tailFit(Float64Array.from([1, 2, 3]), 2), { power: 1, excess: 1 }, 'too few values to check: the value itself');
});

/** Crafted frames; with `runs`, that many cameras, each with its own brightness offset from `offsets`. */
function series(frames: number, seed: number, shift = 0, runs = 1, offsets: readonly number[] = [0]): ProfileBuilder {
  const r = lcg(seed);
  const b = new ProfileBuilder(['washer', 'scratch']);
  const per = Math.floor(frames / runs);
  const fs = new Float64Array(12);
  const ds = new Float64Array(8);
  const hist = new Float64Array(2 * CONF_BINS);
  let level = 0;
  for (let t = 0; t < frames; t++) {
    if (t > 0 && t % per === 0) b.startRun();
    const camera = offsets[Math.floor(t / per) % offsets.length]!;
    level = 0.8 * level + (r() - 0.5) * 4; // correlated frames
    for (let i = 0; i < 12; i++) fs[i] = (i === 0 ? 80 + shift + camera : 10 * (i + 1)) + level + r() * 3;
    ds.set([3, 0.9 + r() * 0.05, 0.85, 20, 0.04, 1, r() < 0.1 ? 1 : 0, 0]); // detection features, oodDetections last
    hist.fill(0);
    hist[18] = 3;
    hist[CONF_BINS + 2] = r() < 0.5 ? 1 : 0;
    b.add(recordOf(fs, ds, [3, r() < 0.05 ? 1 : 0], hist));
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
    drift.add(recordOf(fs, ds, cc.subarray(t * nc, (t + 1) * nc), ch.subarray(t * nc * CONF_BINS, (t + 1) * nc * CONF_BINS)));
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
  // The same line profiled from one camera only: a second camera 10 units brighter looks like drift.
  const single = series(8000, 11);
  const builtSingle = single.build({ file: 'm.onnx', sha256: 'x', names }, { source: 'test', images: 8000, skipped: 0 });
  const judgeSingle = new Judge(new ScoringReference(builtSingle), calibrate(builtSingle, single.series(), { windows: [30, 120, 480], replicates: 400 }), { windowSeconds: 60 });
  for (const [seed, offset] of [[21, 10], [22, -10]] as const) {
    const fresh = series(120 * 20, seed, offset).series();
    assert.ok(windowsFlagged(judgeBy, fresh, 120) <= 1, `new camera at ${offset}: at most one of 20 windows flagged against the eight-camera reference`);
    assert.ok(windowsFlagged(judgeSingle, fresh, 120) >= 15, `... and most of them against a one-camera reference (${windowsFlagged(judgeSingle, fresh, 120)})`);
  }
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
  // At the default 120 frames, all but a few bounded scores have a real band (the tail of the
  // square of a distance is exponential, so its threshold stays under the bound): 17 had none when
  // every tail was an exponential of the raw score ...
  const dead120 = judge.powerless(120);
  assert.ok(dead120.length <= 3 && dead120.every((k) => /^(js|ks):/.test(k)), dead120.join(' '));
  for (const key of ['js:brightness', 'ks:brightness', 'rate:ood', 'rate:uncertain', 'rate:oodDetection']) {
    const k = judge.ref.keys.indexOf(key);
    const { warn, alert } = judge.thresholdsFor(120);
    assert.ok(warn[k]! > judge.nullOf(k)[0] && warn[k]! < alert[k]! && alert[k]! < 1, `${key}: ${warn[k]} < ${alert[k]} < 1`);
  }
  // ... but a 60-frame window is one stretch of one camera, often disjoint from the other cameras on
  // the input features: those scores reach their bound without drift, and are named.
  const dead = judge.powerless(60);
  assert.ok(dead.includes('ks:brightness') && dead.every((k) => /^(js|ks):/.test(k)), dead.join(' '));
});

test('in the shipped profile every score of a per-frame count has a calibrated band above 0', async () => {
  // With oodDetections in one bin [0, 2], its four scores were 0 in every calibration window: warn
  // and alert at 0, so one frame with 3 out-of-distribution detections made the window alert.
  const shipped = JSON.parse(await readFile(new URL('../../../models/line-detector.profile.json', import.meta.url), 'utf8')) as Profile;
  assert.deepEqual(shipped.features.oodDetections!.edges, [-0.5, 0.5, 1.5, 2.5]);
  const judge = new Judge(new ScoringReference(shipped), shipped.calibration, { windowSeconds: 60 });
  for (const frames of [60, 120, 300]) {
    const { warn, alert } = judge.thresholdsFor(frames);
    for (const feature of ['detections', 'uncertain', 'oodDetections']) {
      for (const score of ['psi', 'js', 'ks', 'w1']) {
        const k = judge.ref.keys.indexOf(`${score}:${feature}`);
        assert.ok(k >= 0 && warn[k]! > 0 && alert[k]! > warn[k]!, `${score}:${feature} at ${frames} frames: warn ${warn[k]}, alert ${alert[k]}`);
      }
    }
  }
});

test('a reference judges windows up to twice its longest calibrated length; a longer window is insufficient-reference, never ok', () => {
  const b = series(400, 7);
  const built = b.build({ file: 'm.onnx', sha256: 'x', names: ['washer', 'scratch'] }, { source: 'test', images: 400, skipped: 0 });
  // One run of correlated frames: windows up to half of one half (100 frames), which the default ladder stops short of.
  const cal = calibrate(built, b.series(), { replicates: 200 });
  assert.deepEqual(cal.windows.map((w) => w.frames), [30, 60, 100]);
  const judge = new Judge(new ScoringReference(built), cal, { windowSeconds: 60 });
  assert.equal(judge.longestCalibrated(), 100);
  assert.ok(judge.covers(200) && !judge.covers(201));
  const verdicts = (n: number): string[] => {
    const drift = new CameraDrift(judge, cal);
    const s = series(n * 3, 8).series();
    const out: string[] = [];
    const nf = FRAME_FEATURES.length;
    const fs = new Float64Array(nf);
    const ds = new Float64Array(PROFILE_FEATURES.length - nf);
    for (let t = 0; t < s.frames; t++) {
      PROFILE_FEATURES.forEach((_, i) => (i < nf ? (fs[i] = s.values[i]![t]!) : (ds[i - nf] = s.values[i]![t]!)));
      drift.add(recordOf(fs, ds, Float64Array.from(s.classCounts).subarray(t * 2, t * 2 + 2), Float64Array.from(s.confHist).subarray(t * 2 * CONF_BINS, (t + 1) * 2 * CONF_BINS)));
      if (drift.frames === n) out.push(drift.close().severity);
    }
    return out;
  };
  assert.deepEqual(verdicts(250), ['insufficient-reference', 'insufficient-reference', 'insufficient-reference']);
  assert.ok(verdicts(200).every((v) => v === 'ok' || v === 'warn' || v === 'alert'), 'windows it covers get a verdict');
  // Fixed thresholds make no claim about the reference's size.
  assert.ok(new Judge(new ScoringReference(built), cal, { windowSeconds: 60, thresholds: 'fixed' }).covers(100_000));
});

test('effect-size gate: a feature moves when its mean or spread shifts by its resolution or half its reference spread, whichever is larger', () => {
  const b = series(2000, 3);
  const built = b.build({ file: 'm.onnx', sha256: 'x', names: ['washer', 'scratch'] }, { source: 'test', images: 2000, skipped: 0 });
  const judge = new Judge(new ScoringReference(built), undefined, { windowSeconds: 60, thresholds: 'fixed' });
  const f = PROFILE_FEATURES.indexOf('candidates');
  const g = PROFILE_FEATURES.indexOf('brightness');
  const { mean: m, std: sd } = built.features.brightness!;
  // brightness: 2 grey levels is more than half its spread here; candidates is constant (20), so its resolution (1) rules.
  assert.ok(sd < 4, String(sd));
  assert.equal(judge.effectGate[g], 2);
  assert.equal(judge.effectGate[f], 1);
  assert.ok(!judge.featureMoved(g, m + 1.9, sd) && judge.featureMoved(g, m + 2.1, sd) && judge.featureMoved(g, m, sd + 2.1));
  // A feature with a wide reference spread needs half of it: uncertain detections per frame here are 0 or 1.
  const u = PROFILE_FEATURES.indexOf('uncertain');
  const uf = built.features.uncertain!;
  assert.ok(0.5 * uf.std > 0.05, 'half the spread is above the 0.05 resolution');
  assert.ok(Math.abs(judge.effectGate[u]! - 0.5 * uf.std) < 1e-12);
  assert.ok(!judge.featureMoved(u, uf.mean + 0.4 * uf.std, uf.std) && judge.featureMoved(u, uf.mean + 0.6 * uf.std, uf.std));
});
