import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONFIDENCE_BINS, dominantFailure, FailureCounter, topScoreHistogram } from '../../../agent/readiness/failures.js';

const box = (classId: number, x: number, score = 1) => ({ classId, x1: x, y1: 0, x2: x + 10, y2: 10, score });
// Model classes 0 good, 1 defect; ground-truth class 2 is held out (the model has no such class).
const modelClassOf = (c: number): number => (c < 2 ? c : -1);

test('each object is correct, silent (a confident wrong class) or low-confidence (nothing confident), at per-class thresholds', () => {
  const f = new FailureCounter([0.5, 0.3], modelClassOf);
  const outcomes = f.add(
    [box(0, 0), box(1, 20), box(1, 40), box(0, 60), box(1, 80)],
    [
      box(0, 0, 0.9), // correct
      box(0, 20, 0.8), // a defect called good, confidently: silent
      box(1, 40, 0.2), // below the defect threshold 0.3, and nothing else: low-confidence
      box(1, 60, 0.35), box(0, 60, 0.6), // right class confident too: correct wins over the wrong claim
      box(0, 80, 0.45), // good below its own 0.5: not confident; low-confidence
    ],
  );
  assert.deepEqual(outcomes, ['correct', 'silent', 'low-confidence', 'correct', 'low-confidence']);
  const t = f.tally();
  assert.deepEqual([t.objects, t.correct, t.silent, t.lowConfidence], [5, 2, 1, 2]);
  assert.deepEqual(t.silentAs, [1, 0], 'the silent one was claimed as class 0');
  // Best overlapping scores 0.9, 0.8, 0.2, 0.6, 0.45 -> bins 9, 8, 2, 6, 4.
  assert.equal(t.bestScore.length, CONFIDENCE_BINS);
  assert.deepEqual([t.bestScore[9], t.bestScore[8], t.bestScore[2], t.bestScore[6], t.bestScore[4]], [1, 1, 1, 1, 1]);
  assert.ok(Math.abs(t.meanBestScore - (0.9 + 0.8 + 0.2 + 0.6 + 0.45) / 5) < 1e-12);
});

test('a held-out object can only be silent or low-confidence; a detection off the object (IoU < 0.5) does not count', () => {
  const f = new FailureCounter([0.5, 0.5], modelClassOf);
  const outcomes = f.add([box(2, 0), box(2, 30)], [box(1, 0, 0.95), box(1, 36, 0.99)]);
  assert.deepEqual(outcomes, ['silent', 'low-confidence']);
  assert.equal(dominantFailure(f.tally()), 'silent');
  const g = new FailureCounter([0.5, 0.5], modelClassOf);
  g.add([box(2, 0), box(2, 30)], [box(1, 0, 0.3)]);
  assert.equal(dominantFailure(g.tally()), 'low-confidence');
  assert.equal(dominantFailure(new FailureCounter([0.5], modelClassOf).tally()), 'none');
});

test('top-score histogram: one count per image, an image without detections in the lowest bin', () => {
  assert.deepEqual(topScoreHistogram([[box(0, 0, 0.95), box(0, 20, 0.3)], [], [box(1, 0, 0.5)]]), [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
});

test('the best score comes from every detection down to the floor, the outcome from what the agent reports', () => {
  const f = new FailureCounter([0.5, 0.5], modelClassOf);
  // Reported: nothing on the object. Below the thresholds: a 0.35 of the right class.
  assert.deepEqual(f.add([box(0, 0)], [], [box(0, 0, 0.35)]), ['low-confidence']);
  const t = f.tally();
  assert.equal(t.bestScore[3], 1, 'the 0.35 shows in the histogram');
  assert.ok(Math.abs(t.meanBestScore - 0.35) < 1e-12);
});
