import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { noConditionsText } from '../../../agent/readiness/report-text.js';
import { agentConfig } from '../../../agent/config.js';
import {
  candidateThresholds,
  classConfYaml,
  thresholdText,
  parseBaseRates,
  prCurve,
  prevalenceWeights,
  recommendThresholds,
  reweightedPrecision,
  roundThresholdDown,
  weightedPrecision,
} from '../../../agent/readiness/base-rates.js';
import type { ScoredDetections } from '../../../agent/readiness/metrics.js';
import { isDriftlineError } from '../../../lib/errors.js';

const NAMES = ['washer', 'bracket', 'scratch', 'missing_notch'];

function close(actual: number, expected: number, tol = 1e-6, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} != ${expected} (±${tol})`);
}

function scored(pairs: [number, 0 | 1][]): ScoredDetections {
  return { scores: Float64Array.from(pairs, (p) => p[0]), tp: Uint8Array.from(pairs, (p) => p[1]) };
}

test('prevalenceWeights: given shares fixed, the rest renormalised, tp and fp weights by hand', () => {
  // Evaluation objects 600/300/50/50 → shares .6/.3/.05/.05. Production: scratch = missing_notch = .01;
  // washer and bracket share the remaining .98 as 2:1 → .653333 and .326667.
  const p = prevalenceWeights([600, 300, 50, 50], new Map([[2, 0.01], [3, 0.01]]));
  p.evaluation.forEach((e, c) => close(e, [0.6, 0.3, 0.05, 0.05][c]!));
  p.production.forEach((e, c) => close(e, [0.98 * (2 / 3), 0.98 / 3, 0.01, 0.01][c]!));
  // scratch: w_tp = .01/.05 = 0.2, w_fp = .99/.95 = 1.0421053; washer: 1.0888889 and .346667/.4 = 0.8666667.
  close(p.weights[2]!.tp, 0.2);
  close(p.weights[2]!.fp, 1.0421053);
  close(p.weights[0]!.tp, 1.0888889);
  close(p.weights[0]!.fp, 0.8666667);
  // A class absent from the evaluation set cannot be reweighted.
  const q = prevalenceWeights([10, 0], new Map());
  assert.ok(Number.isNaN(q.weights[1]!.tp));
  assert.deepEqual(q.weights[0], { tp: 1, fp: 1 }, 'the only class: no other class to shift');
});

test('weightedPrecision and its interval: scratch 45 tp / 5 fp at 5% → 1% is 19/30', () => {
  const w = { tp: 0.2, fp: 0.99 / 0.95 };
  // 45·0.2 = 9; 5·1.0421053 = 5.2105263; 9/14.2105263 = 0.6333333 (= 8.55/13.5).
  close(weightedPrecision(45, 5, w), 19 / 30, 1e-12);
  close(weightedPrecision(45, 5), 0.9, 1e-12);
  // Wilson 45/50 = [0.7863977, 0.9565242], mapped by f(p) = 0.2p/(0.2p + 1.0421053(1 − p)):
  // f(0.7863977) = 0.1572795/0.3798756 = 0.4140290; f(0.9565242) = 0.1913048/0.2366112 = 0.8085199.
  const r = reweightedPrecision(45, 5, w);
  close(r.precision, 19 / 30, 1e-12);
  close(r.interval.lo, 0.4140290);
  close(r.interval.hi, 0.8085199);
  assert.deepEqual(reweightedPrecision(0, 0, w).interval, { lo: 0, hi: 1 });
});

test('parseBaseRates: names to class ids, whitespace and empty entries tolerated', () => {
  assert.deepEqual([...parseBaseRates('scratch=0.01,missing_notch=0.01', NAMES)], [[2, 0.01], [3, 0.01]]);
  assert.deepEqual([...parseBaseRates(' washer = 0.5 , ', NAMES)], [[0, 0.5]]);
  assert.equal(parseBaseRates('', NAMES).size, 0);
});

test('parseBaseRates: unknown class, rate outside (0,1), sum over 1, malformed and repeated entries', () => {
  const fails = (spec: string, re: RegExp): void =>
    assert.throws(() => parseBaseRates(spec, NAMES), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_USAGE') && re.test(e.message), spec);
  fails('rust=0.1', /unknown class "rust".*washer, bracket, scratch, missing_notch/);
  fails('scratch=0', /strictly between 0 and 1, got "0"/);
  fails('scratch=1', /strictly between 0 and 1/);
  fails('scratch=-0.2', /strictly between 0 and 1/);
  fails('scratch=abc', /strictly between 0 and 1, got "abc"/);
  fails('scratch=', /strictly between 0 and 1/);
  fails('scratch=0.6,washer=0.5', /sum to 1.1, more than 1/);
  fails('scratch', /not class=rate/);
  fails('scratch=0.1,scratch=0.2', /given twice/);
});

/** Ranked .9 T, .8 F, .8 T, .7 T, .5 F over 4 objects. */
const CURVE = scored([[0.9, 1], [0.8, 0], [0.8, 1], [0.7, 1], [0.5, 0]]);

test('prCurve: one point per distinct score, at evaluation and production weights', () => {
  const pts = prCurve(CURVE, 4, { tp: 0.2, fp: 1 });
  assert.deepEqual(pts.map((p) => [p.threshold, p.tp, p.fp]), [[0.9, 1, 0], [0.8, 2, 1], [0.7, 3, 1], [0.5, 3, 2]]);
  pts.forEach((p, i) => close(p.precision, [1, 2 / 3, 0.75, 0.6][i]!));
  pts.forEach((p, i) => close(p.recall, [0.25, 0.5, 0.75, 0.75][i]!));
  // 0.2·tp/(0.2·tp + fp): 1, 0.4/1.4, 0.6/1.6, 0.6/2.6.
  pts.forEach((p, i) => close(p.productionPrecision, [1, 0.4 / 1.4, 0.375, 0.6 / 2.6][i]!));
  assert.equal(prCurve(CURVE, 4)[1]!.productionPrecision, 2 / 3);
});

test('candidateThresholds: midway between distinct scores, the lowest midway to the floor, none below it', () => {
  const c = candidateThresholds(Float64Array.of(0.9, 0.8, 0.8, 0.7, 0.5, 0.03));
  [0.85, 0.75, 0.6, 0.265].forEach((t, i) => close(c[i]!, t, 1e-12));
  assert.equal(c.length, 4, 'a score under the floor is never kept');
  [0.48, 0.055].forEach((t, i) => close(candidateThresholds(Float64Array.of(0.9, 0.06))[i]!, t, 1e-12));
  assert.deepEqual(candidateThresholds(new Float64Array(0)), []);
});

test('recommendThresholds: the highest recall meeting the targets, then precision; F1 when nothing meets them', () => {
  // Candidates over 100 images: .85 (R .25, P 1, 0/1000), .75 (R .5, P ⅔, 10), .6 (R .75, P .75, 10), .275 (R .75, P .6, 20).
  const pick = (target: Parameters<typeof recommendThresholds>[3], w?: { tp: number; fp: number }) =>
    recommendThresholds([CURVE], [4], 100, target, w ? [w] : undefined)[0]!;
  const fa = pick({ maxFalseAlarmsPer1000: 15 });
  close(fa.threshold, 0.6, 1e-12);
  assert.deepEqual([fa.met, fa.tp, fa.fp, fa.fn, fa.fpPer1000Images], [true, 3, 1, 1, 10]);
  // minRecall .75: .6 and .275 tie on recall; .6 has the better precision.
  close(pick({ minRecall: 0.75 }).threshold, 0.6, 1e-12);
  // minRecall .9 cannot be met: F1 .4, .571, .75, .667 → .6, marked unmet.
  const none = pick({ minRecall: 0.9, maxFalseAlarmsPer1000: 100 });
  close(none.threshold, 0.6, 1e-12);
  assert.deepEqual([none.met, none.failed], [false, ['minRecall']]);
  // minPrecision .5 at evaluation prevalence: .85, .75, .6 qualify → .6. At production weights (0.2, 1)
  // precision is 1, .286, .375, .231: only .85 qualifies.
  close(pick({ minPrecision: 0.5 }).threshold, 0.6, 1e-12);
  const prod = pick({ minPrecision: 0.5 }, { tp: 0.2, fp: 1 });
  close(prod.threshold, 0.85, 1e-12);
  assert.deepEqual([prod.recall, prod.productionPrecision, prod.threshold], [0.25, 1, 0.85]);
});

test('recommendThresholds: candidates as the config holds them (2 decimals, down), judged there; no detections → NaN', () => {
  // .855 T, .851 F: the midpoint .853 would keep one, but the config holds .85, which keeps both:
  // no threshold that can ship meets the target, and the choice says so. (.45, from the midpoint to
  // the floor, keeps the same two: of equals, the lower.)
  const r = recommendThresholds([scored([[0.855, 1], [0.851, 0]])], [1], 10, { maxFalseAlarmsPer1000: 0 })[0]!;
  close(r.threshold, 0.45, 1e-12);
  assert.deepEqual([r.met, r.failed, r.fp, r.recall], [false, ['maxFalseAlarmsPer1000'], 1, 1]);
  // A review's case: 20 true from .99 down to .418, two false at .415 and .414. The midpoint below
  // .418 rounds to .41 and keeps the false ones; .42 (from a higher midpoint) meets both targets.
  const trues = Array.from({ length: 20 }, (_, i) => [0.99 - (i * (0.99 - 0.418)) / 19, 1] as [number, 1]);
  const g = recommendThresholds([scored([...trues, [0.415, 0], [0.414, 0]])], [20], 100, { minPrecision: 0.95, minRecall: 0.9 })[0]!;
  assert.deepEqual([g.met, g.fp], [true, 0]);
  assert.ok(g.threshold >= 0.42 && g.recall >= 0.9, `${g.threshold}: recall ${g.recall}`);
  const empty = recommendThresholds([scored([])], [3], 10, { minRecall: 0.5 })[0]!;
  assert.ok(Number.isNaN(empty.threshold));
  assert.deepEqual([empty.met, empty.failed, empty.tp, empty.fn], [false, ['minRecall'], 0, 3]);
});

test('classConfYaml: the agent config fragment, rounded down, NaN left out, accepted by agentConfig', () => {
  assert.equal(roundThresholdDown(0.29), 0.29, '0.29·100 = 28.999…: not 0.28');
  const yaml = classConfYaml([0.4189, 0.29, Number.NaN, 0.05], NAMES);
  assert.equal(yaml, 'model:\n  classConf:\n    washer: 0.41\n    bracket: 0.29\n    missing_notch: 0.05\n');
  const { config } = agentConfig(parse(`${yaml}cameras:\n  - name: line\n    source:\n      kind: synthetic\n`), {});
  assert.deepEqual(config.model.classConf, { washer: 0.41, bracket: 0.29, missing_notch: 0.05 });
  assert.equal(classConfYaml([Number.NaN], NAMES), 'model:\n  classConf: {}\n');
  assert.equal(classConfYaml([0.5], ['on']), 'model:\n  classConf:\n    "on": 0.50\n');
});

test('report text: a threshold as it is used, and an empty conditions section that says why', () => {
  assert.deepEqual([0.25, 0.985, 0.5, 0.12345, 0.00001, Number.NaN].map(thresholdText), ['0.25', '0.985', '0.50', '0.12345', '0.00001', '–']);
  assert.equal(noConditionsText([]), 'No condition columns.');
  assert.equal(noConditionsText(['gain', 'blur']), 'Every condition column (gain, blur) has one value in this set: nothing to compare.');
});
