import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import sharp from 'sharp';
import { exportYolo } from '../../../agent/review/export.js';
import { ReviewSampler, reviewReason, type ReviewFrame } from '../../../agent/review/sampler.js';
import { openDatabase } from '../../../agent/store/database.js';
import { cli } from '../../helpers/cli.js';

const W = 64;
const H = 48;

function frame(i: number): ReviewFrame {
  // A horizontal ramp in red, constant green, and blue by frame: a known image per frame.
  const input = new Float32Array(3 * W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    input[y * W + x] = x / (W - 1);
    input[W * H + y * W + x] = 0.5;
    input[2 * W * H + y * W + x] = (i % 10) / 10;
  }
  return { cameraId: 1, cameraName: 'line 1/a', ts: 1_800_000_000_000 + i * 1000, frame: i, reason: 'uncertain', input, width: W, height: H, detections: [{ class: 'washer', score: 0.41, box: [16, 12, 48, 36] }], stats: { brightness: 80 + i } };
}

async function setup(t: TestContext, o: { maxPerHour: number; maxBytes: number; now?: () => number }) {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-review-'));
  const store = join(dir, 'agent.db');
  const db = openDatabase(store);
  t.after(() => db.close()); // closing twice is harmless
  db.prepare("INSERT INTO cameras (name) VALUES ('line 1/a')").run([]);
  return { dir, store, db, sampler: new ReviewSampler(db, { dir: join(dir, 'agent.db.review'), ...o }) };
}

test('the hourly budget is a token bucket per camera: a burst is capped, and it refills with time', async (t) => {
  let now = 0;
  const { sampler } = await setup(t, { maxPerHour: 4, maxBytes: 1 << 30, now: () => now });
  const taken = Array.from({ length: 10 }, () => sampler.take(1)).filter(Boolean).length;
  assert.equal(taken, 4);
  assert.equal(sampler.overBudget, 6);
  assert.equal(sampler.take(2), true, 'another camera has its own budget');
  now += 15 * 60_000; // a quarter hour refills one token
  assert.deepEqual([sampler.take(1), sampler.take(1)], [true, false]);
});

test('saved frames are real JPEGs of the model input, indexed with detections and stats; the disk cap deletes the oldest', async (t) => {
  const { dir, db, sampler } = await setup(t, { maxPerHour: 1000, maxBytes: 1 << 20 });
  for (let i = 0; i < 3; i++) sampler.save(frame(i));
  await sampler.flush();
  const rows = db.prepare('SELECT * FROM review_samples ORDER BY ts').all([]) as { file: string; bytes: number; width: number; detections: string; stats: string }[];
  assert.equal(rows.length, 3);
  assert.match(rows[0]!.file, /^line_1_a-1800000000000-0\.jpg$/, 'the camera name is made safe for a file name');
  const img = sharp(join(dir, 'agent.db.review', rows[0]!.file));
  const meta = await img.metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', W, H]);
  const { data } = await img.raw().toBuffer({ resolveWithObject: true });
  assert.ok(Math.abs(data[(10 * W + 63) * 3]! - 255) < 12 && Math.abs(data[(10 * W) * 3]!) < 12, 'the red ramp survives encoding');
  assert.deepEqual(JSON.parse(rows[0]!.detections), [{ class: 'washer', score: 0.41, box: [16, 12, 48, 36] }]);
  assert.equal(JSON.parse(rows[2]!.stats).brightness, 82);
  // A cap of the size of two frames keeps the newest two.
  const capped = new ReviewSampler(db, { dir: join(dir, 'agent.db.review'), maxPerHour: 1000, maxBytes: rows[0]!.bytes + rows[1]!.bytes + 10 });
  capped.save(frame(3));
  await capped.flush();
  const left = (db.prepare('SELECT frame FROM review_samples ORDER BY ts').all([]) as { frame: number }[]).map((r) => r.frame);
  assert.deepEqual(left, [2, 3]);
  assert.equal(capped.evicted, 2);
  assert.equal(existsSync(join(dir, 'agent.db.review', rows[0]!.file)), false, 'the evicted file is deleted too');
});

test('export writes a YOLO dataset: images, normalised pre-labels, data.yaml and a manifest; the CLI does the same', async (t) => {
  const { dir, store, db, sampler } = await setup(t, { maxPerHour: 1000, maxBytes: 1 << 30 });
  for (let i = 0; i < 2; i++) sampler.save(frame(i));
  await sampler.flush();
  const out = join(dir, 'dataset');
  const r = await exportYolo(db, join(dir, 'agent.db.review'), out, ['washer', 'bracket']);
  assert.deepEqual(r, { images: 2, labels: 2, missing: 0 });
  assert.deepEqual((await readdir(join(out, 'images'))).length, 2);
  const label = await readFile(join(out, 'labels', 'line_1_a-1800000000000-0.txt'), 'utf8');
  assert.equal(label, '0 0.500000 0.500000 0.500000 0.500000\n');
  assert.match(await readFile(join(out, 'data.yaml'), 'utf8'), /names:\n {2}0: washer\n {2}1: bracket\n/);
  const manifest = (await readFile(join(out, 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { camera: string; reason: string });
  assert.deepEqual(manifest.map((m) => [m.camera, m.reason]), [['line 1/a', 'uncertain'], ['line 1/a', 'uncertain']]);
  db.close();
  const viaCli = await cli('review', 'export', '--store', store, '--out', join(dir, 'cli-out'), '--since', new Date(1_800_000_000_500).toISOString());
  assert.equal(viaCli.code, 0, viaCli.stderr);
  assert.equal((JSON.parse(viaCli.stdout) as { images: number }).images, 1, '--since keeps the later frame only');
  const bad = await cli('review', 'nonsense');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /DRIFTLINE_ERR_USAGE/);
});

test('the review reason names every cause that applies, in a fixed order, joined by +', () => {
  assert.equal(reviewReason(false, false, false), undefined);
  assert.equal(reviewReason(true, false, false), 'uncertain');
  assert.equal(reviewReason(false, true, false), 'ood');
  assert.equal(reviewReason(false, false, true), 'oodDetection');
  assert.equal(reviewReason(true, true, false), 'uncertain+ood');
  assert.equal(reviewReason(true, false, true), 'uncertain+oodDetection');
  assert.equal(reviewReason(true, true, true), 'uncertain+ood+oodDetection');
  // It fits the wire contract's review reason (at most 32 characters).
  assert.ok('uncertain+ood+oodDetection'.length <= 32);
});
