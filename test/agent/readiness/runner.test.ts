import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DetectionSelector, dropIgnored, type ImageDetections } from '../../../agent/readiness/runner.js';

const image = (boxes: number[][], scores: number[], classes: number[]): ImageDetections => ({
  count: boxes.length,
  boxes: Float32Array.from(boxes.flat()),
  scores: Float32Array.from(scores),
  classes: Int32Array.from(classes),
  clip: Float32Array.of(0, 0, 640, 480),
});

test('a detection at least half inside an ignore region and on no labelled object is dropped; one on a labelled object stays', () => {
  const im = image(
    [
      [0, 100, 20, 140], // wholly inside the ignore region at the left edge
      [0, 100, 40, 140], // half inside (20 of 40 px wide): dropped
      [0, 100, 50, 140], // 40% inside: kept, a false alarm like any other
      [200, 200, 240, 240], // on a labelled part that also lies in a (big) ignore region: kept
    ],
    [0.9, 0.8, 0.7, 0.6],
    [1, 1, 1, 0],
  );
  const ignore = [{ classId: -1, x1: 0, y1: 90, x2: 20, y2: 150 }, { classId: -1, x1: 150, y1: 150, x2: 300, y2: 300 }];
  const objects = [{ classId: 0, x1: 201, y1: 200, x2: 241, y2: 240 }];
  const out = dropIgnored(im, ignore, objects);
  assert.equal(out.count, 2);
  assert.deepEqual([...out.scores].map((s) => +s.toFixed(2)), [0.7, 0.6]);
  assert.deepEqual([...out.classes], [1, 0]);
  assert.deepEqual([...out.boxes.subarray(0, 4)], [0, 100, 50, 140]);
  assert.equal(dropIgnored(im, [], objects), im, 'no ignore region: the same object back');
});

test('the selector reports what an agent with these thresholds and suppression would, and all() keeps everything', () => {
  // A washer (0) and a scratch (2) on one part, and a lone bracket (1) below its threshold.
  const im = image([[10, 10, 50, 50], [11, 10, 50, 51], [100, 100, 140, 140]], [0.9, 0.6, 0.3], [0, 2, 1]);
  const s = new DetectionSelector();
  assert.equal(s.all(im).length, 3);
  const thresholds = [0.5, 0.5, 0.5];
  assert.deepEqual(s.select(im, { thresholds }).map((d) => d.classId), [0, 2], 'class-aware: both classes on the part');
  assert.deepEqual(s.select(im, { thresholds, agnostic: true }).map((d) => d.classId), [0], 'agnostic: the higher score');
  assert.deepEqual(s.select(im, { thresholds, agnostic: true, classPriority: [0, 0, 1] }).map((d) => d.classId), [2], 'agnostic, defects first: the scratch');
});
