import assert from 'node:assert/strict';
import { test } from 'node:test';
import { breakdown, groupColumn, imageCounts, MISSING, type ConditionedImage } from '../../../agent/readiness/breakdown.js';
import type { Box, ScoredBox } from '../../../agent/readiness/metrics.js';

const G: Box = { classId: 0, x1: 0, y1: 0, x2: 10, y2: 10 };
const HIT: ScoredBox = { ...G, score: 0.9 };
const STRAY: ScoredBox = { classId: 0, score: 0.9, x1: 50, y1: 50, x2: 60, y2: 60 };

/** One object of class 0 per image, found or not, with an optional false positive. */
function image(conditions: Record<string, string>, found: boolean, stray = false): ConditionedImage {
  return { gts: [G], dets: [...(found ? [HIT] : []), ...(stray ? [STRAY] : [])], conditions };
}

function close(actual: number, expected: number, tol = 1e-6, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} != ${expected} (±${tol})`);
}

test('imageCounts: ground truth, tp and fp per image and class at the thresholds', () => {
  const c = imageCounts([{ gts: [G], dets: [HIT, STRAY, { ...STRAY, classId: 1, score: 0.2 }] }], 2, [0.5, 0.5]);
  assert.deepEqual([...c], [1, 1, 1, 0, 0, 0], 'the class-1 box under its threshold is not counted');
});

test('groupColumn: categories in natural order, missing last; many numbers become quartile bins', () => {
  const cat = groupColumn(['2', '10', undefined, '1', '2']);
  assert.deepEqual(cat.values, ['1', '2', '10', MISSING]);
  assert.deepEqual([...cat.groupOf], [1, 2, 3, 0, 1]);
  assert.equal(cat.numeric, false, 'six or fewer distinct numbers stay categories');
  // 16 gains 0.40…1.15: cuts at ranks 4, 8, 12 = 0.60, 0.80, 1.00; span 0.75 → 2 decimals.
  const gains = Array.from({ length: 16 }, (_, i) => (0.4 + 0.05 * i).toFixed(2));
  const num = groupColumn([...gains, '']);
  assert.equal(num.numeric, true);
  assert.deepEqual(num.values, ['0.40–0.55', '0.60–0.75', '0.80–0.95', '1.00–1.15', MISSING]);
  assert.deepEqual([...num.groupOf], [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4]);
  // Heavy ties merge cuts: sorted 0, 1×8, 2, 3, 4, 5, 6 (m = 14) → ranks 3, 7, 10 = 1, 1, 3 → cuts 1 and 3.
  // Whole numbers get no decimals; a bin of one value shows it alone.
  const tied = groupColumn(['1', '1', '1', '1', '1', '1', '1', '1', '2', '3', '4', '5', '6', '0']);
  assert.deepEqual(tied.values, ['0', '1–2', '3–6']);
  assert.deepEqual([...tied.groupOf], [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 0]);
});

test('breakdown: a dim group that misses half the parts is flagged against the bright ones', () => {
  // 40 bright (36 found), 40 dim (20 found); cameras alternate, so each camera finds 28 of 40.
  const images = Array.from({ length: 80 }, (_, i) => image({ light: i < 40 ? 'bright' : 'dim', camera: i % 2 ? 'b' : 'a' }, i < 36 || (i >= 40 && i < 60)));
  const r = breakdown(images, 1, { thresholds: [0.5] });
  assert.deepEqual(r.columns.map((c) => [c.column, c.groups.map((g) => g.label)]), [['light', ['light bright', 'light dim']], ['camera', ['camera a', 'camera b']]]);
  const dim = r.columns[0]!.groups[1]!.classes[0]!;
  // Recall 20/40 = 0.5, Wilson [0.3519953, 0.6480047]; nominal (bright) 36/40 = 0.9.
  assert.deepEqual([dim.recall.k, dim.recall.n, dim.recall.value, dim.recall.nominal], [20, 40, 0.5, 0.9]);
  close(dim.recall.interval.hi, 0.6480047);
  assert.equal(r.columns[1]!.groups[0]!.classes[0]!.recall.value, 0.7);
  assert.equal(r.flags.length, 1, JSON.stringify(r.flags));
  const f = r.flags[0]!;
  assert.deepEqual([f.column, f.value, f.classId, f.metric, f.estimate, f.nominal, f.images], ['light', 'dim', 0, 'recall', 0.5, 0.9, 40]);
  close(f.interval.lo, 0.3519953);
});

test('breakdown: a small group below nominal whose interval reaches it is reported, not flagged', () => {
  // 3 dim images, 2 found: 0.667 is 0.23 under 0.9, but Wilson 2/3 reaches 0.9385 > 0.9.
  const images = [...Array.from({ length: 40 }, (_, i) => image({ light: 'bright' }, i < 36)), ...Array.from({ length: 3 }, (_, i) => image({ light: 'dim' }, i < 2))];
  const r = breakdown(images, 1, { thresholds: [0.5] });
  const dim = r.columns[0]!.groups[1]!.classes[0]!.recall;
  close(dim.value, 2 / 3, 1e-12);
  close(dim.interval.hi, 0.9385081);
  assert.deepEqual(r.flags, []);
  // A tolerance wider than the gap silences even the large group of the previous case.
  const big = Array.from({ length: 80 }, (_, i) => image({ light: i < 40 ? 'bright' : 'dim' }, i < 36 || (i >= 40 && i < 60)));
  assert.deepEqual(breakdown(big, 1, { thresholds: [0.5], tolerance: 0.45 }).flags, []);
});

test('breakdown: a large group is not flagged against a complement of a few lucky detections; it is against a large one', () => {
  // 100 nominal images, 80 found (0.8, Wilson hi 0.867); 3 dark images, all 3 found: 0.8 is 0.2 under
  // 1 and its upper bound is too, but 3/3 has Wilson lo 0.438, below 0.8: no evidence nominal is worse.
  const few = [...Array.from({ length: 100 }, (_, i) => image({ light: 'nominal' }, i < 80)), ...Array.from({ length: 3 }, () => image({ light: 'dark' }, true))];
  const r = breakdown(few, 1, { thresholds: [0.5] });
  const nominal = r.columns[0]!.groups.find((g) => g.value === 'nominal')!.classes[0]!.recall;
  assert.deepEqual([nominal.value, nominal.nominal], [0.8, 1]);
  close(nominal.nominalInterval.lo, 0.4385030, 1e-6, 'Wilson lo of 3/3');
  assert.deepEqual(r.flags, []);
  // 100 found of 100 elsewhere (Wilson lo 0.963): the same 0.8 is flagged.
  const many = [...Array.from({ length: 100 }, (_, i) => image({ light: 'nominal' }, i < 80)), ...Array.from({ length: 100 }, () => image({ light: 'bright' }, true))];
  assert.deepEqual(breakdown(many, 1, { thresholds: [0.5] }).flags.map((f) => [f.value, f.metric, f.estimate, f.nominal]), [['nominal', 'recall', 0.8, 1]]);
});

test('breakdown: false alarms on one camera flag its precision; low-gain bins flag recall', () => {
  // c3: 30 hits and 15 strays → precision 30/45 = 0.667 against 60/60 = 1 elsewhere; Wilson hi < 1.
  const cams = Array.from({ length: 90 }, (_, i) => image({ camera: `c${1 + Math.floor(i / 30)}` }, true, i >= 60 && i < 75));
  const r = breakdown(cams, 1, { thresholds: [0.5] });
  assert.deepEqual(r.flags.map((f) => [f.column, f.value, f.metric, f.nominal]), [['camera', 'c3', 'precision', 1]]);
  close(r.flags[0]!.estimate, 2 / 3, 1e-12);
  // Gains 0.40…1.15, five images each; nothing is found under 0.60 → the first bin's recall is 0 against 1.
  const gains = Array.from({ length: 80 }, (_, i) => {
    const g = 0.4 + 0.05 * Math.floor(i / 5);
    return image({ gain: g.toFixed(2) }, g >= 0.575);
  });
  const b = breakdown(gains, 1, { thresholds: [0.5] });
  assert.equal(b.columns[0]!.numeric, true);
  assert.deepEqual(b.flags.map((f) => [f.value, f.metric, f.estimate, f.nominal, f.images]), [['0.40–0.55', 'recall', 0, 1, 20]]);
});
