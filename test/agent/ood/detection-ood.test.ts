import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import {
  APPEARANCE_DIM,
  appearanceFeatures,
  DetectionOodScorer,
  fitDetectionOod,
  scaleFloors,
  type DetectionOodReference,
} from '../../../agent/ood/detection-ood.js';
import { Letterboxer } from '../../../agent/preprocess/letterbox.js';
import { LineCamera } from '../../../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../../../agent/synth/conditions.js';
import { collect, fitMethod, openEmbeddingModel, separation, slice } from '../../../scripts/ood-auroc.js';

test('the score is the squared Mahalanobis distance to the predicted class under the shrunk shared covariance', () => {
  // Two classes in 3-D with correlated features; compare with the textbook formula.
  const samples: { classIndex: number; vector: number[] }[] = [];
  let seed = 1;
  const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
  for (let i = 0; i < 400; i++) {
    const c = i % 2;
    const a = rand();
    samples.push({ classIndex: c, vector: [a + 3 * c, a + 0.3 * rand(), rand() * 2] });
  }
  const ref = fitDetectionOod(samples, { features: { embeddingDim: 3, appearance: false }, classes: 3, shrinkage: 0.1 });
  assert.deepEqual(ref.counts, [200, 200, 0]);
  // Reference computation.
  const d = 3;
  const z = samples.map((s) => s.vector.map((v, k) => (v - ref.mean[k]!) / ref.scale[k]!));
  const mu = [0, 1].map((c) => [0, 1, 2].map((k) => z.filter((_, i) => samples[i]!.classIndex === c).reduce((a, r) => a + r[k]!, 0) / 200));
  const cov = [0, 1, 2].map((a) => [0, 1, 2].map((b) => z.reduce((acc, r, i) => acc + (r[a]! - mu[samples[i]!.classIndex]![a]!) * (r[b]! - mu[samples[i]!.classIndex]![b]!), 0) / 400));
  const tr = (cov[0]![0]! + cov[1]![1]! + cov[2]![2]!) / d;
  const c = cov.map((row, a) => row.map((v, b) => 0.9 * v + (a === b ? 0.1 * tr : 0)));
  const det = c[0]![0]! * (c[1]![1]! * c[2]![2]! - c[1]![2]! * c[2]![1]!) - c[0]![1]! * (c[1]![0]! * c[2]![2]! - c[1]![2]! * c[2]![0]!) + c[0]![2]! * (c[1]![0]! * c[2]![1]! - c[1]![1]! * c[2]![0]!);
  const inv = [0, 1, 2].map((a) =>
    [0, 1, 2].map((b) => {
      const r = [0, 1, 2].filter((x) => x !== b);
      const q = [0, 1, 2].filter((x) => x !== a);
      const minor = c[r[0]!]![q[0]!]! * c[r[1]!]![q[1]!]! - c[r[0]!]![q[1]!]! * c[r[1]!]![q[0]!]!;
      return ((a + b) % 2 ? -1 : 1) * (minor / det);
    }),
  );
  const scorer = new DetectionOodScorer(ref);
  for (const [cls, x] of [[0, [0.2, -0.1, 0.5]], [1, [3, 3.5, -1]], [0, [1, -1, 0]]] as const) {
    const zz = x.map((v, k) => (v - ref.mean[k]!) / ref.scale[k]! - mu[cls]![k]!);
    let want = 0;
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) want += zz[a]! * inv[a]![b]! * zz[b]!;
    // To float32 rounding: the quadratic form runs in float32 (agent/ood/packed-quadform.ts).
    assert.ok(Math.abs(scorer.scoreVector(cls, x) - want) < 1e-6 * Math.max(1, want), `class ${cls}: ${scorer.scoreVector(cls, x)} vs ${want}`);
  }
  // A class with no reference samples is scored against the nearest class that has them.
  assert.equal(scorer.scoreVector(2, [0.2, -0.1, 0.5]), Math.min(scorer.scoreVector(0, [0.2, -0.1, 0.5]), scorer.scoreVector(1, [0.2, -0.1, 0.5])));
  assert.ok(ref.quantiles.p50 < ref.quantiles.p90 && ref.quantiles.p90 < ref.quantiles.p99);
});

