/**
 * Precision at production prevalence, PR curves, threshold recommendation and the config fragment
 * that deploys it.
 *
 * Why: an evaluation set is usually enriched in defects (a scratch is 5% of the labelled objects,
 * 1% on the line). Recall does not depend on how common a class is, but precision does: the same
 * detector, at the same threshold, raises proportionally more false alarms per true defect when the
 * defect is rarer. A readiness report that quotes evaluation precision for a rare class overstates
 * what the line will see.
 *
 * Method (prior-shift reweighting, per class c):
 * - p_eval(c) = the share of ground-truth objects of class c among all objects of the evaluation set.
 * - p_prod(c) = the production share, given per class; classes not given share what is left,
 *   1 − Σ given, in proportion to their evaluation shares.
 * - True positives of c are objects of c: they scale by w_tp = p_prod / p_eval.
 * - False positives of c come from objects of the other classes (and the background around them):
 *   they scale by w_fp = (1 − p_prod) / (1 − p_eval).
 * - precision_prod = tp·w_tp / (tp·w_tp + fp·w_fp); recall is unchanged (it is conditional on the
 *   object being of class c). When p_eval = 0 nothing can be scaled (weights NaN, precision NaN);
 *   when p_eval = 1 every false positive is background and w_fp is taken as 1.
 * - Interval: precision_prod = f(precision_eval) with f(p) = p·w_tp / (p·w_tp + (1 − p)·w_fp),
 *   increasing in p, so the Wilson interval of the evaluation counts (tp of tp + fp) is mapped
 *   through f. Its coverage is Wilson's, treating the prevalences as exact (their own uncertainty is
 *   not propagated). This plays the role of "Wilson on effective counts" without choosing an
 *   effective n.
 *
 * Threshold rule (recommendThresholds): candidates sit midway between adjacent distinct scores (the
 * lowest one midway between the lowest score and the floor), never below the floor (default 0.05),
 * so that a threshold chosen on one seed does not sit on a score of that seed. Among candidates that
 * meet every target given, the highest recall wins, then the highest (production) precision, then the
 * lower threshold (two that keep the same detections here: the lower keeps more of what new data
 * brings near the border, recall first as the rule goes). If none meets them all, the candidate with
 * the best F1 at production weights (then recall, then the lower threshold) is chosen and marked
 * met: false with the targets it fails. False
 * alarms per 1,000 images are counted at evaluation prevalence (the reweighting only fixes ratios,
 * not how many objects a production image holds); minPrecision is checked against production
 * precision when weights are given.
 *
 * Each candidate is rounded DOWN to 2 decimals, as the config holds it (a lower threshold keeps
 * every detection the midpoint kept), and judged there: the choice is among thresholds that can
 * ship, and `met` says whether the one that ships meets the targets.
 */
import { driftlineError } from '../../lib/errors.js';
import { wilson, Z95, type Interval } from './intervals.js';
import { countAtThreshold, type ScoredDetections } from './metrics.js';

export interface ClassWeights {
  /** Multiplies true positives: p_prod / p_eval. */
  readonly tp: number;
  /** Multiplies false positives: (1 − p_prod) / (1 − p_eval). */
  readonly fp: number;
}

export interface Prevalence {
  /** Share of ground-truth objects per class in the evaluation set. */
  readonly evaluation: readonly number[];
  /** Share per class in production (given, or the rest renormalised). */
  readonly production: readonly number[];
  readonly weights: readonly ClassWeights[];
}

/** Evaluation and production shares and the weights that map one to the other (see the header). */
export function prevalenceWeights(groundTruth: ArrayLike<number>, production: ReadonlyMap<number, number>): Prevalence {
  const n = groundTruth.length;
  let total = 0;
  for (let c = 0; c < n; c++) total += groundTruth[c]!;
  const evaluation = Array.from({ length: n }, (_, c) => (total > 0 ? groundTruth[c]! / total : 0));
  let given = 0;
  let restEval = 0;
  for (let c = 0; c < n; c++) {
    const p = production.get(c);
    if (p === undefined) restEval += evaluation[c]!;
    else given += p;
  }
  const prod = evaluation.map((e, c) => production.get(c) ?? (restEval > 0 ? (e / restEval) * Math.max(0, 1 - given) : 0));
  const weights = evaluation.map((e, c) => ({
    tp: e > 0 ? prod[c]! / e : Number.NaN,
    fp: e <= 0 ? Number.NaN : e >= 1 ? 1 : (1 - prod[c]!) / (1 - e),
  }));
  return { evaluation, production: prod, weights };
}

/** Precision after scaling tp and fp by the weights (weights absent: evaluation precision). */
export function weightedPrecision(tp: number, fp: number, w?: ClassWeights): number {
  if (tp + fp <= 0) return Number.NaN;
  if (!w) return tp / (tp + fp);
  const t = tp * w.tp;
  const f = fp * w.fp;
  return t + f > 0 ? t / (t + f) : Number.NaN;
}

