import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LineCamera } from '../../../agent/synth/camera.js';
import { CLASS_NAMES, HELD_OUT_CLASS_IDS } from '../../../agent/synth/classes.js';
import { conditionSpec, DEFAULT_CONDITIONS, type Conditions } from '../../../agent/synth/conditions.js';
import { writeDataset, type ManifestEntry } from '../../../agent/synth/dataset.js';
import { Rng } from '../../../agent/synth/rng.js';
import { LineScene } from '../../../agent/synth/scene.js';

const cond = (c: Partial<Conditions> = {}): Conditions => ({ ...DEFAULT_CONDITIONS, ...c });

// sha256 over 12 frames (pixels, then the labels as JSON) per case, measured with the renderer as it
// was before the `stain` defect existed. A stain rate of 0 must not change one random draw.
const BEFORE_STAIN: [number, Partial<Conditions>, 'still' | 'next', string][] = [
  [1, {}, 'next', '3accd8c95b8202f85a39f140eb4100da00f438c02b9fafd60f8efd1443e77af9'],
  [7, { defectRate: 0.3 }, 'still', 'f32c4ed370e7fc21a0b1d776a11a2ef26536ed8d2bf6107ffd1d4e5de20a9605'],
  [42, { defectRate: 0.3, heldOutRate: 0.2, gain: 1.1, blur: 1 }, 'next', 'dd5487a242b1321091fcb8f68001df1d0a591374a34f69d942715ab70cbcffb8'],
  [1001, { heldOutRate: 0.5, defectRate: 0.5 }, 'still', '18d37024c864111706f7feb1e4e813130f029e10c0d1255539cce400bcaaea9d'],
];

test('stainRate 0 renders byte-identical frames and labels to the renderer before stains existed', () => {
  for (const [seed, c, mode, want] of BEFORE_STAIN) {
    const h = createHash('sha256');
    const cam = new LineCamera(320, 240, seed);
    for (let i = 0; i < 12; i++) {
      const f = mode === 'still' ? cam.still(cond(c)) : cam.next(cond(c));
      h.update(f.data);
      h.update(JSON.stringify(f.objects));
    }
    assert.equal(h.digest('hex'), want, `seed ${seed} ${JSON.stringify(c)} ${mode}`);
  }
});

test('stains appear at the configured rate, share the roll with burn and the trained defects', () => {
  const count = (c: Partial<Conditions>): Record<string, number> => {
    const scene = new LineScene(640, 480, new Rng(77));
    const n: Record<string, number> = { parts: 0 };
    for (let i = 0; i < 1500; i++) {
      scene.populate(cond(c));
      for (const p of scene.parts) {
        n.parts!++;
        n[p.defect] = (n[p.defect] ?? 0) + 1;
      }
    }
    return n;
  };
  const n = count({ stainRate: 0.3, heldOutRate: 0.2, defectRate: 0.1 });
  // ~7000 parts: the standard deviation of a 30% rate is about 0.55%.
  assert.ok(n.parts! > 5000, `${n.parts} parts`);
  const rate = (k: string): number => (n[k] ?? 0) / n.parts!;
  assert.ok(Math.abs(rate('stain') - 0.3) < 0.025, `stain rate ${rate('stain')}`);
  assert.ok(Math.abs(rate('burn') - 0.2) < 0.025, `burn rate ${rate('burn')}`);
  assert.ok(Math.abs(rate('scratch') + rate('missing_notch') - 0.1) < 0.02, 'trained defects keep their rate');
  assert.equal(count({ stainRate: 0, heldOutRate: 0.2, defectRate: 0.1 }).stain, undefined);
  // Every stained part carries a smear; no other part does.
  const scene = new LineScene(640, 480, new Rng(3));
  scene.populate(cond({ stainRate: 0.5 }));
  for (const p of scene.parts) assert.equal(p.stain[2] > 0, p.defect === 'stain');
});

