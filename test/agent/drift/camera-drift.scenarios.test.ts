/**
 * Drifts on the synthetic camera, judged against the shipped profile in default windows (60 s at
 * 2 fps = 120 frames): a lighting drift, a class-mix shift, and a defect type the model never saw.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CameraDrift } from '../../../agent/drift/camera-drift.js';
import type { DriftResult } from '../../../agent/drift/types.js';
import { Judge } from '../../../agent/drift/judge.js';
import type { Profile } from '../../../agent/drift/types.js';
import { ScoringReference } from '../../../agent/drift/scores.js';
import { reviewReason, ReviewSampler } from '../../../agent/review/sampler.js';
import { DETECTION_FEATURES } from '../../../agent/telemetry/detection-stats.js';
import { openDatabase } from '../../../agent/store/database.js';
import type { Conditions } from '../../../agent/synth/conditions.js';
import { ROOT } from '../../helpers/cli.js';
import { closeLineDetector, runLine } from '../../helpers/line-stream.js';

after(closeLineDetector);

const W = 120;
const UNCERTAIN = DETECTION_FEATURES.indexOf('uncertain');
const OOD_DETECTIONS = DETECTION_FEATURES.indexOf('oodDetections');
const profile = JSON.parse(await readFile(`${ROOT}models/line-detector.profile.json`, 'utf8')) as Profile;
const ref = new ScoringReference(profile);
const judge = new Judge(ref, profile.calibration, { windowSeconds: 60 });

async function windows(seed: number, count: number, conditions: (i: number) => Partial<Conditions>): Promise<DriftResult[]> {
  const drift = new CameraDrift(judge, profile.calibration);
  const out: DriftResult[] = [];
  await runLine({ seed, frames: count * W, conditions }, (f) => {
    drift.add(f);
    if (drift.frames === W) out.push(drift.close());
  });
  return out;
}

const BRIGHTNESS = /^(psi|js|ks|w1):(brightness|brightnessSpread|contrast|meanR|meanG|meanB|underExposed|entropy|sharpness)$|^rate:ood$/;

test('lighting drift: a 40% gain drop over 10 windows reaches alert within 2 windows of its start, on brightness-type features', async (t) => {
  // Two stable windows, then the gain falls linearly from 1 to 0.6 over windows 2-11.
  const rs = await windows(123, 12, (i) => ({ gain: i < 2 * W ? 1 : Math.max(0.6, 1 - (0.4 * (i - 2 * W)) / (10 * W)) }));
  t.diagnostic(rs.map((r, i) => `${i}:${r.severity}`).join(' '));
  assert.deepEqual([rs[0]!.severity, rs[1]!.severity], ['ok', 'ok']);
  const first = rs.findIndex((r) => r.severity === 'alert');
  t.diagnostic(`first alert in window ${first}: ${rs[first]!.drivers.map((d) => d.key).join(', ')}; features out of support ${JSON.stringify(rs[first]!.oodFeatures)}`);
  assert.ok(first >= 2 && first <= 3, `first alert in window ${first}`);
  for (const r of rs.slice(first)) {
    assert.equal(r.severity, 'alert');
    const named = r.drivers.filter((d) => d.level === 'alert').map((d) => d.key);
    // The model's own output moves in the dark too: fewer, less sure detections, whose colours are
    // no longer their class's (detection-level OOD).
    assert.ok(named.length > 0 && named.every((k) => BRIGHTNESS.test(k) || k.startsWith('cusum:') || /uncertain|topScore|meanScore|detections|candidates|oodDetection/.test(k)), named.join(', '));
    const features = r.drivers.flatMap((d) => (d.key === 'rate:ood' ? (d.features ?? []) : [d.key.split(':')[1]!]));
    assert.ok(features.some((f) => /^(brightness|brightnessSpread|contrast|meanR|meanG|meanB)$/.test(f)), `a brightness-type feature is named: ${features.join(', ')}`);
    assert.ok(!features.includes('colourTemp') && !features.includes('saturation'), `gain does not change colour: ${features.join(', ')}`);
  }
});

test('class mix: defects at 20% instead of 2%, nothing else changed, are flagged by the class-mix score', async (t) => {
  const rs = await windows(321, 12, () => ({ defectRate: 0.2 }));
  t.diagnostic(rs.map((r, i) => `${i}:${r.severity}(${r.sequential.classMix.statistic})`).join(' '));
  const first = rs.findIndex((r) => r.drivers.some((d) => d.key === 'cusum:classMix' || d.key === 'js:classMix'));
  assert.ok(first >= 0 && first <= 10, `class mix flagged in window ${first}`);
  for (const r of rs) for (const d of r.drivers) assert.doesNotMatch(d.key, /:(brightness|meanR|meanG|meanB|colourTemp)$/, 'the lighting did not change');
});

test('new defect type: burns the model never saw are caught at the detection level within 2 windows, with the class mix still ok, and review frames of burned parts appear', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-review-'));
  const db = openDatabase(join(dir, 'agent.db'));
  t.after(() => db.close());
  db.prepare("INSERT INTO cameras (name) VALUES ('line-1')").run([]);
  const review = new ReviewSampler(db, { dir: join(dir, 'review'), maxPerHour: 30, maxBytes: 64 << 20, now: () => 0 }); // no refill: the budget's cap, however long the run takes
  const drift = new CameraDrift(judge, profile.calibration);
  const stable = await windows(555, 20, () => ({}));
  const rs: DriftResult[] = [];
  const savedWithBurn: boolean[] = [];
  await runLine({ seed: 555, frames: 20 * W, conditions: () => ({ heldOutRate: 0.3 }) }, (f, truth) => {
    const ood = drift.add(f);
    const reason = reviewReason(f.detStats[UNCERTAIN]! > 0, ood, f.detStats[OOD_DETECTIONS]! > 0);
    if (reason && review.take(1)) {
      const lb = f.slot.letterbox!;
      review.save({ cameraId: 1, cameraName: 'line-1', ts: 1_800_000_000_000 + f.index, frame: f.index, reason, input: f.slot.input, width: lb.dstW, height: lb.dstH, detections: [], stats: {} });
      savedWithBurn.push(truth.some((o) => o.defect === 'burn'));
    }
    if (drift.frames === W) rs.push(drift.close());
  });
  await review.flush();
  const mean = (xs: DriftResult[], f: (r: DriftResult) => number): number => xs.reduce((a, r) => a + f(r), 0) / xs.length;
  const uStable = mean(stable, (r) => r.rates.uncertain);
  const uBurn = mean(rs, (r) => r.rates.uncertain);
  const dStable = mean(stable, (r) => r.rates.oodDetection);
  const dBurn = mean(rs, (r) => r.rates.oodDetection);
  t.diagnostic(`uncertain-frame rate ${uStable.toFixed(3)} stable -> ${uBurn.toFixed(3)} with burns; input OOD share ${mean(stable, (r) => r.rates.ood).toFixed(3)} -> ${mean(rs, (r) => r.rates.ood).toFixed(3)}; detection OOD share ${dStable.toFixed(3)} -> ${dBurn.toFixed(3)}`);
  t.diagnostic(rs.map((r, i) => `${i}:${r.severity}(${r.drivers.map((d) => d.key).join(',')})`).join(' '));
  // The detection-level score fires in the first or second window of burns, and it is what fired:
  // the class mix has not moved far enough yet to be a driver, nor its sequential detector to signal.
  const first = rs.findIndex((r) => r.severity !== 'ok');
  assert.ok(first >= 0 && first <= 1, `first flagged window ${first}`);
  for (const r of rs.slice(0, 2)) {
    assert.ok(r.drivers.some((d) => d.key === 'rate:oodDetection'), `rate:oodDetection drives it: ${r.drivers.map((d) => d.key).join(', ')}`);
    assert.ok(!r.drivers.some((d) => /classMix/.test(d.key)), 'the class mix is still ok');
    assert.equal(r.sequential.classMix.alarm, false);
  }
  assert.ok(dBurn > 0.5 && dStable < 0.1, `detection OOD share ${dStable} -> ${dBurn}`);
  assert.ok(uBurn > uStable * 1.15, `uncertain rate ${uStable} -> ${uBurn}`);
  // The same line without burns: ok, but for at most one window in 20 (seed 555's window 14 crosses
  // warn on js:conf.bracket, 0.372 against 0.367; docs/drift.md has the measured false-alarm rates).
  assert.ok(stable.filter((r) => r.severity !== 'ok').length <= 1, 'the same line without burns stays ok');
  assert.ok(!stable.some((r) => r.drivers.some((d) => /oodDetection/.test(d.key))), 'no detection-level OOD without burns');
  const files = await readdir(join(dir, 'review'));
  const rows = db.prepare('SELECT COUNT(*) AS n FROM review_samples').get([]) as { n: number };
  assert.equal(files.length, 30, 'the hourly budget caps the samples');
  assert.equal(rows.n, 30);
  const burned = savedWithBurn.filter(Boolean).length;
  t.diagnostic(`${burned} of ${savedWithBurn.length} review frames show a burned part`);
  assert.ok(burned >= savedWithBurn.length / 2, `${burned} of ${savedWithBurn.length} review frames show a burn`);
});
