import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { LineCamera } from '../../../agent/synth/camera.js';
import { DEFAULT_CONDITIONS, type Conditions } from '../../../agent/synth/conditions.js';
import { occluderLeft } from '../../../agent/synth/scene.js';

const cond = (c: Partial<Conditions> = {}): Conditions => ({ ...DEFAULT_CONDITIONS, ...c });
const hash = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function meanChannels(data: Uint8Array): [number, number, number] {
  let r = 0;
  let g = 0;
  let b = 0;
  for (let i = 0; i < data.length; i += 3) {
    r += data[i]!;
    g += data[i + 1]!;
    b += data[i + 2]!;
  }
  const n = data.length / 3;
  return [r / n, g / n, b / n];
}

test('the same seed renders the same pixels and labels; another seed does not', () => {
  const run = (seed: number): string[] => {
    const cam = new LineCamera(320, 240, seed);
    const out: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = cam.next(cond({ defectRate: 0.3 }));
      out.push(hash(f.data) + JSON.stringify(f.objects));
    }
    return out;
  };
  assert.deepEqual(run(42), run(42));
  assert.notDeepEqual(run(42), run(43));
});

test('video frames move with the belt: labels shift right by beltSpeed', () => {
  const cam = new LineCamera(640, 480, 5);
  const c = cond({ beltSpeed: 8 });
  const a = cam.next(c).objects.map((o) => ({ ...o }));
  const b = cam.next(c).objects;
  // Match interior objects (not clipped at an edge) by their y extent.
  let matched = 0;
  for (const o of a) {
    if (o.x1 <= 0 || o.x2 >= 632) continue;
    const m = b.find((p) => Math.abs(p.y1 - o.y1) < 1e-6 && Math.abs(p.y2 - o.y2) < 1e-6);
    assert.ok(m, 'the object is still there one frame later');
    assert.ok(Math.abs(m.x1 - (o.x1 + 8)) < 1e-6, `moved by 8 px: ${o.x1} -> ${m.x1}`);
    matched++;
  }
  assert.ok(matched > 0);
});

test('labels stay inside the frame and have a plausible size', () => {
  const cam = new LineCamera(640, 480, 9);
  for (let i = 0; i < 50; i++) {
    for (const o of cam.still(cond()).objects) {
      assert.ok(o.x1 >= 0 && o.y1 >= 0 && o.x2 <= 640 && o.y2 <= 480);
      assert.ok(o.x2 - o.x1 > 20 && o.y2 - o.y1 > 20, 'parts are at least 20 px');
      assert.ok(o.visible >= 0.4 && o.visible <= 1);
    }
  }
});

test('defect rate: the production default is about 2%, held-out defects only when asked', () => {
  const cam = new LineCamera(320, 240, 11);
  let parts = 0;
  let defects = 0;
  let burns = 0;
  for (let i = 0; i < 1500; i++) {
    for (const o of cam.still(cond()).objects) {
      parts++;
      if (o.defect !== 'none') defects++;
      if (o.defect === 'burn') burns++;
    }
  }
  const rate = defects / parts;
  // Binomial: 2% of ~5000 parts has a standard deviation of about 0.2%.
  assert.ok(parts > 3000, `${parts} parts`);
  assert.ok(rate > 0.012 && rate < 0.03, `defect rate ${rate}`);
  assert.equal(burns, 0);
  const held = new LineCamera(320, 240, 12);
  for (let i = 0; i < 20; i++) for (const o of held.still(cond({ heldOutRate: 1 })).objects) assert.equal(o.className, 'burn');
});

test('lighting: gain scales brightness, colour temperature tilts red against blue', () => {
  const mean = (c: Partial<Conditions>): [number, number, number] => meanChannels(new LineCamera(320, 240, 3).still(cond({ noise: 0, ...c })).data);
  const [r1, g1, b1] = mean({});
  const [r6, g6, b6] = mean({ gain: 0.6 });
  const luma = (r: number, g: number, b: number): number => 0.299 * r + 0.587 * g + 0.114 * b;
  const ratio = luma(r6, g6, b6) / luma(r1, g1, b1);
  assert.ok(Math.abs(ratio - 0.6) < 0.02, `brightness ratio ${ratio}`);
  const [rw, , bw] = mean({ colourTempK: 3200 });
  const [rc, , bc] = mean({ colourTempK: 9000 });
  assert.ok(rw / bw > r1 / b1 * 1.2, 'warm light is redder');
  assert.ok(rc / bc < r1 / b1 / 1.1, 'cool light is bluer');
});

test('blur lowers high-frequency energy; noise raises it', () => {
  const energy = (c: Partial<Conditions>): number => {
    const f = new LineCamera(320, 240, 4).still(cond({ noise: 0, ...c }));
    let e = 0;
    for (let y = 1; y < 239; y++) for (let x = 1; x < 319; x++) {
      const i = (y * 320 + x) * 3 + 1;
      const lap = 4 * f.data[i]! - f.data[i - 3]! - f.data[i + 3]! - f.data[i - 960]! - f.data[i + 960]!;
      e += lap * lap;
    }
    return e;
  };
  const sharp = energy({});
  assert.ok(energy({ blur: 2 }) < sharp * 0.5);
  assert.ok(energy({ noise: 10 }) > sharp * 1.5);
});

test('a bumped camera moves the labels; an occluder hides the right of the frame', () => {
  const still = (c: Partial<Conditions>) => new LineCamera(640, 480, 21).still(cond(c));
  const base = still({});
  const shifted = still({ offsetY: 30 });
  const inside = base.objects.filter((o) => o.x1 > 0 && o.x2 < 640);
  for (const o of inside) {
    const m = shifted.objects.find((p) => Math.abs(p.x1 - o.x1) < 1e-6);
    assert.ok(m && Math.abs(m.y1 - Math.min(480, o.y1 + 30)) < 1e-6);
  }
  const rotated = still({ rotationDeg: 10 });
  assert.notDeepEqual(rotated.objects.map((o) => o.x1), base.objects.map((o) => o.x1));
  const occ = still({ occlusion: 0.5 });
  const left = occluderLeft(cond({ occlusion: 0.5 }), 640);
  assert.equal(left, 320);
  for (const o of occ.objects) assert.ok(o.x2 <= left, 'no label inside the occluder');
  // The occluder is dark and uniform.
  const px = (occ.data[(240 * 640 + 600) * 3]! + occ.data[(240 * 640 + 610) * 3]!) / 2;
  assert.ok(px < 60);
});

test('video frames never put two parts on top of each other, from the first frame on', () => {
  const cam = new LineCamera(640, 480, 8);
  for (let i = 0; i < 300; i++) {
    const objs = cam.next(cond({ beltSpeed: 25 })).objects;
    for (let a = 0; a < objs.length; a++) {
      for (let b = a + 1; b < objs.length; b++) {
        const A = objs[a]!;
        const B = objs[b]!;
        const iw = Math.min(A.x2, B.x2) - Math.max(A.x1, B.x1);
        const ih = Math.min(A.y2, B.y2) - Math.max(A.y1, B.y1);
        const inter = iw > 0 && ih > 0 ? iw * ih : 0;
        const smaller = Math.min((A.x2 - A.x1) * (A.y2 - A.y1), (B.x2 - B.x1) * (B.y2 - B.y1));
        assert.ok(inter < 0.25 * smaller, `frame ${i}: boxes overlap by ${(inter / smaller).toFixed(2)} of the smaller`);
      }
    }
  }
});
