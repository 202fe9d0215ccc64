/**
 * Features defined once (protocol/features.ts): an input statistic added from a fixture (one
 * definition and its computation) flows from the frame through the real components (frame stats,
 * profile and calibration, window aggregate, drift scoring, summary message) to the collector's
 * evidence, while the shipped feature list and the wire schema stay as they are.
 */
// First: the fixture adds its statistic before any module below reads the feature list.
import { LEFT_BALANCE } from './fixtures/left-balance.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { featureOf, classify, evidenceOf, headline, leadFamily } from '../../collector/rules/evidence.js';
import { familyScores } from '../../agent/drift/family-scores.js';
import { calibrate } from '../../agent/drift/calibrate.js';
import { CameraDrift } from '../../agent/drift/camera-drift.js';
import { Judge } from '../../agent/drift/judge.js';
import { ProfileBuilder } from '../../agent/drift/profile.js';
import { ScoringReference } from '../../agent/drift/scores.js';
import { BoxSet } from '../../agent/decode/boxes.js';
import { summary, type Identity } from '../../agent/publish/messages.js';
import { cameraIds } from '../../agent/store/cameras.js';
import { openDatabase } from '../../agent/store/database.js';
import { FrameWriter } from '../../agent/store/frame-writer.js';
import { DetectionStats } from '../../agent/telemetry/detection-stats.js';
import { recordOver } from '../../agent/telemetry/frame-record.js';
import { FRAME_FEATURES, FrameStats } from '../../agent/telemetry/frame-stats.js';
import { WindowAggregator } from '../../agent/telemetry/window.js';
import { familyOf } from '../../protocol/families.js';
import { inputFeatures, registerInputFeature, SHIPPED_INPUT_FEATURES } from '../../protocol/features.js';
import { check, SCHEMAS, type SummaryMessage } from '../../protocol/messages.js';

const W = 64;
const H = 48;
const NAMES = ['part'];
const REFERENCE_FRAMES = 240;
const WINDOW_FRAMES = 60;

/** A grey frame, bright on the left (a) and dim on the right (b), or the other way round when mirrored. */
function frame(a: number, b: number, mirrored: boolean): Uint8Array {
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) rgb.fill(x < W / 2 !== mirrored ? a : b, (y * W + x) * 3, (y * W + x) * 3 + 3);
  return rgb;
}

/** The reference's k-th frame's two halves, jittered frame to frame. */
const halves = (k: number): [number, number] => [160 + ((k * 37) % 29), 60 + ((k * 53) % 23)];

test('the added statistic follows the shipped ones; the shipped list does not hold it, and the list is fixed once read', () => {
  assert.deepEqual(
    inputFeatures().map((d) => d.name),
    [...SHIPPED_INPUT_FEATURES.map((d) => d.name), LEFT_BALANCE],
  );
  assert.deepEqual(FRAME_FEATURES, [...SHIPPED_INPUT_FEATURES.map((d) => d.name), LEFT_BALANCE]);
  assert.equal(familyOf(LEFT_BALANCE), 'illumination');
  assert.throws(() => registerInputFeature({ name: 'late', family: 'focus', unit: 'none', resolution: 1 }), /fixed once read/);
});