test('a stain tints its part toward teal; a burn toward brown', () => {
  // Mean green/red inside each labelled box, per part kind and defect, over stills at noise 0.
  const sums = new Map<string, [number, number]>();
  const cam = new LineCamera(320, 240, 9);
  for (let i = 0; i < 40; i++) {
    const f = cam.still(cond({ noise: 0, stainRate: 0.35, heldOutRate: 0.35 }));
    for (const o of f.objects) {
      const key = `${o.kind}/${o.defect}`;
      const acc = sums.get(key) ?? [0, 0];
      for (let y = Math.ceil(o.y1); y < Math.floor(o.y2); y++) {
        for (let x = Math.ceil(o.x1); x < Math.floor(o.x2); x++) {
          const j = (y * 320 + x) * 3;
          acc[0] += f.data[j + 1]!;
          acc[1] += f.data[j]!;
        }
      }
      sums.set(key, acc);
    }
  }
  const gr = (k: string): number => sums.get(k)![0] / sums.get(k)![1];
  for (const kind of ['washer', 'bracket']) {
    assert.ok(gr(`${kind}/stain`) > gr(`${kind}/none`) * 1.02, `${kind}: stain ${gr(`${kind}/stain`)} none ${gr(`${kind}/none`)}`);
    assert.ok(gr(`${kind}/burn`) < gr(`${kind}/none`), `${kind}: burn ${gr(`${kind}/burn`)} none ${gr(`${kind}/none`)}`);
  }
});

test('stained parts are labelled with the stain class in the dataset, as burnt ones are with burn', async () => {
  const stainId = CLASS_NAMES.indexOf('stain');
  assert.ok(HELD_OUT_CLASS_IDS.includes(stainId));
  const out = await mkdtemp(join(tmpdir(), 'driftline-stain-'));
  const summary = await writeDataset({
    out,
    count: 10,
    seed: 21,
    width: 320,
    height: 240,
    valFraction: 0,
    conditions: conditionSpec({ stainRate: 0.3, heldOutRate: 0.3 }),
  });
  assert.ok(summary.perClass.stain! > 0 && summary.perClass.burn! > 0, JSON.stringify(summary.perClass));
  const yaml = await readFile(join(out, 'data.yaml'), 'utf8');
  assert.match(yaml, new RegExp(`^ {2}${stainId}: stain$`, 'm'));
  assert.match(yaml, /^held_out: \[4, 5\]$/m);
  const manifest = (await readFile(join(out, 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as ManifestEntry);
  let stains = 0;
  for (const m of manifest) {
    assert.equal(m.conditions.stainRate, 0.3);
    const lines = (await readFile(join(out, m.label), 'utf8')).split('\n').filter(Boolean);
    m.objects.forEach((o, i) => {
      assert.equal(o.class === 'stain', o.defect === 'stain');
      assert.equal(Number(lines[i]!.split(' ')[0]), o.classId);
      if (o.defect === 'stain') {
        assert.equal(o.classId, stainId);
        stains++;
      }
    });
  }
  assert.equal(stains, summary.perClass.stain);
});

test('ambiguous regions: parts mostly out of view, and missing_notch parts whose notch is out of view, in groundTruth order; asking for them draws nothing', () => {
  const c = { ...DEFAULT_CONDITIONS, defectRate: 0.5 };
  const a = new LineCamera(640, 480, 404);
  const b = new LineCamera(640, 480, 404);
  let edge = 0;
  let notch = 0;
  for (let i = 0; i < 60; i++) {
    const fa = a.still(c);
    const objects = fa.objects.map((o) => ({ ...o }));
    const regions = a.ambiguous(c);
    const fb = b.still(c);
    assert.deepEqual(fb.objects, objects, 'a camera asked for its ambiguous regions renders what one never asked does');
    for (const r of regions) {
      assert.ok(r.x2 > r.x1 && r.y2 > r.y1 && r.x1 >= 0 && r.y1 >= 0 && r.x2 <= 640 && r.y2 <= 480);
      if (r.reason === 'mostly out of view') {
        edge++;
        assert.equal(r.object, undefined);
        assert.ok(r.x1 === 0 || r.y1 === 0 || r.x2 === 640 || r.y2 === 480, 'cut by the frame');
      } else {
        notch++;
        const o = objects[r.object!];
        assert.ok(o, 'names a labelled object');
        assert.equal(o.className, 'missing_notch');
        assert.deepEqual([o.x1, o.y1, o.x2, o.y2], [r.x1, r.y1, r.x2, r.y2]);
        assert.ok(o.x1 === 0 || o.y1 === 0 || o.x2 === 640 || o.y2 === 480, 'only a part at the edge can hide its notch');
      }
    }
  }
  assert.ok(edge > 5, `${edge} parts mostly out of view`);
  assert.ok(notch > 0, `${notch} notches out of view`);
});
