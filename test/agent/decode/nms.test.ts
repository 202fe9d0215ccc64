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

// Agnostic suppression with class priority. Classes: 0 washer, 1 bracket, 2 scratch, 3 missing_notch.
const agn = { ...base, agnostic: true };

test('agnostic: a lower-scored box of a higher-priority class beats a higher-scored duplicate, in either input order', () => {
  const hi = [0, 0, 10, 10, 0.4, 3]; // missing_notch, lower score, higher priority
  const lo = [0, 0, 10, 10, 0.9, 1]; // bracket, higher score
  const prio = [0, 1, 3, 2];
  for (const rows of [[hi, lo], [lo, hi]]) {
    const out = new BoxSet(10);
    new Nms(10).run(set(rows), { ...agn, classPriority: prio }, out);
    assert.deepEqual(kept(out), [[0, 0, 10, 10, 0.4, 3]]);
  }
  // The same pair, priorities swapped: the bracket wins, whichever order.
  for (const rows of [[hi, lo], [lo, hi]]) {
    const out = new BoxSet(10);
    new Nms(10).run(set(rows), { ...agn, classPriority: [0, 3, 1, 2] }, out);
    assert.deepEqual(kept(out), [[0, 0, 10, 10, 0.9, 1]]);
  }
});

test('agnostic: on equal priority (or none given) the higher score survives', () => {
  const rows = [[0, 0, 10, 10, 0.6, 0], [1, 0, 11, 10, 0.8, 3]];
  const out = new BoxSet(10);
  new Nms(10).run(set(rows), { ...agn, classPriority: [2, 0, 0, 2] }, out);
  assert.deepEqual(kept(out).map((r) => r[5]), [3]);
  new Nms(10).run(set(rows), { ...agn, classPriority: [1, 0, 0, 1] }, out);
  assert.deepEqual(kept(out).map((r) => r[5]), [3]);
  new Nms(10).run(set(rows), agn, out);
  assert.deepEqual(kept(out).map((r) => r[5]), [3]);
  // NaN and missing entries count as 0: equal, so score decides.
  new Nms(10).run(set(rows), { ...agn, classPriority: [Number.NaN] }, out);
  assert.deepEqual(kept(out).map((r) => r[5]), [3]);
});

test('agnostic: cross-class IoU at or below agnosticIou keeps both; same class still uses iou', () => {
  // Boxes 10 wide, shifted by s: IoU = (10-s)/(10+s). s=2 -> 0.667, s=1 -> 0.818.
  const out = new BoxSet(10);
  new Nms(10).run(set([[0, 0, 10, 10, 0.9, 0], [2, 0, 12, 10, 0.8, 1]]), agn, out);
  assert.equal(out.count, 2, 'IoU 0.667 <= default 0.7');
  new Nms(10).run(set([[0, 0, 10, 10, 0.9, 0], [1, 0, 11, 10, 0.8, 1]]), agn, out);
  assert.equal(out.count, 1, 'IoU 0.818 > 0.7');
  new Nms(10).run(set([[0, 0, 10, 10, 0.9, 0], [1, 0, 11, 10, 0.8, 1]]), { ...agn, agnosticIou: 0.9 }, out);
  assert.equal(out.count, 2, 'IoU 0.818 <= 0.9');
  // IoU exactly at the threshold keeps both: 5-wide overlap of 10x10 boxes -> 50 / 150 = 1/3.
  new Nms(10).run(set([[0, 0, 10, 10, 0.9, 0], [5, 0, 15, 10, 0.8, 1]]), { ...agn, agnosticIou: 1 / 3 }, out);
  assert.equal(out.count, 2, 'IoU equal to agnosticIou');
  // Same class at IoU 0.667: suppressed by iou 0.45, as without agnostic.
  new Nms(10).run(set([[0, 0, 10, 10, 0.9, 0], [2, 0, 12, 10, 0.8, 0]]), agn, out);
  assert.equal(out.count, 1);
});

test('agnostic off: priority and agnosticIou change nothing; output equals the class-aware result', () => {
  const rows: number[][] = [];
  let s = 7;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 80; i++) {
    const x = rnd() * 60;
    const y = rnd() * 60;
    rows.push([x, y, x + 5 + rnd() * 20, y + 5 + rnd() * 20, 0.05 + rnd() * 0.9, Math.floor(rnd() * 4)]);
  }
  const a = new BoxSet(100);
  const b = new BoxSet(100);
  new Nms(100).run(set(rows), { ...base, maxDet: 30 }, a);
  new Nms(100).run(set(rows), { ...base, maxDet: 30, agnostic: false, agnosticIou: 0.1, classPriority: [9, 0, 5, 3] }, b);
  assert.ok(a.count > 5);
  assert.deepEqual(kept(b), kept(a));
});