test('an added input statistic flows from the frame to the collector evidence, in the unchanged wire format', (t) => {
  const stats = new FrameStats();
  const det = new DetectionStats(NAMES.length);
  const boxes = new BoxSet(4);
  const rec = recordOver(stats.values, det);
  const measure = (k: number, mirrored: boolean): void => {
    stats.compute(frame(...halves(k), mirrored), W, H);
    boxes.clear();
    boxes.push(8, 8, 24, 30, 0.8 + (k % 7) * 0.02, 0);
    boxes.push(36, 10, 56, 40, 0.75 + (k % 5) * 0.03, 0);
    det.compute(boxes, boxes, W, H);
    rec.ts = 1_000_000 + k * 1000;
    rec.index = k;
    rec.width = W;
    rec.height = H;
  };

  // Computed per frame: mirroring moves only the added statistic.
  measure(0, false);
  const plain = Array.from(stats.values);
  measure(0, true);
  const i = FRAME_FEATURES.indexOf(LEFT_BALANCE);
  plain.forEach((v, f) => (f === i ? assert.ok(v > 0.3 && Math.abs(stats.values[f]! + v) < 1e-9, String(v)) : assert.ok(Math.abs(stats.values[f]! - v) < 1e-9, FRAME_FEATURES[f])));

  // The reference profile and its calibration hold it.
  const builder = new ProfileBuilder(NAMES);
  for (let k = 0; k < REFERENCE_FRAMES; k++) {
    measure(k, false);
    builder.add(rec);
  }
  const built = builder.build({ file: 'line.onnx', sha256: '0'.repeat(64), names: NAMES }, { source: 'fixture', images: REFERENCE_FRAMES, skipped: 0 });
  const calibration = calibrate(built, builder.series(), { windows: [30, WINDOW_FRAMES], replicates: 400 });
  const profile = { ...built, calibration };
  assert.ok(profile.features[LEFT_BALANCE]!.mean > 0.3);
  assert.ok(calibration.support[LEFT_BALANCE]);

  // A window of mirrored frames: aggregated, judged, and its frames stored (the table keeps the shipped columns).
  const db = openDatabase(':memory:');
  t.after(() => db.close());
  const [cameraId] = cameraIds(db, ['cam1']);
  const writer = new FrameWriter(db, { flushMs: 60_000 });
  const judge = new Judge(new ScoringReference(profile), calibration, { windowSeconds: WINDOW_FRAMES });
  const drift = new CameraDrift(judge, calibration);
  const window = new WindowAggregator(NAMES, WINDOW_FRAMES * 1000);
  for (let k = 0; k < WINDOW_FRAMES; k++) {
    measure(k, true);
    window.add(rec);
    drift.add(rec);
    writer.add(cameraId!, rec);
  }
  assert.equal(writer.close(), WINDOW_FRAMES);
  assert.equal((db.prepare('SELECT count(*) AS n FROM frames').get() as { n: number }).n, WINDOW_FRAMES);
  const aggregate = window.aggregate();
  assert.ok(aggregate.features[LEFT_BALANCE]!.mean < -0.3);
  const result = drift.close();
  assert.equal(result.severity, 'alert');
  assert.ok(result.drivers.some((d) => d.key === `psi:${LEFT_BALANCE}`));
  for (const d of result.drivers) assert.deepEqual(d.key === 'rate:ood' ? d.features : featureOf(d.key), d.key === 'rate:ood' ? [LEFT_BALANCE] : LEFT_BALANCE, d.key);

  // The summary message, through the wire schema as it ships.
  const id: Identity = { site: 'plant', device: 'edge-1', version: 'test', model: { name: 'line', sha256: '0'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['cam1'], windowSeconds: WINDOW_FRAMES };
  const reference = Object.fromEntries(Object.entries(profile.features).map(([k, f]) => [k, { mean: f.mean, std: f.std }]));
  const sent = summary(id, { camera: 'cam1', window: aggregate, dropped: 0, errors: 0, drift: result, reference, familyScores: familyScores(result, judge) }, 1);
  const received = check<SummaryMessage>(JSON.parse(JSON.stringify(sent)), SCHEMAS.summary);
  assert.ok(received.ok, received.ok ? '' : received.reason);
  const s = received.message;
  assert.ok(s.familyScores!.illumination! >= 2);

  // The collector's evidence names it as input drift, in its family.
  const cause = classify(s);
  assert.equal(cause.class, 'input-drift');
  assert.match(cause.reason, new RegExp(LEFT_BALANCE));
  const head = headline(s, cause)!;
  assert.equal(head.family, 'illumination');
  assert.equal(head.feature, LEFT_BALANCE);
  assert.equal(leadFamily(s), 'illumination');
  assert.equal(evidenceOf(s, undefined).shifts[0]!.feature, LEFT_BALANCE);
});
