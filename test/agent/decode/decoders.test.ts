import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoxSet } from '../../../agent/decode/boxes.js';
import { chooseDecoder } from '../../../agent/decode/decoders.js';
import { isDriftlineError } from '../../../lib/errors.js';

function boxes(set: BoxSet): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < set.count; i++) out.push([...set.boxes.subarray(i * 4, i * 4 + 4), set.scores[i]!, set.classes[i]!].map((v) => +v.toFixed(4)));
  return out;
}

test('yolov8 [1, 4+nc, N]: centre boxes to corners, best class per anchor, threshold', () => {
  // nc = 2, N = 3. Channel-major: row c holds channel c for every anchor.
  const n = 3;
  const out = new Float32Array([
    /* cx */ 50, 100, 10,
    /* cy */ 40, 60, 10,
    /* w  */ 20, 10, 4,
    /* h  */ 10, 30, 4,
    /* c0 */ 0.9, 0.1, 0.05,
    /* c1 */ 0.2, 0.7, 0.02,
  ]);
  const d = chooseDecoder([1, 6, n], { names: ['a', 'b'] }, 'm.onnx');
  assert.equal(d.layout, 'yolov8');
  assert.equal(d.numClasses, 2);
  assert.equal(d.anchors, 3);
  const set = new BoxSet(10);
  d.decode(out, 0.25, set);
  assert.deepEqual(boxes(set), [
    [40, 35, 60, 45, 0.9, 0],
    [95, 45, 105, 75, 0.7, 1],
  ]);
  // Each candidate carries the output column it was decoded from.
  assert.deepEqual([...set.anchors.subarray(0, set.count)], [0, 1]);
});

test('yolov5 [1, N, 5+nc]: score is objectness x class score', () => {
  const out = new Float32Array([
    // cx, cy, w, h, obj, c0, c1
    50, 40, 20, 10, 0.8, 0.5, 0.9, // 0.8*0.9 = 0.72 class 1
    10, 10, 4, 4, 0.2, 0.9, 0.1, // obj below threshold
    30, 30, 10, 10, 0.5, 0.4, 0.3, // 0.5*0.4 = 0.2 below 0.25
  ]);
  const d = chooseDecoder([1, 3, 7], { names: ['a', 'b'] }, 'm.onnx');
  assert.equal(d.layout, 'yolov5');
  const set = new BoxSet(10);
  d.decode(out, 0.25, set);
  assert.deepEqual(boxes(set), [[40, 35, 60, 45, 0.72, 1]]);
  assert.equal(set.anchors[0], 0);
});

test('end-to-end [1, N, 6]: corners, score and class as given; NMS flagged as done', () => {
  const out = new Float32Array([
    1, 2, 11, 22, 0.95, 3,
    5, 5, 6, 6, 0.1, 0, // below threshold
    0, 0, 0, 0, 0, 0, // padding row
  ]);
  const d = chooseDecoder([1, 3, 6], { names: ['a', 'b', 'c', 'd'], endToEnd: true }, 'm.onnx');
  assert.equal(d.layout, 'e2e');
  assert.equal(d.nmsInside, true);
  const set = new BoxSet(10);
  d.decode(out, 0.25, set);
  assert.deepEqual(boxes(set), [[1, 2, 11, 22, 0.95, 3]]);
  assert.equal(set.anchors[0], 0);
});

test('layout is guessed from the shape when metadata names no classes', () => {
  assert.equal(chooseDecoder([1, 84, 8400], {}, 'm').layout, 'yolov8');
  assert.equal(chooseDecoder([1, 25200, 85], {}, 'm').layout, 'yolov5');
  assert.equal(chooseDecoder([1, 300, 6], {}, 'm').layout, 'e2e');
  assert.equal(chooseDecoder([1, 84, 8400], {}, 'm').numClasses, 80);
  assert.equal(chooseDecoder([1, 25200, 85], {}, 'm').numClasses, 80);
});

test('metadata class count disambiguates [1, N, 6]: one-class YOLOv5 versus end-to-end', () => {
  assert.equal(chooseDecoder([1, 100, 6], { names: ['part'] }, 'm').layout, 'yolov5');
  assert.equal(chooseDecoder([1, 100, 6], { names: ['a', 'b', 'c'] }, 'm').layout, 'e2e');
  assert.equal(chooseDecoder([1, 100, 6], { names: ['part'], endToEnd: true }, 'm').layout, 'e2e');
  assert.equal(chooseDecoder([1, 100, 6], { names: ['part'], layout: 'e2e' }, 'm').layout, 'e2e');
});

test('a shape no layout fits is DRIFTLINE_ERR_MODEL_OUTPUT naming file and shape', () => {
  const cases: [number[], object, RegExp][] = [
    [[1, 1000], {}, /expected 3 dimensions/],
    [[2, 84, 8400], {}, /batch dimension must be 1/],
    [[1, 84, 8400], { names: ['a', 'b'] }, /no layout fits it with 2 classes/],
    [[1, 4, 4], {}, /no layout fits/],
    [[1, 7, 100], { layout: 'e2e' }, /6 values per row/],
    [[1, 84, 8400], { names: Array.from({ length: 79 }, (_, i) => `c${i}`), layout: 'yolov8' }, /80 class channels but the metadata names 79/],
  ];
  for (const [dims, hints, re] of cases) {
    assert.throws(
      () => chooseDecoder(dims, hints, '/models/x.onnx'),
      (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_MODEL_OUTPUT') && re.test(e.message) && e.message.includes('/models/x.onnx') && e.message.includes(`[${dims.join(', ')}]`),
      `${JSON.stringify(dims)} ${JSON.stringify(hints)}`,
    );
  }
});

test('decoding into a full set stops at capacity instead of overflowing', () => {
  const n = 5;
  const out = new Float32Array(6 * n);
  for (let i = 0; i < n; i++) {
    out[i] = i * 10;
    out[n + i] = 5;
    out[2 * n + i] = 2;
    out[3 * n + i] = 2;
    out[4 * n + i] = 0.9;
  }
  const set = new BoxSet(2);
  chooseDecoder([1, 6, n], { names: ['a', 'b'] }, 'm').decode(out, 0.5, set);
  assert.equal(set.count, 2);
});
