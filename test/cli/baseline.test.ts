import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Profile } from '../../agent/drift/profile.js';
import { MODEL, cli, renderDataset } from '../helpers/cli.js';

test('baseline profiles a YOLO dataset: every image once per feature, model sha and provenance, bad images skipped', async () => {
  const dataset = await renderDataset(12, 321);
  await writeFile(join(dataset, 'images', 'train', 'zz-broken.jpg'), 'not a jpeg');
  const out = join(dataset, 'profile.json');
  const r = await cli('baseline', '--model', MODEL, '--data', dataset, '--out', out, '--bins', '8');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /skipped .*zz-broken\.jpg: DRIFTLINE_ERR_IMAGE_DECODE/);
  const p = JSON.parse(await readFile(out, 'utf8')) as Profile;
  const info = JSON.parse((await cli('detect', '--model', MODEL, '--info')).stdout) as { sha256: string };
  assert.equal(p.schema, 'driftline.profile/1');
  assert.equal(p.model.sha256, info.sha256);
  assert.deepEqual(p.model.names, ['washer', 'bracket', 'scratch', 'missing_notch']);
  assert.deepEqual([p.frames, p.data.images, p.data.skipped], [12, 12, 1]);
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
  assert.deepEqual([p.frames, p.data.runs, p.data.width, p.data.height], [240, 3, 160, 120]);
  assert.match(p.data.source, /3 cameras \(seeds 40-42\), 80 consecutive frames each, 160x120/);
  assert.equal(p.calibration!.runs, 3);
  assert.deepEqual(p.calibration!.windows.map((w) => w.frames), [30], 'a window fits in half a run (40 frames): 60 is dropped');
  const bad = await cli('baseline', '--model', MODEL, '--synthetic', '2', '--cameras', '3');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /DRIFTLINE_ERR_USAGE: --cameras 3 is more than --synthetic 2 frames/);
});
