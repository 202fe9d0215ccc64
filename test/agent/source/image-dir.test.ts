import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { ImageDirSource, listImages } from '../../../agent/source/image-dir.js';
import { until } from '../../helpers/wait.js';

async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-imgs-'));
  for (let i = 0; i < 5; i++) {
    await sharp({ create: { width: 200, height: 100, channels: 3, background: { r: 40 * i, g: 10, b: 10 } } }).png().toFile(join(dir, `f${i}.png`));
  }
  await writeFile(join(dir, 'f2b.jpg'), 'not an image');
  await writeFile(join(dir, 'notes.txt'), 'ignored');
  return dir;
}

test('a folder or a pattern names its images in order', async () => {
  const dir = await folder();
  assert.deepEqual((await listImages(dir)).map((f) => f.slice(dir.length + 1)), ['f0.png', 'f1.png', 'f2.png', 'f2b.jpg', 'f3.png', 'f4.png']);
  assert.deepEqual((await listImages(join(dir, 'f?.png'))).length, 5);
});

test('images play in order at the configured size without distortion; a bad file is counted and skipped', async (t) => {
  const dir = await folder();
  const src = new ImageDirSource({ name: 'imgs', path: dir, width: 100, height: 100, fps: 50 });
  t.after(() => src.stop());
  const reds: number[] = [];
  let padded = 0;
  src.start((f) => {
    assert.equal(f.data.length, 100 * 100 * 3);
    reds.push(f.data[(50 * 100 + 50) * 3]!);
    if (f.data[0] === 114) padded++; // 2:1 image in a square: grey bands above and below
  });
  await until(() => src.state === 'ended', 10_000, 'end of folder');
  assert.deepEqual(reds, [0, 40, 80, 120, 160]);
  assert.equal(padded, 5);
  assert.equal(src.counters.errors, 1);
  assert.equal(src.counters.frames, 5);
});