/** Production precision with its interval: the Wilson interval of tp/(tp+fp) mapped through the reweighting. */
export function reweightedPrecision(tp: number, fp: number, w: ClassWeights, z = Z95): { precision: number; interval: Interval } {
  const ci = wilson(tp, tp + fp, z);
  const f = (p: number): number => weightedPrecision(p, 1 - p, w);
  return { precision: weightedPrecision(tp, fp, w), interval: tp + fp > 0 ? { lo: f(ci.lo), hi: f(ci.hi) } : { lo: 0, hi: 1 } };
}

/**
 * Parses `scratch=0.01,missing_notch=0.01` into production shares by class id. Empty entries are
 * skipped. Throws DRIFTLINE_ERR_USAGE for an entry that is not name=rate, an unknown class, a class
 * given twice, a rate outside (0, 1), or rates summing to more than 1.
 */
export function parseBaseRates(spec: string, classNames: readonly string[]): Map<number, number> {
  const out = new Map<number, number>();
  let sum = 0;
  for (const raw of spec.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq < 0) throw usage(`base rates: ${JSON.stringify(entry)} is not class=rate (e.g. scratch=0.01)`);
    const name = entry.slice(0, eq).trim();
    const text = entry.slice(eq + 1).trim();
    const classId = classNames.indexOf(name);
    if (classId < 0) throw usage(`base rates: unknown class ${JSON.stringify(name)}; the model's classes are ${classNames.join(', ')}`);
    if (out.has(classId)) throw usage(`base rates: class ${name} is given twice`);
    const rate = text === '' ? Number.NaN : Number(text);
    if (!(rate > 0 && rate < 1)) throw usage(`base rates: the rate of ${name} must be a number strictly between 0 and 1, got ${JSON.stringify(text)}`);
    out.set(classId, rate);
    sum += rate;
  }
  if (sum > 1 + 1e-9) throw usage(`base rates: the rates sum to ${+sum.toFixed(6)}, more than 1 (they are shares of all objects)`);
  return out;
}

function usage(reason: string): Error {
  return driftlineError('DRIFTLINE_ERR_USAGE', { reason });
}

export interface PrPoint {
  /** Detections scoring ≥ threshold are kept. */
  readonly threshold: number;
  readonly tp: number;
  readonly fp: number;
  readonly precision: number;
  readonly recall: number;
  /** Precision at production prevalence (equal to precision without weights). */
  readonly productionPrecision: number;
}

/** One point per distinct score, highest first: what keeping every detection scoring ≥ it gives. */
export function prCurve(scored: ScoredDetections, nGt: number, weights?: ClassWeights): PrPoint[] {
  const points: PrPoint[] = [];
  const { scores } = scored;
  let tp = 0;
  for (let i = 0; i < scores.length; i++) {
    tp += scored.tp[i]!;
    if (i + 1 < scores.length && scores[i + 1] === scores[i]) continue;
    const fp = i + 1 - tp;
    points.push({
      threshold: scores[i]!,
      tp,
      fp,
      precision: tp / (i + 1),
      recall: nGt > 0 ? tp / nGt : Number.NaN,
      productionPrecision: weightedPrecision(tp, fp, weights),
    });
  }
  return points;
}

export interface ThresholdTarget {
  readonly maxFalseAlarmsPer1000?: number;
  readonly minRecall?: number;
  /** Checked against production precision when weights are given. */
  readonly minPrecision?: number;
}

export type TargetName = keyof ThresholdTarget;

/** The metrics one threshold gives on the evaluation set. */
export interface OperatingPoint {
  readonly threshold: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly precision: number;
  readonly recall: number;
  readonly productionPrecision: number;
  readonly fpPer1000Images: number;
  /** F1 from production precision and recall. */
  readonly productionF1: number;
}

export interface ThresholdChoice extends OperatingPoint {
  readonly classId: number;
  /** Every target given holds at the threshold (2 decimals: the one the agent will run at). */
  readonly met: boolean;
  /** The targets that fail at the threshold (empty when met). */
  readonly failed: readonly TargetName[];
}

/** Per class, the threshold the targets call for, by the rule in the header. NaN threshold: no detection at or above the floor. */
export function recommendThresholds(
  perClassScored: readonly ScoredDetections[],
  nGt: ArrayLike<number>,
  images: number,
  target: ThresholdTarget,
  weights?: readonly ClassWeights[],
  floor = 0.05,
): ThresholdChoice[] {
  return perClassScored.map((scored, classId) => {
    const ctx: PointContext = { nGt: nGt[classId] ?? 0, images, weights: weights?.[classId] };
    // Each candidate as the config will hold it (2 decimals, rounded down), judged there: what ships
    // is the rounded threshold, so the choice is made among those.
    const grid = [...new Set(candidateThresholds(scored.scores, floor).map(roundThresholdDown))].filter((t) => t >= floor);
    const candidates = grid.map((t) => pointAt(scored, t, ctx));
    const meeting = candidates.filter((p) => failedTargets(p, target).length === 0);
    const chosen = meeting.length ? best(meeting, byRecallThenPrecision) : best(candidates, byF1);
    const point = chosen ?? pointAt(scored, Number.NaN, ctx);
    const failed = failedTargets(point, target);
    return { classId, ...point, met: failed.length === 0, failed };
  });
}