test('appearance statistics of a flat patch: its colour, no spread, one chromaticity and one brightness bin', () => {
  const w = 32;
  const h = 24;
  const input = new Float32Array(3 * w * h);
  // Neutral grey 0.5 (chromaticity 1/3, 1/3) in the box, black elsewhere.
  for (let y = 4; y < 12; y++) for (let x = 8; x < 20; x++) for (let c = 0; c < 3; c++) input[c * w * h + y * w + x] = 0.5;
  const out = new Float64Array(APPEARANCE_DIM);
  appearanceFeatures(input, w, h, 8, 4, 20, 12, out, 0, new Float64Array(42));
  for (let c = 0; c < 3; c++) {
    assert.ok(Math.abs(out[c]! - 0.5) < 1e-6);
    assert.ok(out[3 + c]! < 1e-6);
  }
  // Squared histogram entries are frequencies: each histogram sums to 1.
  const chroma = [...out.subarray(6, 42)].reduce((a, v) => a + v * v, 0);
  const luma = [...out.subarray(42, 48)].reduce((a, v) => a + v * v, 0);
  assert.ok(Math.abs(chroma - 1) < 1e-9 && Math.abs(luma - 1) < 1e-9, `${chroma} ${luma}`);
  // A box outside the tensor has no pixels: zeros, not NaN.
  appearanceFeatures(input, w, h, 40, 30, 50, 40, out, 0, new Float64Array(42));
  assert.ok(out.every((v) => v === 0));
});

test('fitted on a real render through the real model, burnt parts score above the known ones', async () => {
  const em = await openEmbeddingModel('models/line-detector.onnx');
  assert.equal(em.dim, 64);
  const ref = await collect(em, 2501, 40, { defectRate: 0.3 });
  const held = await collect(em, 2601, 24, { defectRate: 0.3, heldOutRate: 0.4 });
  const method = { name: 'embed0 + appearance', features: { embeddingDim: em.dim, appearance: true }, shrinkage: 0.5 };
  const reference: DetectionOodReference = JSON.parse(JSON.stringify(fitMethod(ref, em.dim, method))) as DetectionOodReference;
  assert.equal(reference.whitener.length, (112 * 113) / 2);
  const scorer = new DetectionOodScorer(reference);
  const scores = held.map((d) => scorer.scoreVector(d.predicted, slice(d.vector, em.dim, method.features)));
  const s = separation(scores, held, 4);
  assert.ok(s.n >= 10, `${s.n} burnt parts`);
  assert.ok(s.vsKnown > 0.9 && s.vsDefects > 0.9, `AUROC burn vs known ${s.vsKnown.toFixed(3)}, vs defects ${s.vsDefects.toFixed(3)}`);
  // The embedding alone hardly separates them (the detector learnt to ignore what it was not taught).
  const embedOnly = fitMethod(ref, em.dim, { name: 'embed0', features: { embeddingDim: em.dim, appearance: false }, shrinkage: 0.5 });
  const e = new DetectionOodScorer(embedOnly);
  const se = separation(held.map((d) => e.scoreVector(d.predicted, d.vector.subarray(0, em.dim))), held, 4);
  assert.ok(se.vsKnown < s.vsKnown, `embedding alone ${se.vsKnown.toFixed(3)}`);

  // score() on the tensors themselves gives what the collected vectors gave; it needs the input when appearance is on.
  const { model } = em;
  scorer.bind(em.anchors, model.inputW, model.inputH);
  const input = new Float32Array(3 * model.inputW * model.inputH);
  const frame = new LineCamera(640, 480, 2601).still({ ...DEFAULT_CONDITIONS, defectRate: 0.3, heldOutRate: 0.4 });
  await new Letterboxer(input, model.inputW, model.inputH).run({ data: frame.data, width: 640, height: 480, channels: 3 });
  const res = await model.session.run({ [model.inputName]: new ort.Tensor('float32', input, [1, 3, model.inputH, model.inputW]) }, ['embed0']);
  const embed = res.embed0!.data as Float32Array;
  const box = new Float32Array([40, 50, 85, 95]);
  const a = scorer.score(1, embed, 70, input, box);
  assert.ok(Number.isFinite(a) && a > 0);
  assert.equal(scorer.score(1, embed, 70, input, box), a, 'deterministic, no state carried between calls');
  assert.throws(() => scorer.score(1, embed, 70), /input tensor/);
  assert.throws(() => scorer.score(1, embed, 999, input, box), /anchor/);
  assert.throws(() => new DetectionOodScorer(reference).score(1, embed, 70, input, box), /bind/);
});

