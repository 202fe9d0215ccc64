import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readProfile } from '../../agent/drift/profile.js';
import type { Profile } from '../../agent/drift/types.js';
import { Detector } from '../../agent/infer/detector.js';
import { loadModel } from '../../agent/infer/model.js';
import { MODEL, ROOT, cli, renderDataset } from '../helpers/cli.js';

test('baseline profiles a YOLO dataset: every image once per feature, model sha and provenance, bad images skipped', async () => {
  const dataset = await renderDataset(12, 321);
  await writeFile(join(dataset, 'images', 'train', 'zz-broken.jpg'), 'not a jpeg');
  const out = join(dataset, 'profile.json');
  const r = await cli('baseline', '--model', MODEL, '--data', dataset, '--out', out, '--bins', '8', '--resize', 'sharp', '--class-conf', 'scratch=0.5,missing_notch=0.6', '--agnostic', '--class-priority', 'scratch,missing_notch');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /skipped .*zz-broken\.jpg: DRIFTLINE_ERR_IMAGE_DECODE/);
  const p = JSON.parse(await readFile(out, 'utf8')) as Profile;
  const info = JSON.parse((await cli('detect', '--model', MODEL, '--info')).stdout) as { sha256: string };
  assert.equal(p.schema, 'driftline.profile/1');
  assert.equal(p.model.sha256, info.sha256);
  assert.deepEqual(p.model.names, ['washer', 'bracket', 'scratch', 'missing_notch']);
  assert.deepEqual([p.frames, p.data.images, p.data.skipped], [12, 12, 1]);
  assert.equal(p.data.resize, 'sharp', 'the resampling the frames went through is recorded');
  assert.deepEqual(p.data.operatingPoint, { conf: 0.25, classConf: { scratch: 0.5, missing_notch: 0.6 }, agnostic: true, agnosticIou: 0.7, classPriority: ['scratch', 'missing_notch'] });
  assert.equal(p.data.source, dataset, 'a folder outside the working directory keeps its absolute path');
  for (const f of Object.values(p.features)) assert.equal(f.counts.reduce((a, c) => a + c, 0), 12);
  assert.ok(p.features.brightness!.edges.length <= 9);
  assert.ok(p.classMix.washer! + p.classMix.bracket! > 12, 'parts were detected and counted');
  assert.ok(p.confHist.washer!.reduce((a, c) => a + c, 0) > 0);
});

test('baseline refuses a missing dataset or model with a specific error', async () => {
  const r = await cli('baseline', '--model', MODEL, '--data', '/nonexistent/data');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /DRIFTLINE_ERR_USAGE: --data \/nonexistent\/data does not exist/);
  const m = await cli('baseline', '--model', '/nonexistent/m.onnx', '--data', '.');
  assert.equal(m.code, 1);
  assert.match(m.stderr, /DRIFTLINE_ERR_MODEL_NOT_FOUND/);
});

test('baseline --synthetic N --cameras K: K runs of consecutive frames, recorded with the capture size and calibrated by run', async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'driftline-baseline-')), 'p.json');
  const r = await cli('baseline', '--model', MODEL, '--synthetic', '240', '--cameras', '3', '--seed', '40', '--size', '160x120', '--windows', '30,60', '--replicates', '50', '--out', out, '--providers', 'cpu');
  assert.equal(r.code, 0, r.stderr);
  const p = JSON.parse(await readFile(out, 'utf8')) as Profile;
  assert.deepEqual([p.frames, p.data.runs, p.data.width, p.data.height, p.data.resize], [240, 3, 160, 120, 'auto']);
  assert.deepEqual(p.data.operatingPoint, { conf: 0.25, classConf: {}, agnostic: false, agnosticIou: 0.7, classPriority: [] }, 'the operating point the detections were counted at');
  assert.match(p.data.source, /3 cameras \(seeds 40-42\), 80 consecutive frames each, 160x120/);
  assert.equal(p.calibration!.runs, 3);
  assert.deepEqual(p.calibration!.windows.map((w) => w.frames), [30], 'a window fits in half a run (40 frames): 60 is dropped');
  const bad = await cli('baseline', '--model', MODEL, '--synthetic', '2', '--cameras', '3');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /DRIFTLINE_ERR_USAGE: --cameras 3 is more than --synthetic 2 frames/);
  const cc = await cli('baseline', '--model', MODEL, '--synthetic', '2', '--class-conf', 'rust=0.5');
  assert.equal(cc.code, 2);
  assert.match(cc.stderr, /--class-conf names unknown class "rust"; the model has washer, bracket, scratch, missing_notch/);
  const resize = await cli('baseline', '--model', MODEL, '--synthetic', '2', '--resize', 'cubic');
  assert.equal(resize.code, 2);
  assert.match(resize.stderr, /DRIFTLINE_ERR_USAGE: --resize cubic: expected one of auto, bilinear, area, sharp/);
});

test('baseline fits the detection-level OOD reference when the model has an embedding; a model without one gets none and oodDetections = 0', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-baseline-ood-'));
  const out = join(dir, 'p.json');
  const r = await cli('baseline', '--model', MODEL, '--synthetic', '300', '--seed', '50', '--windows', '30,60', '--replicates', '50', '--out', out, '--providers', 'cpu');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /ood: fitting the detection-level reference on \d+ of \d+ detections \(112 features\)/);
  assert.equal((JSON.parse(r.stdout) as { ood: string }).ood, 'embedding');
  const p = await readProfile(out);
  const ref = p.detectionOod!;
  assert.deepEqual([ref.schema, ref.features, ref.classes, ref.shrinkage], ['driftline.detection-ood/1', { embeddingDim: 64, appearance: true }, 4, 0.5]);
  assert.ok(ref.quantiles.p99 > ref.quantiles.p50 && ref.quantiles.p50 > 0);
  // About 1% of the reference's detections are over its own p99: a few frames with one.
  const f = p.features.oodDetections!;
  assert.ok(f.mean > 0 && f.mean < 0.2, `oodDetections mean ${f.mean}`);
  // It loads into a detector of the model, which then scores detections.
  const det = new Detector(await loadModel(MODEL, { providers: ['cpu'] }), { detectionOod: ref });
  assert.equal(det.oodThreshold, ref.quantiles.p99);

  const third = join(dir, 'third.json');
  const t = await cli('baseline', '--model', join(ROOT, 'bench', 'models', 'yolov8n-random-640.onnx'), '--synthetic', '12', '--windows', '4', '--replicates', '20', '--out', third, '--providers', 'cpu');
  assert.equal(t.code, 0, t.stderr);
  const q = await readProfile(third);
  assert.equal(q.detectionOod, undefined);
  assert.deepEqual([q.features.oodDetections!.mean, q.features.oodDetections!.std], [0, 0]);

  // Too few kept detections for a covariance of 112 features: no reference, and it says why.
  const few = join(dir, 'few.json');
  const fewRun = await cli('baseline', '--model', MODEL, '--synthetic', '40', '--windows', '4', '--replicates', '20', '--out', few, '--providers', 'cpu');
  assert.equal(fewRun.code, 0, fewRun.stderr);
  assert.match(fewRun.stderr, /ood: \d+ kept detections are too few to fit a detection-level reference of 112 features \(it needs 560\)/);
  const small = await readProfile(few);
  assert.equal(small.detectionOod, undefined);
  assert.deepEqual([small.features.oodDetections!.mean, small.features.oodDetections!.std], [0, 0]);
});