/** Midpoints between adjacent distinct scores ≥ floor (the lowest: midway to the floor), highest first. */
export function candidateThresholds(scores: Float64Array, floor = 0.05): number[] {
  const out: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (s < floor) break;
    if (i + 1 < scores.length && scores[i + 1] === s) continue;
    const lower = i + 1 < scores.length ? scores[i + 1]! : floor;
    out.push(Math.max(floor, (s + lower) / 2));
  }
  return out;
}

interface PointContext {
  readonly nGt: number;
  readonly images: number;
  readonly weights: ClassWeights | undefined;
}

function pointAt(scored: ScoredDetections, threshold: number, ctx: PointContext): OperatingPoint {
  const { kept, tp } = Number.isNaN(threshold) ? { kept: 0, tp: 0 } : countAtThreshold(scored, threshold);
  const fp = kept - tp;
  const recall = ctx.nGt > 0 ? tp / ctx.nGt : Number.NaN;
  const productionPrecision = weightedPrecision(tp, fp, ctx.weights);
  return {
    threshold,
    tp,
    fp,
    fn: ctx.nGt - tp,
    precision: kept > 0 ? tp / kept : Number.NaN,
    recall,
    productionPrecision,
    fpPer1000Images: ctx.images > 0 ? (1000 * fp) / ctx.images : Number.NaN,
    productionF1: productionPrecision + recall > 0 ? (2 * productionPrecision * recall) / (productionPrecision + recall) : Number.NaN,
  };
}

/** The targets a point fails; a NaN metric fails its target. */
export function failedTargets(p: OperatingPoint, t: ThresholdTarget): TargetName[] {
  const failed: TargetName[] = [];
  if (t.maxFalseAlarmsPer1000 !== undefined && !(p.fpPer1000Images <= t.maxFalseAlarmsPer1000)) failed.push('maxFalseAlarmsPer1000');
  if (t.minRecall !== undefined && !(p.recall >= t.minRecall)) failed.push('minRecall');
  if (t.minPrecision !== undefined && !(p.productionPrecision >= t.minPrecision)) failed.push('minPrecision');
  return failed;
}

/** NaN sorts below every number. */
const key = (x: number): number => (Number.isNaN(x) ? Number.NEGATIVE_INFINITY : x);

function byRecallThenPrecision(a: OperatingPoint, b: OperatingPoint): number {
  return key(b.recall) - key(a.recall) || key(b.productionPrecision) - key(a.productionPrecision) || a.threshold - b.threshold;
}

function byF1(a: OperatingPoint, b: OperatingPoint): number {
  return key(b.productionF1) - key(a.productionF1) || key(b.recall) - key(a.recall) || a.threshold - b.threshold;
}

/** The first point under `order` (a comparator where negative means a ranks first). */
function best(points: readonly OperatingPoint[], order: (a: OperatingPoint, b: OperatingPoint) => number): OperatingPoint | undefined {
  let top: OperatingPoint | undefined;
  for (const p of points) if (!top || order(p, top) < 0) top = p;
  return top;
}

/** Rounds down to 2 decimals (the 1e-9 absorbs binary error, so 0.29 stays 0.29). */
export function roundThresholdDown(t: number): number {
  return Math.floor(t * 100 + 1e-9) / 100;
}

const BARE_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const YAML_WORDS = /^(true|false|null|yes|no|on|off|y|n)$/i;

/** A threshold as the report prints it: 2 decimals, or every digit it has (a given 0.985 is not shown as 0.98, nor 0.00001 as 0). */
export function thresholdText(t: number): string {
  if (!Number.isFinite(t)) return '–';
  const two = t.toFixed(2);
  return Number(two) === t ? two : String(t);
}

/**
 * The agent config fragment for per-class thresholds, by class name (agent/config.ts model.classConf):
 * `model:\n  classConf:\n    washer: 0.41\n`. `rounding`: down to 2 decimals (recommended
 * thresholds), or as given (`exact`: the values the report's metrics were counted at). A class whose
 * threshold is NaN is left out, so model.conf applies to it.
 */
export function classConfYaml(thresholds: ArrayLike<number>, classNames: readonly string[], rounding: 'down' | 'exact' = 'down'): string {
  const lines: string[] = [];
  for (let c = 0; c < classNames.length && c < thresholds.length; c++) {
    const t = thresholds[c]!;
    if (!Number.isFinite(t)) continue;
    const name = classNames[c]!;
    const k = BARE_KEY.test(name) && !YAML_WORDS.test(name) ? name : JSON.stringify(name);
    lines.push(`    ${k}: ${rounding === 'down' ? roundThresholdDown(t).toFixed(2) : thresholdText(t)}`);
  }
  return lines.length ? `model:\n  classConf:\n${lines.join('\n')}\n` : 'model:\n  classConf: {}\n';
}
