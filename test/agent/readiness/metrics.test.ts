import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDriftlineError } from '../../../lib/errors.js';
import {
  AGGREGATE_CLASS_ID,
  ap101,
  averagePrecision,
  countAtThreshold,
  datasetMetrics,
  evaluateClasses,
  IOU_LADDER,
  LadderMatcher,
  matchImage,
  type Box,
  type ScoredBox,
} from '../../../agent/readiness/metrics.js';

const box = (classId: number, x1: number, y1: number, x2: number, y2: number): Box => ({ classId, x1, y1, x2, y2 });
const det = (classId: number, score: number, x1: number, y1: number, x2: number, y2: number): ScoredBox => ({ classId, score, x1, y1, x2, y2 });

function close(actual: number, expected: number, tol = 1e-6, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} != ${expected} (±${tol})`);
}

test('matchImage: a detection over two boxes takes the higher IoU; equal IoUs go to the lower index', () => {
  // A = [0,10]², B = [5,15]×[0,10]. The detection [4,14]×[0,10]: with A 60/140 = 0.43, with B 90/110 = 0.82.
  const a = box(0, 0, 0, 10, 10);
  const b = box(0, 5, 0, 15, 10);
  const m = matchImage([a, b], [det(0, 0.9, 4, 0, 14, 10)]);
  assert.equal(m.detections[0]!.tp, true);
  assert.equal(m.missed.length, 1);
  assert.equal(m.missed[0], a, 'B was taken, A is left');
  // Two identical boxes: the first (index 0) is taken, the second is missed.
  const g0 = box(0, 0, 0, 10, 10);
  const g1 = box(0, 0, 0, 10, 10);
  assert.equal(matchImage([g0, g1], [det(0, 0.9, 0, 0, 10, 10)]).missed[0], g1);
});

test('LadderMatcher: a detection at IoU 0.72 is a true positive at .50–.70 and a false positive at .75–.95', () => {
  // gt 100×100, detection 100×72 inside it: IoU = 7200/10000 = 0.72.
  const m = new LadderMatcher(IOU_LADDER).match([box(0, 0, 0, 100, 100)], [det(0, 0.8, 0, 0, 100, 72)]);
  assert.equal(m.masks[0], 0b00000_11111);
  // Scores rank the detections; the lower one finds the box taken at every threshold.
  const two = new LadderMatcher(IOU_LADDER).match([box(0, 0, 0, 100, 100)], [det(0, 0.3, 0, 0, 100, 100), det(0, 0.8, 0, 0, 100, 72)]);
  assert.deepEqual([...two.order], [1, 0]);
  assert.deepEqual([...two.masks], [0b11111, 0b11111_00000], 'the exact box still wins at .75 and above');
  // An IoU tie goes to the lower index: [5,15] overlaps [0,10] and [10,20] at 50/150 each and takes the first,
  // so the exact detection on [0,10] that follows finds it taken (FP) rather than scoring.
  const tie = new LadderMatcher([0.3]).match([box(0, 0, 0, 10, 10), box(0, 10, 0, 20, 10)], [det(0, 0.9, 5, 0, 15, 10), det(0, 0.8, 0, 0, 10, 10)]);
  assert.deepEqual([...tie.masks], [1, 0]);
});

test('ap101: the known curve T F T T F over 4 objects is 63.5/101 (VOC all-point: 0.625)', () => {
  // precision 1, .5, .667, .75, .6 at recall .25, .25, .5, .75, .75; envelope 1, .75, .75, .75, .6.
  // r = 0…0.25 (26 points) → 1; r = 0.26…0.75 (50 points) → .75; r = 0.76…1 (25 points) → 0.
  // AP = (26 + 37.5)/101 = 0.6287129.
  const dets = [0.9, 0.8, 0.7, 0.6, 0.5].map((score, i) => ({ score, tp: i !== 1 && i !== 4 }));
  close(ap101(dets, 4), 63.5 / 101, 1e-12);
  close(averagePrecision(dets, 4), 0.625, 1e-12);
  // Order of the input does not matter: it is sorted by score.
  close(ap101([...dets].reverse(), 4), 63.5 / 101, 1e-12);
});

test('ap101: perfect 1, all misses 0, no ground truth NaN, recall 1/3 reaches r = 0.33 but not 0.34', () => {
  assert.equal(ap101([{ score: 0.9, tp: true }, { score: 0.8, tp: true }], 2), 1);
  assert.equal(ap101([], 5), 0);
  assert.equal(ap101([{ score: 0.9, tp: false }], 5), 0);
  assert.ok(Number.isNaN(ap101([{ score: 0.9, tp: false }], 0)));
  // One of three found at precision 1: r = 0, 0.01, …, 0.33 (34 points) → 34/101.
  close(ap101([{ score: 0.9, tp: true }], 3), 34 / 101, 1e-12);
  // Recall exactly 0.07 (7 of 100) counts at r = 0.07: 8 points.
  const seven = Array.from({ length: 7 }, (_, i) => ({ score: 1 - i / 100, tp: true }));
  close(ap101(seven, 100), 8 / 101, 1e-12);
});

/** Four objects of class 0, in four images, and five detections ranked T F T T F with IoUs 1, –, 0.72, 0.62, –. */
function knownCurve(): { gts: Box[]; dets: ScoredBox[] }[] {
  const g = box(0, 0, 0, 100, 100);
  return [
    { gts: [g], dets: [det(0, 0.9, 0, 0, 100, 100), det(0, 0.8, 200, 200, 300, 300)] },
    { gts: [g], dets: [det(0, 0.7, 0, 0, 100, 72)] },
    { gts: [g], dets: [det(0, 0.6, 0, 0, 100, 62), det(0, 0.5, 300, 300, 400, 400)] },
    { gts: [g], dets: [] },
  ];
}

test('evaluateClasses: the known curve, its operating point, intervals and AP over the IoU ladder', () => {
  const [c0, all] = evaluateClasses(knownCurve(), 1, { thresholds: [0.65] });
  assert.ok(c0 && all);
  // Kept at 0.65: .9 T, .8 F, .7 T → tp 2, fp 1, fn 2 of 4.
  assert.deepEqual([c0.tp, c0.fp, c0.fn, c0.groundTruth, c0.images, c0.imagesWithObjects, c0.detections], [2, 1, 2, 4, 4, 4, 5]);
  close(c0.precision, 2 / 3);
  close(c0.recall, 0.5);
  close(c0.missRate, 0.5);
  close(c0.f1, 4 / 7); // 2·2/(2·2 + 1 + 2)
  close(c0.fpPer1000Images, 250);
  // Wilson 2/3 = [0.2076596, 0.9385081]; 2/4 = [0.1500390, 0.8499610] for recall and miss rate alike.
  close(c0.intervals.precision.lo, 0.2076596);
  close(c0.intervals.precision.hi, 0.9385081);
  close(c0.intervals.recall.lo, 0.1500390);
  close(c0.intervals.missRate.hi, 0.8499610);
  // 1 false alarm in 4 images: 1000·[0.0253178, 5.5716434]/4.
  close(c0.intervals.fpPer1000Images.lo, 6.3294520, 1e-5);
  close(c0.intervals.fpPer1000Images.hi, 1392.9108477, 1e-4);
  assert.deepEqual([...c0.scored.scores], [0.9, 0.8, 0.7, 0.6, 0.5]);
  assert.deepEqual([...c0.scored.tp], [1, 0, 1, 1, 0]);
  // IoU .50–.60: T F T T F → 63.5/101. At .65 and .70 the 0.62 box fails: T F T F F → envelope 1, ⅔, ⅔ →
  // (26 + 25·⅔)/101 = 0.4224422. From .75 the 0.72 box fails too: T F F F F → 26/101.
  close(c0.ap50, 63.5 / 101, 1e-12);
  const expected = [63.5, 63.5, 63.5, 26 + 50 / 3, 26 + 50 / 3, 26, 26, 26, 26, 26].map((x) => x / 101);
  c0.apByIou.forEach((ap, t) => close(ap, expected[t]!, 1e-12, `AP@${IOU_LADDER[t]}`));
  // Mean: (3·63.5 + 2·42.667 + 5·26)/1010 = 0.4018152.
  close(c0.ap5095, 0.4018152);
  assert.equal(all.classId, AGGREGATE_CLASS_ID);
  close(all.ap5095, c0.ap5095, 1e-12);
  // The same kept set through countAtThreshold.
  assert.deepEqual(countAtThreshold(c0.scored, 0.65), { kept: 3, tp: 2 });
});

test('evaluateClasses: perfect predictions give AP 1 at every IoU; all misses give AP 0 and recall 0', () => {
  const g = [box(0, 10, 10, 50, 50), box(1, 60, 60, 90, 90)];
  const perfect = Array.from({ length: 2 }, () => ({ gts: g, dets: g.map((b) => ({ ...b, score: 0.9 })) }));
  const [p0, p1, pa] = evaluateClasses(perfect, 2, { thresholds: [0.5, 0.5] });
  for (const r of [p0!, p1!, pa!]) {
    assert.deepEqual([r.ap50, r.ap5095, r.precision, r.recall, r.fp, r.fn], [1, 1, 1, 1, 0, 0]);
    // No false alarm in 2 images: up to 1000·3.6888795/2 per 1000.
    close(r.intervals.fpPer1000Images.hi, 1844.4397, 1e-3);
  }
  const misses = Array.from({ length: 5 }, () => ({ gts: [box(0, 0, 0, 10, 10), box(0, 20, 20, 30, 30)], dets: [] }));
  const [m0, m1] = evaluateClasses(misses, 2, { thresholds: [0.5, 0.5] });
  assert.deepEqual([m0!.ap50, m0!.ap5095, m0!.recall, m0!.missRate, m0!.fn], [0, 0, 0, 1, 10]);
  assert.ok(Number.isNaN(m0!.precision), 'no detection: precision undefined');
  // Miss rate 10/10: Wilson [10/13.841459, 1].
  close(m0!.intervals.missRate.lo, 0.7224672);
  assert.ok(Number.isNaN(m1!.ap50) && Number.isNaN(m1!.recall), 'a class without ground truth has no AP or recall');
});

test('evaluateClasses: a duplicate on one object is a false positive; a class mismatch is an FP and a miss', () => {
  const g = box(0, 0, 0, 10, 10);
  const [d0] = evaluateClasses([{ gts: [g], dets: [det(0, 0.9, 0, 0, 10, 10), det(0, 0.8, 0, 0, 10, 9)] }], 1, { thresholds: [0.5] });
  assert.deepEqual([d0!.tp, d0!.fp, d0!.fn, d0!.precision], [1, 1, 0, 0.5]);
  // The duplicate scores lower than the hit, so it never lowers the envelope before full recall: AP 1.
  assert.equal(d0!.ap50, 1);
  // Above 0.85 only the hit is kept.
  const [k0] = evaluateClasses([{ gts: [g], dets: [det(0, 0.9, 0, 0, 10, 10), det(0, 0.8, 0, 0, 10, 9)] }], 1, { thresholds: [0.85] });
  assert.deepEqual([k0!.tp, k0!.fp], [1, 0]);

  const [x0, x1, xa] = evaluateClasses([{ gts: [g], dets: [det(1, 0.9, 0, 0, 10, 10)] }], 2, { thresholds: [0.5, 0.5] });
  assert.deepEqual([x0!.tp, x0!.fp, x0!.fn, x0!.ap50], [0, 0, 1, 0]);
  assert.deepEqual([x1!.tp, x1!.fp, x1!.fn, x1!.precision], [0, 1, 0, 0]);
  assert.deepEqual([xa!.tp, xa!.fp, xa!.fn, xa!.ap50], [0, 1, 1, 0], 'mAP over class 0 only');
});

test('evaluateClasses: a detection over two boxes takes the better one, so the next detection still scores', () => {
  // Greedy by IoU: .9 [4,14] takes B (0.82, not A at 0.43); .8 [0,10] then takes A. Both true positives.
  const im = { gts: [box(0, 0, 0, 10, 10), box(0, 5, 0, 15, 10)], dets: [det(0, 0.9, 4, 0, 14, 10), det(0, 0.8, 0, 0, 10, 10)] };
  const [c0] = evaluateClasses([im], 1, { thresholds: [0.5] });
  assert.deepEqual([c0!.tp, c0!.fp, c0!.fn, c0!.ap50], [2, 0, 0, 1]);
});

test('evaluateClasses: empty images count as exposure only; the aggregate row sums classes', () => {
  const empty = { gts: [], dets: [] };
  const im = { gts: [box(0, 0, 0, 10, 10)], dets: [det(0, 0.9, 0, 0, 10, 10), det(0, 0.7, 50, 50, 60, 60)] };
  const rows = evaluateClasses([empty, im, empty, empty], 2, { thresholds: [0.5, 0.5] });
  assert.equal(rows.length, 3);
  const [c0, c1, all] = rows;
  assert.deepEqual([c0!.images, c0!.imagesWithObjects, c0!.tp, c0!.fp, c0!.fpPer1000Images], [4, 1, 1, 1, 250]);
  assert.deepEqual([c1!.groundTruth, c1!.detections, c1!.fp, c1!.fpPer1000Images], [0, 0, 0, 0]);
  assert.deepEqual([all!.images, all!.imagesWithObjects, all!.groundTruth, all!.tp, all!.fp, all!.fn, all!.ap50], [4, 1, 1, 1, 1, 0, 1]);
  assert.ok(Number.isNaN(all!.threshold));
  const none = evaluateClasses([], 1, { thresholds: [0.5] });
  assert.ok(Number.isNaN(none[0]!.ap50) && Number.isNaN(none[0]!.fpPer1000Images));
});

test('evaluateClasses: a class without a finite threshold is a usage error', () => {
  assert.throws(() => evaluateClasses([], 2, { thresholds: [0.5] }), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_USAGE') && /class 1/.test(e.message));
});

test('datasetMetrics keeps its VOC semantics beside the COCO ones', () => {
  const r = datasetMetrics(knownCurve(), 1, 0.65);
  assert.deepEqual([r.tp, r.fp, r.fn], [2, 1, 2]);
  close(r.map50, 0.625, 1e-12);
});
