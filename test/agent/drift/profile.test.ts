import assert from 'node:assert/strict';
import { test } from 'node:test';
import { binOf, countedAt, DEFAULT_OPERATING_POINT, featureEdges, operatingPointMismatch, pointConfig, ProfileBuilder, quantileEdges, resizeMismatch } from '../../../agent/drift/profile.js';
import { PROFILE_FEATURES } from '../../../agent/drift/profile-schema.js';
import { CONF_BINS } from '../../../agent/telemetry/detection-stats.js';
import { recordOf } from './record-of.js';

test('quantile edges: min, inner quantiles, max; repeated values collapse', () => {
  const values = Array.from({ length: 101 }, (_, i) => i); // 0..100
  assert.deepEqual(quantileEdges(values, 4), [0, 25, 50, 75, 100]);
  assert.deepEqual(quantileEdges([5, 5, 5, 5], 4), [5, 5]);
  assert.deepEqual(quantileEdges([1, 1, 1, 9], 4), [1, 9]);
});

test('a per-frame count of few values gets a bin per value; quantile edges would collapse it into one', () => {
  // 97% zeros, a few 1s and 2s: the shipped profile's oodDetections.
  const counts = [...new Array<number>(970).fill(0), ...new Array<number>(28).fill(1), 2, 2];
  assert.deepEqual(quantileEdges(counts, 16), [0, 2], 'one bin: 0, 1 and 2 alike');
  const e = featureEdges(counts, true, 16);
  assert.deepEqual(e, [-0.5, 0.5, 1.5, 2.5]);
  assert.deepEqual([0, 1, 2, 3, -1].map((v) => binOf(e, v)), [1, 2, 3, 4, 0], 'each value its own bin; 3, never seen, is overflow');
  // A value missing inside the range still has its (empty) bin.
  assert.deepEqual(featureEdges([2, 3, 3, 6], true, 16), [1.5, 2.5, 3.5, 4.5, 5.5, 6.5]);
  // More values than bins, fractions, or a feature that is not a count: quantile edges.
  const wide = Array.from({ length: 40 }, (_, i) => i);
  assert.deepEqual(featureEdges(wide, true, 16), quantileEdges(wide, 16));
  assert.deepEqual(featureEdges([0, 0.5, 1], true, 16), [0, 0.5, 1]);
  assert.deepEqual(featureEdges(counts, false, 16), [0, 2]);
  assert.deepEqual(featureEdges([4, 4, 4], true, 16), [3.5, 4.5], 'a constant count: one bin around it');
});

test('binOf: underflow, inner bins (closed at the top edge), overflow', () => {
  const e = [0, 25, 50, 75, 100];
  assert.equal(binOf(e, -1), 0);
  assert.equal(binOf(e, 0), 1);
  assert.equal(binOf(e, 24.9), 1);
  assert.equal(binOf(e, 25), 2);
  assert.equal(binOf(e, 99), 4);
  assert.equal(binOf(e, 100), 4, 'the training maximum is inside, not overflow');
  assert.equal(binOf(e, 100.01), 5);
  assert.equal(binOf([5, 5], 5), 1);
  assert.equal(binOf([5, 5], 4), 0);
  assert.equal(binOf([5, 5], 6), 2);
});

test('a profile counts every frame once per feature, with empty under- and overflow on its own data', () => {
  const b = new ProfileBuilder(['a', 'b']);
  const hist = new Array<number>(2 * CONF_BINS).fill(0);
  hist[3] = 2;
  for (let i = 0; i < 400; i++) {
    const fs = Array.from({ length: 12 }, (_, k) => i * (k + 1));
    const ds = [i % 5, 0.9, 0.8, 10, 0.05, 1.5];
    b.add(recordOf(fs, ds, [1, i % 2], hist));
  }
  const p = b.build({ file: 'm.onnx', sha256: 'x', names: ['a', 'b'] }, { source: '/data', images: 400, skipped: 0 });
  assert.equal(p.schema, 'driftline.profile/1');
  assert.equal(p.frames, 400);
  assert.deepEqual(Object.keys(p.features), [...PROFILE_FEATURES]);
  for (const [name, f] of Object.entries(p.features)) {
    assert.equal(f.counts.reduce((a, c) => a + c, 0), 400, name);
    assert.equal(f.counts[0], 0, `${name}: no reference sample is below the reference minimum`);
    assert.equal(f.counts.at(-1), 0, `${name}: none above the maximum`);
    assert.equal(f.counts.length, f.edges.length + 1);
  }
  assert.equal(p.features.brightness!.edges.length, 17, '16 quantile bins');
  assert.ok(Math.abs(p.features.brightness!.mean - 199.5) < 1e-9);
  assert.deepEqual(p.classMix, { a: 400, b: 200 });
  assert.equal(p.confHist.a![3], 800);
  assert.equal(p.features.topScore!.edges.length, 2, 'a constant feature collapses to one bin');
});