test('a feature that never varied in the reference is standardised by its floor, in a new fit and in a stored one', () => {
  // Appearance only: 48 features, of which one chromaticity bin (index 6 + 20) no sample reaches.
  let seed = 7;
  const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const empty = 6 + 20;
  const samples = Array.from({ length: 300 }, (_, i) => ({
    classIndex: i % 2,
    vector: Array.from({ length: APPEARANCE_DIM }, (_, k) => (k === empty ? 0 : 0.2 + 0.1 * rand() + 0.05 * (i % 2))),
  }));
  const features = { embeddingDim: 0, appearance: true };
  const ref = fitDetectionOod(samples, { features, classes: 2 });
  const floors = scaleFloors(features, ref.scale);
  assert.equal(ref.scale[empty], floors[empty]);
  assert.equal(floors[empty], 1 / 64);
  assert.equal(floors[0], 1 / 255);
  // A stored reference from before the floors kept 1e-6 there; the scorer floors it, and since the
  // feature was constant, the scores are those of the new fit exactly.
  const old: DetectionOodReference = { ...ref, scale: ref.scale.map((v, k) => (k === empty ? 1e-6 : v)) };
  const known = samples[3]!.vector;
  const noisy = known.map((v, k) => (k === empty ? 1 / 16 : v)); // one sampled pixel of 256 in the bin
  const scorer = new DetectionOodScorer(ref);
  assert.equal(new DetectionOodScorer(old).scoreVector(1, noisy), scorer.scoreVector(1, noisy));
  // That pixel moves the score by a few times the reference's own spread, not by 1e9.
  const lift = scorer.scoreVector(1, noisy) - scorer.scoreVector(1, known);
  assert.ok(lift > 0 && lift < 10 * ref.quantiles.p99, `one pixel lifts the score by ${lift.toFixed(1)}; p99 ${ref.quantiles.p99.toFixed(1)}`);
  // A part wholly of that colour still scores far above every reference part.
  const burnt = known.map((v, k) => (k === empty ? 1 : v));
  assert.ok(scorer.scoreVector(1, burnt) > 10 * ref.quantiles.p99);
});

test('known parts of JPEG-encoded renders score as the raw renders the reference was fitted on do', async () => {
  // Frames from a camera's stream or a folder of JPEGs carry chroma ringing at every edge, in
  // chromaticity bins no raw-rendered reference part reaches: without floors, scores of 1e7–1e9.
  const em = await openEmbeddingModel('models/line-detector.onnx');
  const method = { name: 'embed0 + appearance', features: { embeddingDim: em.dim, appearance: true }, shrinkage: 0.5 };
  const reference = fitMethod(await collect(em, 2501, 40, { defectRate: 0.3 }), em.dim, method);
  const scorer = new DetectionOodScorer(reference);
  const worst = async (quality?: number): Promise<number> => {
    const known = (await collect(em, 2701, 16, { defectRate: 0.3 }, quality)).filter((d) => d.truth < 4);
    assert.ok(known.length >= 40, `${known.length} known parts`);
    return Math.max(...known.map((d) => scorer.scoreVector(d.predicted, slice(d.vector, em.dim, method.features))));
  };
  const raw = await worst();
  for (const quality of [92, 75]) {
    const encoded = await worst(quality);
    assert.ok(encoded < 2 * raw, `JPEG q${quality}: worst known part ${encoded.toExponential(2)}, raw renders ${raw.toFixed(1)}`);
  }
});
