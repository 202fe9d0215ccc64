import assert from 'node:assert/strict';
import { test } from 'node:test';
import { corrupt, corruptBoxes, CORRUPTIONS, parseCorruptions, CORRUPTION_LEVELS, describeCorruption, rollZoom } from '../../../agent/readiness/corruptions.js';
import { LineCamera } from '../../../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../../../agent/synth/conditions.js';

const W = 160;
const H = 120;
const still = new LineCamera(W, H, 5).still(DEFAULT_CONDITIONS);
const frame = { data: Uint8Array.from(still.data), width: W, height: H, channels: 3 as const };
const mean = (d: Uint8Array): number => d.reduce((a, v) => a + v, 0) / d.length;
/** Mean absolute difference between horizontally adjacent pixels: falls when an image is blurred. */
const edges = (d: Uint8Array): number => {
  let s = 0;
  for (let i = 3; i < d.length; i++) s += Math.abs(d[i]! - d[i - 3]!);
  return s / d.length;
};

test('every corruption at every severity returns a new frame of the same size and leaves the input alone', async () => {
  const before = Uint8Array.from(frame.data);
  for (const name of CORRUPTIONS) {
    for (const s of CORRUPTION_LEVELS) {
      const out = await corrupt(frame, name, s, 1);
      assert.equal(out.data.length, frame.data.length, `${name} ${s}`);
      assert.notEqual(out.data, frame.data);
      assert.ok(describeCorruption(name, s).length > 0);
    }
  }
  assert.deepEqual(frame.data, before);
});

test('severity orders the damage: darker is darker, blur removes edges, noise and JPEG move pixels more at each step', async () => {
  const m0 = mean(frame.data);
  const dark = await Promise.all(CORRUPTION_LEVELS.map((s) => corrupt(frame, 'darker', s, 1)));
  assert.ok(Math.abs(mean(dark[0]!.data) - 0.7 * m0) < 1.5, 'gain 0.7');
  assert.ok(mean(dark[2]!.data) < mean(dark[1]!.data) && mean(dark[1]!.data) < mean(dark[0]!.data));
  const blur = await Promise.all(CORRUPTION_LEVELS.map((s) => corrupt(frame, 'blur', s, 1)));
  assert.ok(edges(blur[0]!.data) < edges(frame.data) && edges(blur[2]!.data) < edges(blur[0]!.data));
  assert.ok(Math.abs(mean(blur[2]!.data) - m0) < 2, 'a blur keeps the mean');
  const diff = (a: Uint8Array): number => a.reduce((s, v, i) => s + Math.abs(v - frame.data[i]!), 0) / a.length;
  for (const name of ['noise', 'jpeg'] as const) {
    const d = await Promise.all(CORRUPTION_LEVELS.map(async (s) => diff((await corrupt(frame, name, s, 1)).data)));
    assert.ok(d[0]! > 0 && d[0]! < d[1]! && d[1]! < d[2]!, `${name}: ${d.join(', ')}`);
  }
});

test('noise is seeded: the same seed gives the same frame, another seed another', async () => {
  const a = await corrupt(frame, 'noise', 2, 7);
  const b = await corrupt(frame, 'noise', 2, 7);
  const c = await corrupt(frame, 'noise', 2, 8);
  assert.deepEqual(a.data, b.data);
  assert.notDeepEqual(a.data, c.data);
});

test('occlusion covers the left share of the width; warm light raises red against blue', async () => {
  const o = await corrupt(frame, 'occlusion', 2, 1);
  const edge = Math.round(0.3 * W);
  for (let y = 0; y < H; y += 17) {
    assert.equal(o.data[(y * W + edge - 1) * 3], 90);
    assert.equal(o.data[(y * W + edge) * 3], frame.data[(y * W + edge) * 3]);
  }
  const warm = await corrupt(frame, 'warm-light', 3, 1);
  const channel = (d: Uint8Array, c: number): number => d.filter((_, i) => i % 3 === c).reduce((a, v) => a + v, 0);
  assert.ok(channel(warm.data, 0) / channel(warm.data, 2) > channel(frame.data, 0) / channel(frame.data, 2));
});

