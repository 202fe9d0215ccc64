import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoxSet } from '../../../agent/decode/boxes.js';
import { Nms } from '../../../agent/decode/nms.js';

function set(rows: number[][]): BoxSet {
  const s = new BoxSet(Math.max(rows.length, 1));
  for (const r of rows) s.push(r[0]!, r[1]!, r[2]!, r[3]!, r[4]!, r[5]!);
  return s;
}

function kept(out: BoxSet): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < out.count; i++) rows.push([...out.boxes.subarray(i * 4, i * 4 + 4), +out.scores[i]!.toFixed(3), out.classes[i]!]);
  return rows;
}

const base = { conf: 0.25, iou: 0.45, maxDet: 100 };

test('empty input gives empty output', () => {
  const out = new BoxSet(10);
  out.push(1, 1, 2, 2, 0.9, 0); // stale content must be cleared
  new Nms(10).run(new BoxSet(4), base, out);
  assert.equal(out.count, 0);
});

test('identical boxes of one class: one survives, the first of equal scores', () => {
  const out = new BoxSet(10);
  new Nms(10).run(set([[0, 0, 10, 10, 0.8, 0], [0, 0, 10, 10, 0.8, 0], [0, 0, 10, 10, 0.6, 0]]), base, out);
  assert.deepEqual(kept(out), [[0, 0, 10, 10, 0.8, 0]]);
});

test('identical boxes of different classes both survive (class-aware); agnostic keeps one', () => {
  const cand = set([[0, 0, 10, 10, 0.7, 0], [0, 0, 10, 10, 0.9, 1]]);
  const out = new BoxSet(10);
  new Nms(10).run(cand, base, out);
  assert.deepEqual(kept(out), [[0, 0, 10, 10, 0.9, 1], [0, 0, 10, 10, 0.7, 0]]);
  new Nms(10).run(cand, { ...base, agnostic: true }, out);
  assert.deepEqual(kept(out), [[0, 0, 10, 10, 0.9, 1]]);
});

test('suppression is by IoU threshold: just above suppresses, just below keeps', () => {
  // Boxes 10 wide, shifted by s: IoU = (10-s)/(10+s). s=3 -> 0.538; s=4 -> 0.4286.
  const out = new BoxSet(10);
  new Nms(10).run(set([[0, 0, 10, 10, 0.9, 0], [3, 0, 13, 10, 0.8, 0]]), base, out);
  assert.equal(out.count, 1);
  new Nms(10).run(set([[0, 0, 10, 10, 0.9, 0], [4, 0, 14, 10, 0.8, 0]]), base, out);
  assert.equal(out.count, 2);
});

test('a suppressed box does not suppress others (greedy order)', () => {
  // A (0.9) suppresses B (0.8); B would have suppressed C (0.7), but C overlaps A too little.
  const out = new BoxSet(10);
  new Nms(10).run(set([[0, 0, 10, 10, 0.9, 0], [3, 0, 13, 10, 0.8, 0], [6, 0, 16, 10, 0.7, 0]]), base, out);
  assert.deepEqual(kept(out).map((r) => r[4]), [0.9, 0.7]);
});

test('global and per-class confidence thresholds', () => {
  const cand = set([[0, 0, 1, 1, 0.3, 0], [5, 5, 6, 6, 0.3, 1], [9, 9, 10, 10, 0.2, 2]]);
  const out = new BoxSet(10);
  new Nms(10).run(cand, base, out);
  assert.deepEqual(kept(out).map((r) => r[5]), [0, 1]);
  // class 1 stricter, class 2 looser; class 0 falls back to the global threshold (NaN)
  new Nms(10).run(cand, { ...base, classConf: [Number.NaN, 0.5, 0.1] }, out);
  assert.deepEqual(kept(out).map((r) => r[5]), [0, 2]);
});

test('maxDet caps the output, keeping the highest scores', () => {
  const rows = Array.from({ length: 20 }, (_, i) => [i * 20, 0, i * 20 + 10, 10, 0.3 + i * 0.01, 0]);
  const out = new BoxSet(50);
  new Nms(20).run(set(rows), { ...base, maxDet: 3 }, out);
  assert.deepEqual(kept(out).map((r) => r[4]), [0.49, 0.48, 0.47]);
});

test('skipSuppression (models with NMS inside) still thresholds and sorts', () => {
  const out = new BoxSet(10);
  new Nms(10).run(set([[0, 0, 10, 10, 0.5, 0], [0, 0, 10, 10, 0.9, 0], [0, 0, 10, 10, 0.1, 0]]), base, out, true);
  assert.deepEqual(kept(out).map((r) => r[4]), [0.9, 0.5]);
});

test('kept boxes carry the anchor (output row) of the candidate they came from', () => {
  const cand = new BoxSet(4);
  cand.push(0, 0, 10, 10, 0.6, 0, 17);
  cand.push(1, 0, 11, 10, 0.9, 0, 42); // suppresses the first
  cand.push(50, 50, 60, 60, 0.7, 1, 5);
  const out = new BoxSet(10);
  new Nms(4).run(cand, base, out);
  assert.deepEqual([...out.anchors.subarray(0, out.count)], [42, 5]);
  // A box pushed without one has none.
  out.push(0, 0, 1, 1, 0.5, 0);
  assert.equal(out.anchors[out.count - 1], -1);
});
