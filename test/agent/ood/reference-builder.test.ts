import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DetectionOodScorer } from '../../../agent/ood/detection-ood.js';
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
