import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossClassDuplicates, crossClassPairs } from '../../../agent/readiness/duplicates.js';
import type { ScoredBox } from '../../../agent/readiness/metrics.js';

const d = (classId: number, score: number, x1: number, y1: number, x2: number, y2: number): ScoredBox => ({ classId, score, x1, y1, x2, y2 });

test('crossClassPairs: different classes above IoU 0.7 pair up; same class, low overlap and dropped boxes do not', () => {
  const dets = [
    d(0, 0.9, 0, 0, 100, 100),
    d(5, 0.8, 0, 0, 100, 80), // IoU 8000/10000 = 0.80 with 0: a pair
    d(0, 0.7, 0, 0, 100, 90), // same class as 0 (NMS's business); with 5: 8000/9000 = 0.889, a pair
    d(1, 0.6, 0, 0, 100, 70), // IoU exactly 0.70 with 0: not above the threshold; with 5: 7000/8000 = 0.875
    d(2, 0.5, 200, 200, 300, 300), // far away
  ];
  const pairs = crossClassPairs(dets);
  assert.deepEqual(pairs.map((p) => [p.i, p.j]), [[0, 1], [1, 2], [1, 3], [2, 3]]);
  // (2, 3): 7000/9000 = 0.778.
  assert.ok(Math.abs(pairs[0]!.iou - 0.8) < 1e-12 && Math.abs(pairs[3]!.iou - 7 / 9) < 1e-12);
  // Class 5 kept only from 0.85: its pairs go.
  assert.deepEqual(crossClassPairs(dets, { thresholds: [0.5, 0.5, 0.5, 0.5, 0.5, 0.85] }).map((p) => [p.i, p.j]), [[2, 3]]);
  assert.deepEqual(crossClassPairs(dets, { iou: 0.85 }).map((p) => [p.i, p.j]), [[1, 2], [1, 3]]);
  assert.deepEqual(crossClassPairs([]), []);
});

test('crossClassDuplicates: counts pairs and images, by unordered class pair, most frequent first', () => {
  const washerAsStain = [d(0, 0.9, 0, 0, 10, 10), d(5, 0.6, 0, 0, 10, 9)];
  const stainAsWasher = [d(5, 0.9, 20, 20, 30, 30), d(0, 0.8, 20, 20, 30, 30)];
  const bracketScratch = [d(1, 0.9, 0, 0, 10, 10), d(2, 0.9, 0, 0, 10, 10)];
  const r = crossClassDuplicates([
    { dets: washerAsStain },
    { dets: [...stainAsWasher, ...bracketScratch.map((b) => ({ ...b, x1: b.x1 + 50, x2: b.x2 + 50 }))] },
    { dets: [] },
    { dets: [d(0, 0.9, 0, 0, 10, 10)] },
  ]);
  assert.deepEqual(r, { pairs: 3, images: 2, imagesChecked: 4, byClassPair: [{ a: 0, b: 5, count: 2 }, { a: 1, b: 2, count: 1 }] });
});