test('roll turns the image and the ground truth with it: a box at the centre stays, a corner box moves the way the pixels do', async () => {
  // A white square on black, off centre; roll it and find where the white went.
  const data = new Uint8Array(W * H * 3);
  for (let y = 20; y < 40; y++) for (let x = 100; x < 120; x++) data.fill(255, (y * W + x) * 3, (y * W + x) * 3 + 3);
  const rolled = await corrupt({ data, width: W, height: H, channels: 3 }, 'roll', 3, 1);
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (rolled.data[(y * W + x) * 3]! > 128) { sx += x + 0.5; sy += y + 0.5; n++; }
  const [box] = corruptBoxes([{ classId: 1, x1: 100, y1: 20, x2: 120, y2: 40 }], 'roll', 3, W, H);
  assert.ok(box);
  assert.ok(Math.abs(sx / n - (box.x1 + box.x2) / 2) < 1.5 && Math.abs(sy / n - (box.y1 + box.y2) / 2) < 1.5, `white centre ${sx / n},${sy / n} against box ${JSON.stringify(box)}`);
  assert.equal(box.classId, 1, 'other fields are kept');
  assert.deepEqual(corruptBoxes([{ classId: 0, x1: 1, y1: 2, x2: 3, y2: 4 }], 'blur', 1, W, H), [{ classId: 0, x1: 1, y1: 2, x2: 3, y2: 4 }]);
});

test('roll fills the frame: zoomed just enough that no output pixel comes from outside the picture', async () => {
  // A uniform grey frame: black corners would show as zeros; a zoom too small as anything but grey.
  const grey = new Uint8Array(W * H * 3).fill(128);
  for (const level of [1, 2, 3] as const) {
    const rolled = await corrupt({ data: grey, width: W, height: H, channels: 3 }, 'roll', level, 1);
    assert.ok(rolled.data.every((v) => v === 128), `roll level ${level}: every pixel from the picture`);
  }
  // The zoom is the least that fills: turned back, an output corner lands on the source's edge.
  const a = (7 * Math.PI) / 180;
  const z = rollZoom(W, H, a);
  const back = (x: number, y: number): [number, number] => [(x * Math.cos(a) + y * Math.sin(a)) / z, (-x * Math.sin(a) + y * Math.cos(a)) / z];
  const corners = [[W / 2, H / 2], [W / 2, -H / 2], [-W / 2, H / 2], [-W / 2, -H / 2]].map(([x, y]) => back(x!, y!));
  assert.ok(corners.every(([x, y]) => Math.abs(x) <= W / 2 + 1e-9 && Math.abs(y) <= H / 2 + 1e-9), 'inside');
  assert.ok(corners.some(([x, y]) => Math.abs(Math.abs(x) - W / 2) < 1e-9 || Math.abs(Math.abs(y) - H / 2) < 1e-9), 'and touching: no more zoom than needed');
  assert.equal(rollZoom(W, H, 0), 1);
});

test('--corruptions: all, none, a list; an unknown name is refused with the known ones', () => {
  assert.deepEqual(parseCorruptions('all'), [...CORRUPTIONS]);
  assert.deepEqual(parseCorruptions('none'), []);
  assert.deepEqual(parseCorruptions('blur,roll'), ['blur', 'roll']);
  assert.throws(() => parseCorruptions('blur,fog'), /unknown corruption "fog"; have darker, brighter/);
});

test('ground truth under occlusion and roll: clipped to what stays in view, and an object mostly hidden becomes an ignore region', async () => {
  const { corruptGroundTruth } = await import('../../../agent/readiness/corruptions.js');
  // Occlusion at severity 2 covers x < 48 of a 160-wide frame.
  const boxes = [
    { classId: 0, x1: 10, y1: 10, x2: 40, y2: 40 }, // wholly under the band: gone
    { classId: 1, x1: 30, y1: 50, x2: 70, y2: 90 }, // 22 of 40 px in view (55%): kept, clipped
    { classId: 2, x1: 40, y1: 90, x2: 60, y2: 110 }, // 12 of 20 px in view (60%): kept
    { classId: 3, x1: 20, y1: 60, x2: 60, y2: 100 }, // 12 of 40 px in view (30%): ignore
  ];
  const o = corruptGroundTruth(boxes, 'occlusion', 2, W, H);
  assert.deepEqual(o.boxes, [{ classId: 1, x1: 48, y1: 50, x2: 70, y2: 90 }, { classId: 2, x1: 48, y1: 90, x2: 60, y2: 110 }]);
  assert.deepEqual(o.ignore, [{ classId: -1, x1: 48, y1: 60, x2: 60, y2: 100 }]);
  // Roll moves a corner box partly out of the frame.
  const r = corruptGroundTruth([{ classId: 0, x1: 0, y1: 0, x2: 30, y2: 30 }, { classId: 1, x1: 70, y1: 50, x2: 90, y2: 70 }], 'roll', 3, W, H);
  assert.equal(r.boxes.length + r.ignore.length, 2);
  assert.ok(r.boxes.some((b) => b.classId === 1), 'the centre box stays a target');
  for (const b of [...r.boxes, ...r.ignore]) assert.ok(b.x1 >= 0 && b.y1 >= 0 && b.x2 <= W && b.y2 <= H);
  assert.deepEqual(corruptGroundTruth(boxes, 'blur', 3, W, H).boxes.length, 4, 'blur moves nothing');
});