test('agnostic: per-class thresholds apply before the cross-class step (a sub-threshold box suppresses nothing)', () => {
  const rows = [[0, 0, 10, 10, 0.5, 3], [0, 0, 10, 10, 0.7, 1]];
  const out = new BoxSet(10);
  const prio = [0, 1, 3, 2];
  // missing_notch at 0.5 clears the global 0.25: it wins on priority.
  new Nms(10).run(set(rows), { ...agn, classPriority: prio }, out);
  assert.deepEqual(kept(out).map((r) => r[5]), [3]);
  // Its class threshold 0.6 drops it first, so the bracket stays.
  new Nms(10).run(set(rows), { ...agn, classPriority: prio, classConf: [Number.NaN, Number.NaN, Number.NaN, 0.6] }, out);
  assert.deepEqual(kept(out).map((r) => r[5]), [1]);
  // A bracket below its own threshold is gone whatever the overlap.
  new Nms(10).run(set(rows), { ...agn, classPriority: prio, classConf: [Number.NaN, 0.8, Number.NaN, 0.6] }, out);
  assert.equal(out.count, 0);
});

test('agnostic: a 3-box chain; a box suppressed across classes suppresses nothing', () => {
  // A scratch (top priority, lowest score) duplicates B (bracket, 0.9); B duplicates C (washer, 0.8),
  // which overlaps A too little (IoU 0.67). A removes B, so C, no longer suppressed by B, stays.
  const A = [0, 0, 10, 10, 0.3, 2];
  const B = [1, 0, 11, 10, 0.9, 1];
  const C = [2, 0, 12, 10, 0.8, 0];
  const prio = [1, 1, 3, 2];
  for (const rows of [[A, B, C], [C, B, A], [B, A, C]]) {
    const out = new BoxSet(10);
    new Nms(10).run(set(rows), { ...agn, classPriority: prio }, out);
    assert.deepEqual(kept(out).map((r) => r[5]), [0, 2], 'sorted by score: C 0.8, A 0.3');
  }
  // Without priority the greedy goes by score: B (0.9) removes A and C.
  const out = new BoxSet(10);
  new Nms(10).run(set([A, B, C]), agn, out);
  assert.deepEqual(kept(out).map((r) => r[5]), [1]);
});

test('agnostic: same-class suppression runs before the cross-class step, and maxDet caps the final list', () => {
  // Two brackets (IoU 0.82): the 0.6 one is removed by the 0.9 one before it could matter; a
  // missing_notch duplicate of the 0.9 bracket wins on priority; a far washer stays.
  const rows = [[0, 0, 10, 10, 0.9, 1], [1, 0, 11, 10, 0.6, 1], [0, 0, 10, 10, 0.5, 3], [50, 50, 60, 60, 0.95, 0]];
  const out = new BoxSet(10);
  new Nms(10).run(set(rows), { ...agn, classPriority: [0, 0, 0, 1] }, out);
  assert.deepEqual(kept(out).map((r) => [r[4], r[5]]), [[0.95, 0], [0.5, 3]]);
  new Nms(10).run(set(rows), { ...agn, classPriority: [0, 0, 0, 1], maxDet: 1 }, out);
  assert.deepEqual(kept(out).map((r) => [r[4], r[5]]), [[0.95, 0]]);
});

test('agnostic with skipSuppression (NMS inside the model): only the cross-class step runs', () => {
  const rows = [[0, 0, 10, 10, 0.9, 1], [1, 0, 11, 10, 0.6, 1], [0, 0, 10, 10, 0.5, 3]];
  const out = new BoxSet(10);
  new Nms(10).run(set(rows), { ...agn, classPriority: [0, 0, 0, 1] }, out, true);
  // The missing_notch removes the first bracket; the second overlaps it by 0.82 too.
  assert.deepEqual(kept(out).map((r) => r[5]), [3]);
  new Nms(10).run(set([[0, 0, 10, 10, 0.9, 1], [1, 0, 11, 10, 0.6, 1]]), agn, out, true);
  assert.equal(out.count, 2, 'same class: left to the model');
});

test('agnostic with clip: the cross-class overlap is measured on boxes clipped to the image, as reported', () => {
  // Two boxes of a part cut by the left edge (x < 0 is off the image): 0.5 IoU unclipped, 1 clipped.
  const rows = [[-10, 0, 10, 10, 0.9, 0], [0, 0, 10, 10, 0.8, 3]];
  const out = new BoxSet(10);
  new Nms(10).run(set(rows), agn, out);
  assert.equal(out.count, 2);
  new Nms(10).run(set(rows), { ...agn, clip: [0, 0, 100, 100], classPriority: [0, 0, 0, 1] }, out);
  assert.deepEqual(kept(out), [[0, 0, 10, 10, 0.8, 3]]);
  // Clipping does not touch same-class suppression (IoU 0.5 unclipped, kept at iou 0.6), nor the boxes written out.
  new Nms(10).run(set([[-10, 0, 10, 10, 0.9, 0], [0, 0, 10, 10, 0.8, 0]]), { ...agn, iou: 0.6, clip: [0, 0, 100, 100] }, out);
  assert.deepEqual(kept(out).map((r) => r[0]), [-10, 0]);
});