test('the shipped profile belongs to the shipped model (a retrain without a new profile fails here)', async () => {
  const { readFile } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  const root = new URL('../../../models/', import.meta.url);
  const p = JSON.parse(await readFile(new URL('line-detector.profile.json', root), 'utf8')) as import('../../../agent/drift/types.js').Profile;
  const sha = createHash('sha256').update(await readFile(new URL('line-detector.onnx', root))).digest('hex');
  assert.equal(p.model.sha256, sha);
  assert.ok(p.frames >= 500);
  const defects = p.classMix.scratch! + p.classMix.missing_notch!;
  const parts = Object.values(p.classMix).reduce((a, b) => a + b, 0);
  assert.ok(defects / parts < 0.06, `the reference class mix is production-like (${(defects / parts).toFixed(3)} defects)`);
});

test('the example config runs the shipped model at the operating point its profile was counted at (the model card recommends it)', async () => {
  const { readFile } = await import('node:fs/promises');
  const { agentConfig, loadAgentConfig } = await import('../../../agent/config.js');
  const root = new URL('../../../', import.meta.url);
  const p = JSON.parse(await readFile(new URL('models/line-detector.profile.json', root), 'utf8')) as import('../../../agent/drift/types.js').Profile;
  const made = p.data.operatingPoint;
  assert.ok(made, 'the shipped profile records its operating point');
  assert.equal(made.agnostic, true, 'one part, one answer');
  const m = loadAgentConfig(new URL('deploy/agent.example.yaml', root).pathname, {}).config.model;
  const point = { conf: m.conf, classConf: m.classConf, agnostic: m.agnosticNms, agnosticIou: m.agnosticIou, classPriority: m.classPriority };
  assert.equal(operatingPointMismatch(p, point), undefined);
  assert.deepEqual(pointConfig(countedAt(p)), { conf: m.conf, classConf: m.classConf, agnosticNms: m.agnosticNms, agnosticIou: m.agnosticIou, classPriority: m.classPriority });
  // The agent's defaults are the point a profile without a record was counted at.
  const defaults = agentConfig({ cameras: [{ name: 'c', source: { kind: 'synthetic' } }] }, {}).config.model;
  assert.deepEqual(pointConfig(DEFAULT_OPERATING_POINT), { conf: defaults.conf, classConf: defaults.classConf, agnosticNms: defaults.agnosticNms, agnosticIou: defaults.agnosticIou, classPriority: defaults.classPriority });
});

test('an agent resizing otherwise than the profile was made is told what to set; a match, or an old profile without the record, says nothing', () => {
  const b = new ProfileBuilder(['a']);
  b.add(recordOf(new Array<number>(12).fill(1), [1, 0.9, 0.8, 10, 0.05, 1.5], [1], new Array<number>(CONF_BINS).fill(0)));
  const made = (resize?: 'auto' | 'sharp') => b.build({ file: 'm.onnx', sha256: 'x', names: ['a'] }, { source: '/d', images: 1, skipped: 0, ...(resize ? { resize } : {}) });
  assert.equal(resizeMismatch(made('auto'), 'auto'), undefined);
  assert.equal(resizeMismatch(made(), 'bilinear'), undefined);
  const said = resizeMismatch(made('auto'), 'sharp');
  assert.match(said ?? '', /model\.resize is sharp, the profile was made with auto: .*set model\.resize: auto, or make the profile again with driftline baseline --resize sharp/);
});

test('an agent running at another operating point than the profile was counted at is told; the same point, or an old profile, says nothing', async () => {
  const { operatingPointMismatch } = await import('../../../agent/drift/profile.js');
  const b = new ProfileBuilder(['a', 'b']);
  b.add(recordOf(new Array<number>(12).fill(1), [1, 0.9, 0.8, 10, 0.05, 1.5], [1, 0], new Array<number>(2 * CONF_BINS).fill(0)));
  const point = { conf: 0.25, classConf: { b: 0.6 }, agnostic: true, agnosticIou: 0.7, classPriority: ['b'] };
  const made = b.build({ file: 'm.onnx', sha256: 'x', names: ['a', 'b'] }, { source: '/d', images: 1, skipped: 0, operatingPoint: point });
  assert.equal(operatingPointMismatch(made, { ...point, classConf: { b: 0.6 } }), undefined);
  assert.match(operatingPointMismatch(made, { ...point, classConf: {} }) ?? '', /the detector runs at conf 0.25, agnostic above IoU 0.7, priority b, the profile was counted at conf 0.25, classConf b=0.6/);
  assert.match(operatingPointMismatch(made, { ...point, agnostic: false }) ?? '', /class-aware/);
  const old = b.build({ file: 'm.onnx', sha256: 'x', names: ['a', 'b'] }, { source: '/d', images: 1, skipped: 0 });
  assert.equal(operatingPointMismatch(old, { ...point, conf: 0.5 }), undefined);
});
