import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoxSet } from '../../../agent/decode/boxes.js';
import { CONF_BINS, DETECTION_FEATURES, DetectionStats } from '../../../agent/telemetry/detection-stats.js';

test('histograms every candidate by class and fixed bin; summarises the kept detections', () => {
  const cand = new BoxSet(10);
  for (const [s, c] of [[0.02, 0], [0.07, 0], [0.5, 1], [0.99, 1], [1.0, 1], [0.3, 5]] as const) cand.push(0, 0, 1, 1, s, c);
  const dets = new BoxSet(10);
  dets.push(0, 0, 100, 50, 0.99, 1); // area 5000 / 20000, aspect 2
  dets.push(10, 10, 60, 110, 0.5, 1); // area 5000 / 20000, aspect 0.5
  const st = new DetectionStats(2);
  const v = st.compute(cand, dets, 200, 100);
  [2, 1.0, 0.745, 6, 0.25, 1.25, 0, 0].forEach((want, i) => assert.ok(Math.abs(v[i]! - want) < 1e-6, `value ${i}: ${v[i]} vs ${want}`));
  const h = st.confHist;
  assert.equal(h[0 * CONF_BINS + 0], 1); // 0.02
  assert.equal(h[0 * CONF_BINS + 1], 1); // 0.07
  assert.equal(h[1 * CONF_BINS + 10], 1); // 0.5
  assert.equal(h[1 * CONF_BINS + 19], 2); // 0.99 and 1.0 (top bin is closed)
  assert.equal(h.reduce((a, b) => a + b, 0), 5, 'the class outside the model is not histogrammed');
  assert.deepEqual([...st.classCounts], [0, 2]);
});

test('an empty frame is all zeros, and the arrays are reused', () => {
  const st = new DetectionStats(3);
  const hist = st.confHist;
  const v = st.compute(new BoxSet(1), new BoxSet(1), 640, 480);
  assert.deepEqual([...v], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(st.confHist, hist);
});

test('a kept detection is uncertain below the band, or when another class scores over it', () => {
  const st = new DetectionStats(3, { uncertainBelow: 0.5, rivalMin: 0.2, rivalIou: 0.5 });
  const cand = new BoxSet(10);
  cand.push(0, 0, 10, 10, 0.9, 0); // the confident detection itself
  cand.push(1, 0, 11, 10, 0.35, 2); // another class, IoU 0.82 over it: a rival
  cand.push(100, 100, 110, 110, 0.8, 1);
  cand.push(100, 100, 110, 110, 0.1, 2); // another class but below rivalMin
  cand.push(200, 200, 210, 210, 0.45, 0);
  const dets = new BoxSet(10);
  dets.push(0, 0, 10, 10, 0.9, 0);
  dets.push(100, 100, 110, 110, 0.8, 1);
  dets.push(200, 200, 210, 210, 0.45, 0); // in the band
  assert.equal(st.compute(cand, dets, 640, 480)[6], 2);
  // Detections are in source pixels, candidates in model-input pixels: the letterbox maps them.
  const half = { srcW: 1280, srcH: 960, dstW: 640, dstH: 640, newW: 640, newH: 480, left: 0, top: 80 };
  const src = new BoxSet(1);
  src.push(0, -160, 20, -140, 0.9, 0); // -> (0, 0, 10, 10) in input pixels
  assert.equal(st.compute(cand, src, 1280, 960, half)[6], 1);
  src.clear();
  src.push(400, 400, 420, 420, 0.9, 0);
  assert.equal(st.compute(cand, src, 1280, 960, half)[6], 0);
});

test('oodDetections counts the kept detections whose OOD score exceeds the threshold; unscored (NaN) ones never count', () => {
  const dets = new BoxSet(10);
  for (let i = 0; i < 4; i++) dets.push(0, 0, 10, 10, 0.9, 0);
  const st = new DetectionStats(1);
  const k = DETECTION_FEATURES.indexOf('oodDetections');
  const scores = Float64Array.from([5, 250, 120.5, 300, 999]); // the fifth is past the kept count
  assert.equal(st.compute(new BoxSet(1), dets, 100, 100, undefined, scores, 120.5)[k], 2, 'strictly above: 250 and 300');
  assert.equal(st.compute(new BoxSet(1), dets, 100, 100, undefined, scores, Number.NaN)[k], 0, 'no threshold: nothing is out of distribution');
  assert.equal(st.compute(new BoxSet(1), dets, 100, 100, undefined, new Float64Array(4).fill(Number.NaN), 10)[k], 0, 'not scored');
  assert.equal(st.compute(new BoxSet(1), dets, 100, 100)[k], 0, 'no scores at all');
});
