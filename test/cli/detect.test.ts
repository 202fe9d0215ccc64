import assert from 'node:assert/strict';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { MODEL, ROOT, cli, renderDataset } from '../helpers/cli.js';

let dataset = '';

before(async () => {
  dataset = await renderDataset(6, 99);
});

test('detect prints one JSON line per image with boxes in image pixels', async () => {
  const images = (await readdir(join(dataset, 'images', 'train'))).map((f) => join(dataset, 'images', 'train', f));
  const r = await cli('detect', '--model', MODEL, ...images);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { image: string; width: number; detections: { class: string; score: number; box: number[] }[] });
  assert.equal(lines.length, images.length);
  let n = 0;
  for (const l of lines) {
    assert.equal(l.width, 640);
    for (const d of l.detections) {
      assert.ok(['washer', 'bracket', 'scratch', 'missing_notch'].includes(d.class));
      assert.ok(d.score >= 0.25 && d.score <= 1);
      assert.ok(d.box[0]! >= 0 && d.box[2]! <= 640 && d.box[3]! <= 480);
      n++;
    }
  }
  assert.ok(n >= images.length, 'the parts are found');
  assert.equal(r.stderr, '', 'nothing on stderr by default (no native provider noise)');
});

test('detect --info reports the provider that runs and the fallback attempts', async () => {
  const auto = await cli('detect', '--model', MODEL, '--info');
  assert.equal(auto.code, 0, auto.stderr);
  assert.deepEqual((JSON.parse(auto.stdout) as { attempts: { provider: string }[] }).attempts.map((a) => a.provider), ['cpu'], 'auto: only what this CPU-only build has');
  const r = await cli('detect', '--model', MODEL, '--info', '--providers', 'tensorrt,cuda,cpu');
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as { provider: string; layout: string; attempts: { provider: string; ok: boolean }[] };
  assert.equal(info.provider, 'cpu');
  assert.equal(info.layout, 'yolov8');
  assert.deepEqual(info.attempts.map((a) => a.provider), ['tensorrt', 'cuda', 'cpu']);
  assert.ok(Buffer.byteLength(r.stdout) < 5000, `a page of details, not the model's bytes (${Buffer.byteLength(r.stdout)} bytes)`);
  assert.ok(!('modelBytes' in info));
});

test('detect --info names the OOD mode: embedding (with D) for the shipped model, confidence for a third-party one', async () => {
  const shipped = await cli('detect', '--model', MODEL, '--info');
  assert.equal(shipped.code, 0, shipped.stderr);
  assert.deepEqual((JSON.parse(shipped.stdout) as { ood: unknown }).ood, { mode: 'embedding', output: 'embed0', dim: 64, anchors: 192 });
  const other = await cli('detect', '--model', join(ROOT, 'bench', 'models', 'yolov8n-random-640.onnx'), '--info');
  assert.equal(other.code, 0, other.stderr);
  assert.deepEqual((JSON.parse(other.stdout) as { ood: unknown }).ood, { mode: 'confidence' });
});

test('bad models and bad images: one specific error naming the file, non-zero exit', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-cli-bad-'));
  const text = join(dir, 'model.onnx');
  await writeFile(text, 'definitely not a model');
  const notImage = join(dir, 'notes.jpg');
  await writeFile(notImage, 'hello');
  const image = join(dataset, 'images', 'train', (await readdir(join(dataset, 'images', 'train')))[0]!);
  const cases: [string[], RegExp][] = [
    [['detect', '--model', join(dir, 'missing.onnx'), image], /DRIFTLINE_ERR_MODEL_NOT_FOUND: model file not found: .*missing\.onnx/],
    [['detect', '--model', text, image], /DRIFTLINE_ERR_MODEL_NOT_ONNX: .*model\.onnx is not an ONNX model/],
    [['detect', '--model', MODEL, notImage], /DRIFTLINE_ERR_IMAGE_DECODE: .*notes\.jpg is not a readable image/],
    [['detect', '--model', MODEL, join(dir, 'gone.png')], /DRIFTLINE_ERR_IMAGE_NOT_FOUND: image not found: .*gone\.png/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one error line: ${r.stderr}`);
  }
  const usage = await cli('detect', image);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /DRIFTLINE_ERR_USAGE: --model FILE is required/);
});

test('one bad image among good ones: the good ones are still printed, exit 1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-cli-mixed-'));
  const notImage = join(dir, 'x.png');
  await writeFile(notImage, 'nope');
  const image = join(dataset, 'images', 'train', (await readdir(join(dataset, 'images', 'train')))[0]!);
  const r = await cli('detect', '--model', MODEL, image, notImage, image);
  assert.equal(r.code, 1);
  assert.equal(r.stdout.trim().split('\n').length, 2);
  assert.match(r.stderr, /x\.png/);
});
