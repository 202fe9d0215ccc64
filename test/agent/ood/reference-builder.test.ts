import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DetectionOodScorer, fitDetectionOod } from '../../../agent/ood/detection-ood.js';
import { OodReferenceBuilder } from '../../../agent/ood/reference-builder.js';

test('one pass: every kept detection is kept, the fit scores them all, and each frame counts its own over the p99', () => {
  const D = 4;
  const N = 10;
  const b = new OodReferenceBuilder({ embeddingDim: D, appearance: false }, 2, N, 32, 32);
  let seed = 3;
  const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
  const embed = new Float32Array(D * N);
  const classes = Int32Array.from([0, 1, 0]);
  const anchors = Int32Array.from([2, 7, -1]); // the third has no anchor: skipped
  const frames = 5000; // 10,000 detections, more than one storage block
  for (let f = 0; f < frames; f++) {
    for (let k = 0; k < D * N; k++) embed[k] = rand() + (k % N === 7 ? 2 : 0);
    const count = f % 4 === 3 ? 0 : 3; // some frames have nothing
    b.add({ count, classes, anchors, inputBoxes: new Float32Array(12), embed, input: new Float32Array(0) });
  }
  assert.equal(b.samples, (frames - frames / 4) * 2);
  const r = b.finish();
  assert.equal(r.oodDetections.length, frames);
  assert.equal(r.fitted, r.samples, 'under MAX_FIT_SAMPLES every sample is fitted');
  const over = r.oodDetections.reduce((a, v) => a + v, 0);
  assert.ok(over >= 0.005 * r.samples && over <= 0.02 * r.samples, `${over} of ${r.samples} over the p99`);
  for (let f = 3; f < frames; f += 4) assert.equal(r.oodDetections[f], 0, 'a frame without detections has none over');
  assert.ok(Math.max(...r.oodDetections) <= 2);
  // The stored reference scores like the one fitted.
  const s = new DetectionOodScorer(JSON.parse(JSON.stringify(r.reference)) as typeof r.reference);
  assert.ok(s.scoreVector(0, [10, 10, 10, 10]) > r.reference.quantiles.p99);
});

test('the p99 is cross-fitted: new detections of the same kind pass it about 1% of the time, where the in-sample p99 lets through about twice as many', () => {
  // 24 features from 700 detections in two classes: a fit close enough to its samples that the
  // 99th percentile of its own scores is too low for new ones.
  const D = 24;
  const N = 4;
  let seed = 11;
  const uniform = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const gauss = (): number => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const draw = (cls: number): number[] => Array.from({ length: D }, (_, k) => cls + gauss() * (1 + k / D));
  const embed = new Float32Array(D * N);
  const classes = Int32Array.from([0, 1]);
  const anchors = Int32Array.from([0, 1]);
  const b = new OodReferenceBuilder({ embeddingDim: D, appearance: false }, 2, N, 32, 32);
  const samples: { classIndex: number; vector: number[] }[] = [];
  for (let f = 0; f < 350; f++) {
    for (const cls of [0, 1]) {
      const v = Float32Array.from(draw(cls));
      for (let k = 0; k < D; k++) embed[k * N + cls] = v[k]!;
      samples.push({ classIndex: cls, vector: [...v] });
    }
    b.add({ count: 2, classes, anchors, inputBoxes: new Float32Array(8), embed, input: new Float32Array(0) });
  }
  const r = b.finish();
  assert.equal(r.crossFitted, true);
  const inSample = fitDetectionOod(samples, { features: { embeddingDim: D, appearance: false }, classes: 2 });
  assert.ok(r.reference.quantiles.p99 > inSample.quantiles.p99, `cross-fitted p99 ${r.reference.quantiles.p99} above in-sample ${inSample.quantiles.p99}`);
  const scorer = new DetectionOodScorer(r.reference);
  let overCross = 0;
  let overIn = 0;
  const fresh = 20000;
  for (let i = 0; i < fresh; i++) {
    const cls = i % 2;
    const s = scorer.scoreVector(cls, draw(cls));
    if (s > r.reference.quantiles.p99) overCross++;
    if (s > inSample.quantiles.p99) overIn++;
  }
  assert.ok(overCross / fresh <= 0.015, `${overCross} of ${fresh} new detections over the cross-fitted p99`);
  assert.ok(overIn > 1.5 * overCross, `${overIn} over the in-sample p99 against ${overCross} over the cross-fitted one`);
  // The profile's own frames count detections over the threshold at the rate live frames will.
  const own = r.oodDetections.reduce((a, v) => a + v, 0) / r.samples;
  assert.ok(own >= 0.005 && own <= 0.015, `${own} of the reference's own detections over its p99`);
});

test('too few detections to halve: the in-sample quantiles stand, and the result says so', () => {
  const b = new OodReferenceBuilder({ embeddingDim: 2, appearance: false }, 1, 2, 8, 8);
  const embed = Float32Array.from([1, 2, 3, 4]);
  b.add({ count: 1, classes: Int32Array.from([0]), anchors: Int32Array.from([0]), inputBoxes: new Float32Array(4), embed, input: new Float32Array(0) });
  embed[0] = 2;
  b.add({ count: 1, classes: Int32Array.from([0]), anchors: Int32Array.from([1]), inputBoxes: new Float32Array(4), embed, input: new Float32Array(0) });
  const r = b.finish();
  assert.equal(r.crossFitted, false);
  assert.equal(r.oodDetections.length, 2);
});

test('a class seen in one half only is scored by the full reference, so it does not push the cross-fitted p99 up', () => {
  const D = 6;
  const N = 3;
  let seed = 5;
  const uniform = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const gauss = (): number => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const b = new OodReferenceBuilder({ embeddingDim: D, appearance: false }, 2, N, 32, 32);
  const embed = new Float32Array(D * N);
  for (let f = 0; f < 2000; f++) {
    // Class 0 at anchor 0 in every frame; class 1 (far from class 0) at anchor 1 in the first half only.
    for (let k = 0; k < D; k++) {
      embed[k * N] = gauss();
      embed[k * N + 1] = 6 + gauss();
    }
    const both = f < 1000;
    b.add({ count: both ? 2 : 1, classes: Int32Array.from([0, 1]), anchors: Int32Array.from([0, 1]), inputBoxes: new Float32Array(8), embed, input: new Float32Array(0) });
  }
  const r = b.finish();
  assert.equal(r.crossFitted, true);
  const scorer = new DetectionOodScorer(r.reference);
  let over = 0;
  for (let i = 0; i < 4000; i++) if (scorer.scoreVector(0, Array.from({ length: D }, gauss)) > r.reference.quantiles.p99) over++;
  assert.ok(over / 4000 > 0.002 && over / 4000 < 0.03, `${over} of 4000 new class-0 detections over the p99 (${r.reference.quantiles.p99.toFixed(1)})`);
});
