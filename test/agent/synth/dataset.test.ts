import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { conditionSpec } from '../../../agent/synth/conditions.js';
import { writeDataset, type ManifestEntry } from '../../../agent/synth/dataset.js';

test('writes an Ultralytics dataset whose labels agree with the manifest', async () => {
  const out = await mkdtemp(join(tmpdir(), 'driftline-ds-'));
  const seen: number[] = [];
  const summary = await writeDataset({
    out,
    count: 24,
    seed: 5,
    width: 320,
    height: 240,
    valFraction: 0.25,
    conditions: conditionSpec({ defectRate: 0.5, heldOutRate: 0.2, gain: [0.8, 1.2] }),
    onProgress: (d) => seen.push(d),
  });
  assert.equal(summary.images, 24);
  assert.equal(seen.at(-1), 24);
  const yaml = await readFile(join(out, 'data.yaml'), 'utf8');
  assert.match(yaml, /^train: images\/train$/m);
  assert.match(yaml, /^val: images\/val$/m);
  assert.match(yaml, /^nc: 6$/m);
  assert.match(yaml, /^ {2}4: burn$/m);
  assert.match(yaml, /^held_out: \[4, 5\]$/m);
  const manifest = (await readFile(join(out, 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as ManifestEntry);
  assert.equal(manifest.length, 24);
  const splits = new Set(manifest.map((m) => m.split));
  assert.deepEqual([...splits].sort(), ['train', 'val']);
  const train = await readdir(join(out, 'images', 'train'));
  const val = await readdir(join(out, 'images', 'val'));
  assert.equal(train.length + val.length, 24);
  let objects = 0;
  const gains = new Set<number>();
  for (const m of manifest) {
    gains.add(m.conditions.gain);
    const meta = await sharp(join(out, m.image)).metadata();
    assert.deepEqual([meta.width, meta.height, meta.format], [320, 240, 'jpeg']);
    const lines = (await readFile(join(out, m.label), 'utf8')).split('\n').filter(Boolean);
    assert.equal(lines.length, m.objects.length);
    lines.forEach((line, i) => {
      const [cls, cx, cy, w, h] = line.split(' ').map(Number) as [number, number, number, number, number];
      const o = m.objects[i]!;
      assert.equal(cls, o.classId);
      for (const v of [cx, cy, w, h]) assert.ok(v >= 0 && v <= 1, `normalised: ${line}`);
      assert.ok(Math.abs(cx * 320 - (o.box[0] + o.box[2]) / 2) < 0.05);
      assert.ok(Math.abs(h * 240 - (o.box[3] - o.box[1])) < 0.05);
    });
    objects += lines.length;
  }
  assert.equal(objects, summary.objects);
  assert.ok(gains.size > 10, 'a range is sampled per image');
  assert.ok(summary.perClass.burn! > 0, 'held-out defects are labelled in the dataset');
});
