/**
 * Detection quality metrics. Two families live here:
 *
 * - The model card's (VOC): greedy IoU matching per image, precision and recall at one operating
 *   threshold, all-point AP at IoU .5 (as VOC 2010+ and Ultralytics' mAP@0.5): `datasetMetrics`.
 * - The readiness assessment's (COCO): matching at the IoU ladder .50:.05:.95 in one pass, 101-point
 *   interpolated AP, and per-class operating points at per-class thresholds with intervals
 *   (`evaluateClasses`), so that `driftline evaluate` reports numbers comparable with COCOeval's
 *   and says how sure each one is.
 *
 * Both are class-aware: a detection only matches a ground-truth box of its class. Pure functions, no I/O.
 */
import { driftlineError } from '../../lib/errors.js';
import { poisson, twoSidedConfidence, wilson, Z95, type Interval } from './intervals.js';

export interface Box {
  readonly classId: number;
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
}

export interface ScoredBox extends Box {
  readonly score: number;
}

export function iou(a: Box, b: Box): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

export interface ImageMatch {
  /** One entry per detection, highest score first: true when it matched a ground-truth box. */
  readonly detections: { readonly score: number; readonly classId: number; readonly tp: boolean }[];
  /** Ground-truth boxes left unmatched, by class. */
  readonly missed: Box[];
}

/**
 * Greedy matching: each detection, best score first (ties keep input order), takes the unmatched
 * same-class box of highest IoU >= iouThr (ties: the lower index).
 */
export function matchImage(gts: readonly Box[], dets: readonly ScoredBox[], iouThr = 0.5): ImageMatch {
  const used = new Array<boolean>(gts.length).fill(false);
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const detections = sorted.map((d) => {
    let best = -1;
    let bestIou = -1;
    for (let j = 0; j < gts.length; j++) {
      if (used[j] || gts[j]!.classId !== d.classId) continue;
      const v = iou(d, gts[j]!);
      if (v >= iouThr && v > bestIou) {
        bestIou = v;
        best = j;
      }
    }
    if (best >= 0) used[best] = true;
    return { score: d.score, classId: d.classId, tp: best >= 0 };
  });
  return { detections, missed: gts.filter((_, j) => !used[j]) };
}

export interface ClassMetrics {
  readonly classId: number;
  readonly groundTruth: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly precision: number;
  readonly recall: number;
  readonly ap50: number;
}

export interface DatasetMetrics {
  readonly perClass: ClassMetrics[];
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly precision: number;
  readonly recall: number;
  /** Mean of per-class AP over classes with ground truth. */
  readonly map50: number;
}

/** Average precision from detections (score, tp) and the number of ground-truth boxes. */
export function averagePrecision(dets: readonly { score: number; tp: boolean }[], nGt: number): number {
  if (nGt === 0) return Number.NaN;
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const recall: number[] = [0];
  const precision: number[] = [1];
  let tp = 0;
  let fp = 0;
  for (const d of sorted) {
    if (d.tp) tp++;
    else fp++;
    recall.push(tp / nGt);
    precision.push(tp / (tp + fp));
  }
  // Precision envelope, then area under the step curve.
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i]!, precision[i + 1]!);
  let ap = 0;
  for (let i = 1; i < recall.length; i++) ap += (recall[i]! - recall[i - 1]!) * precision[i]!;
  return ap;
}

/**
 * Aggregates per-image matches. `conf` is the operating threshold for precision and recall; AP uses
 * every detection given (pass detections down to a low floor for a faithful AP).
 */
export function datasetMetrics(images: readonly { gts: readonly Box[]; dets: readonly ScoredBox[] }[], numClasses: number, conf: number, iouThr = 0.5): DatasetMetrics {
  const all: { score: number; classId: number; tp: boolean }[][] = Array.from({ length: numClasses }, () => []);
  const nGt = new Array<number>(numClasses).fill(0);
  const atConf = Array.from({ length: numClasses }, () => ({ tp: 0, fp: 0 }));
  for (const im of images) {
    const gts = im.gts.filter((g) => g.classId < numClasses);
    for (const g of gts) nGt[g.classId]!++;
    for (const d of matchImage(gts, im.dets, iouThr).detections) all[d.classId]?.push(d);
    for (const d of matchImage(gts, im.dets.filter((d) => d.score >= conf), iouThr).detections) {
      const a = atConf[d.classId];
      if (!a) continue;
      if (d.tp) a.tp++;
      else a.fp++;
    }
  }
  const perClass = atConf.map((a, c) => {
    const fn = nGt[c]! - a.tp;
    return {
      classId: c,
      groundTruth: nGt[c]!,
      tp: a.tp,
      fp: a.fp,
      fn,
      precision: a.tp + a.fp > 0 ? a.tp / (a.tp + a.fp) : Number.NaN,
      recall: nGt[c]! > 0 ? a.tp / nGt[c]! : Number.NaN,
      ap50: averagePrecision(all[c]!, nGt[c]!),
    };
  });
  const tp = perClass.reduce((s, c) => s + c.tp, 0);
  const fp = perClass.reduce((s, c) => s + c.fp, 0);
  const fn = perClass.reduce((s, c) => s + c.fn, 0);
  const aps = perClass.filter((c) => c.groundTruth > 0).map((c) => c.ap50);
  return {
    perClass,
    tp,
    fp,
    fn,
    precision: tp + fp > 0 ? tp / (tp + fp) : Number.NaN,
    recall: tp + fn > 0 ? tp / (tp + fn) : Number.NaN,
    map50: aps.length ? aps.reduce((a, b) => a + b, 0) / aps.length : Number.NaN,
  };
}

// ---------------------------------------------------------------------------------------------
// COCO semantics: the IoU ladder, 101-point AP, and the per-class report behind `driftline evaluate`.
// ---------------------------------------------------------------------------------------------

/** COCO's IoU thresholds .50:.05:.95, written out so that no threshold carries a rounding error. */
export const IOU_LADDER: readonly number[] = Object.freeze([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]);

/** The result of one {@link LadderMatcher.match} call; views into the matcher's scratch, valid until its next call. */
export interface LadderMatch {
  /** Detection indices, highest score first (ties keep input order). */
  readonly order: Int32Array;
  /** Per ranked detection: bit t is set when it is a true positive at thresholds[t]. */
  readonly masks: Uint32Array;
}

/**
 * Greedy matching of one image at several IoU thresholds in one pass. Detections are taken by score,
 * descending; at each threshold a detection takes the unmatched ground-truth box of its class with the
 * highest IoU ≥ the threshold (ties: the lower index), as COCOeval does per image and class. The IoU
 * row of a detection is computed once for all thresholds, and the scratch arrays are reused across
 * images, so matching a whole set allocates nothing per detection.
 */
export class LadderMatcher {
  private order = new Int32Array(64);
  private masks = new Uint32Array(64);
  private used = new Uint32Array(64);
  private row = new Float64Array(64);
  private scores = new Float64Array(64);
  private readonly byScore = (a: number, b: number): number => this.scores[b]! - this.scores[a]! || a - b;

  constructor(readonly thresholds: readonly number[]) {
    if (thresholds.length < 1 || thresholds.length > 31) throw new RangeError('a LadderMatcher takes 1 to 31 IoU thresholds');
  }

  match(gts: readonly Box[], dets: readonly ScoredBox[]): LadderMatch {
    this.reserve(dets.length, gts.length);
    const nd = dets.length;
    const ng = gts.length;
    for (let i = 0; i < nd; i++) {
      this.order[i] = i;
      this.scores[i] = dets[i]!.score;
    }
    const order = this.order.subarray(0, nd).sort(this.byScore);
    this.used.fill(0, 0, ng);
    for (let r = 0; r < nd; r++) {
      const d = dets[order[r]!]!;
      for (let j = 0; j < ng; j++) this.row[j] = gts[j]!.classId === d.classId ? iou(d, gts[j]!) : -1;
      this.masks[r] = this.takeBest(ng);
    }
    return { order, masks: this.masks.subarray(0, nd) };
  }

  /** For the current IoU row: at each threshold, marks the best free box used; returns the mask of thresholds matched. */
  private takeBest(ng: number): number {
    let mask = 0;
    for (let t = 0; t < this.thresholds.length; t++) {
      const thr = this.thresholds[t]!;
      const bit = 1 << t;
      let best = -1;
      let bestIou = -1;
      for (let j = 0; j < ng; j++) {
        const v = this.row[j]!;
        if (v >= thr && v > bestIou && (this.used[j]! & bit) === 0) {
          best = j;
          bestIou = v;
        }
      }
      if (best >= 0) {
        this.used[best] = this.used[best]! | bit;
        mask |= bit;
      }
    }
    return mask >>> 0;
  }

  private reserve(nd: number, ng: number): void {
    if (nd > this.order.length) {
      const size = Math.max(nd, this.order.length * 2);
      this.order = new Int32Array(size);
      this.masks = new Uint32Array(size);
      this.scores = new Float64Array(size);
    }
    if (ng > this.used.length) {
      const size = Math.max(ng, this.used.length * 2);
      this.used = new Uint32Array(size);
      this.row = new Float64Array(size);
    }
  }
}

/** One class's detections over a set, highest score first, with their outcome at the operating IoU. */
export interface ScoredDetections {
  readonly scores: Float64Array;
  /** 1 when the detection matched a ground-truth box at the operating IoU (0.5 by default). */
  readonly tp: Uint8Array;
}

/**
 * COCO 101-point interpolated AP over ranked detections: the precision envelope (the best precision
 * at any recall ≥ r) sampled at r = 0, 0.01, …, 1 and averaged; recall points beyond the largest
 * recall reached count 0. `bit` selects the IoU threshold in `masks`. NaN without ground truth.
 * Recall is compared in integers (tp·100 ≥ k·nGt), so that a recall of exactly k/100 is never lost
 * to rounding.
 */
export function ap101Ranked(masks: ArrayLike<number>, bit: number, nGt: number): number {
  if (!(nGt > 0)) return Number.NaN;
  const n = masks.length;
  if (n === 0) return 0;
  const precision = new Float64Array(n);
  const cumTp = new Int32Array(n);
  let tp = 0;
  for (let i = 0; i < n; i++) {
    if ((masks[i]! & bit) !== 0) tp++;
    cumTp[i] = tp;
    precision[i] = tp / (i + 1);
  }
  for (let i = n - 2; i >= 0; i--) if (precision[i + 1]! > precision[i]!) precision[i] = precision[i + 1]!;
  let sum = 0;
  let i = 0;
  for (let k = 0; k <= 100; k++) {
    while (i < n && cumTp[i]! * 100 < k * nGt) i++;
    if (i === n) break;
    sum += precision[i]!;
  }
  return sum / 101;
}

/** COCO 101-point AP from detections in any order (sorted here by score, descending, stably). */
export function ap101(dets: readonly { readonly score: number; readonly tp: boolean }[], nGt: number): number {
  const idx = Array.from(dets.keys()).sort((a, b) => dets[b]!.score - dets[a]!.score || a - b);
  const masks = new Uint8Array(idx.length);
  for (let r = 0; r < idx.length; r++) masks[r] = dets[idx[r]!]!.tp ? 1 : 0;
  return ap101Ranked(masks, 1, nGt);
}

/** How many of the ranked detections score ≥ thr, and how many of those are true positives. */
export function countAtThreshold(scored: ScoredDetections, thr: number): { kept: number; tp: number } {
  let kept = 0;
  let tp = 0;
  const { scores } = scored;
  while (kept < scores.length && scores[kept]! >= thr) tp += scored.tp[kept++]!;
  return { kept, tp };
}

/** The class id of the aggregate row that {@link evaluateClasses} appends after the classes. */
export const AGGREGATE_CLASS_ID = -1;

export interface ClassReport {
  /** 0…numClasses−1, or {@link AGGREGATE_CLASS_ID} for the last row. */
  readonly classId: number;
  /** The operating threshold (NaN on the aggregate row, where each class has its own). */
  readonly threshold: number;
  readonly groundTruth: number;
  /** Images evaluated (the exposure of the false-alarm rate), whether or not they hold the class. */
  readonly images: number;
  /** Images holding at least one ground-truth box of the class (aggregate: of any class). */
  readonly imagesWithObjects: number;
  /** Detections given for the class at any score (the ranked list behind AP). */
  readonly detections: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly precision: number;
  readonly recall: number;
  /** fn / groundTruth. */
  readonly missRate: number;
  readonly fpPer1000Images: number;
  readonly f1: number;
  /** 101-point AP at IoU .5 (aggregate: the mean over classes with ground truth, i.e. mAP). */
  readonly ap50: number;
  /** Mean of 101-point AP over IoU .50:.05:.95. */
  readonly ap5095: number;
  /** 101-point AP at each IOU_LADDER threshold. */
  readonly apByIou: readonly number[];
  /** 95% (or o.z) intervals: Wilson for the proportions, exact Poisson for the false-alarm rate. */
  readonly intervals: {
    readonly precision: Interval;
    readonly recall: Interval;
    readonly missRate: Interval;
    readonly fpPer1000Images: Interval;
  };
  /** Ranked detections with their outcome at the operating IoU, for PR curves (empty on the aggregate row). */
  readonly scored: ScoredDetections;
}

export interface EvaluateOptions {
  /** Per-class operating threshold: a detection counts when score ≥ thresholds[classId]. */
  readonly thresholds: ArrayLike<number>;
  /** IoU for tp/fp/fn at the operating point, and for `scored` (default 0.5). */
  readonly iou?: number;
  /** Normal quantile of the intervals (default 1.959964, 95%). */
  readonly z?: number;
}

/** Per-class accumulation while images are matched: unsorted scores and ladder masks. */
interface Collector {
  readonly scores: number[];
  readonly masks: number[];
  groundTruth: number;
  imagesWithObjects: number;
}

/**
 * COCO-style evaluation per class: every detection given (pass them down to a low floor) feeds AP at
 * each IoU of the ladder; those scoring ≥ the class's threshold give tp, fp and fn at `o.iou`.
 * Detections and boxes of a class outside 0…numClasses−1 are ignored. Returns one row per class, then
 * one aggregate row (classId −1): summed counts, mean AP over classes with ground truth. Matching a
 * detection does not depend on detections scoring lower, so the thresholded counts equal a separate
 * matching of the kept detections alone.
 */
export function evaluateClasses(
  images: readonly { readonly gts: readonly Box[]; readonly dets: readonly ScoredBox[] }[],
  numClasses: number,
  o: EvaluateOptions,
): ClassReport[] {
  for (let c = 0; c < numClasses; c++) {
    const t = o.thresholds[c];
    if (t === undefined || !Number.isFinite(t)) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `evaluate: no operating threshold for class ${c}` });
  }
  const opBit = 1 << IOU_LADDER.length;
  const matcher = new LadderMatcher([...IOU_LADDER, o.iou ?? 0.5]);
  const cols: Collector[] = Array.from({ length: numClasses }, () => ({ scores: [], masks: [], groundTruth: 0, imagesWithObjects: 0 }));
  const seen = new Int32Array(numClasses).fill(-1);
  let imagesWithObjects = 0;
  images.forEach((im, imageIndex) => {
    if (im.gts.some((g) => g.classId >= 0 && g.classId < numClasses)) imagesWithObjects++;
    for (const g of im.gts) {
      const col = cols[g.classId];
      if (!col) continue;
      col.groundTruth++;
      if (seen[g.classId] !== imageIndex) {
        seen[g.classId] = imageIndex;
        col.imagesWithObjects++;
      }
    }
    const m = matcher.match(im.gts, im.dets);
    for (let r = 0; r < m.order.length; r++) {
      const d = im.dets[m.order[r]!]!;
      const col = cols[d.classId];
      if (!col) continue;
      col.scores.push(d.score);
      col.masks.push(m.masks[r]!);
    }
  });
  const z = o.z ?? Z95;
  const rows = cols.map((col, c) => classReport(c, col, o.thresholds[c]!, opBit, images.length, z));
  rows.push(aggregateReport(rows, images.length, imagesWithObjects, z));
  return rows;
}

function classReport(classId: number, col: Collector, threshold: number, opBit: number, images: number, z: number): ClassReport {
  const n = col.scores.length;
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => col.scores[b]! - col.scores[a]! || a - b);
  const scores = new Float64Array(n);
  const masks = new Uint32Array(n);
  const tpFlags = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    scores[r] = col.scores[idx[r]!]!;
    masks[r] = col.masks[idx[r]!]!;
    tpFlags[r] = (masks[r]! & opBit) !== 0 ? 1 : 0;
  }
  const apByIou = IOU_LADDER.map((_, t) => ap101Ranked(masks, 1 << t, col.groundTruth));
  const scored = { scores, tp: tpFlags };
  const { kept, tp } = countAtThreshold(scored, threshold);
  return {
    classId,
    threshold,
    imagesWithObjects: col.imagesWithObjects,
    detections: n,
    ...operatingPoint(col.groundTruth, tp, kept - tp, images, z),
    ap50: apByIou[0]!,
    ap5095: mean(apByIou),
    apByIou,
    scored,
  };
}

function aggregateReport(rows: readonly ClassReport[], images: number, imagesWithObjects: number, z: number): ClassReport {
  const sum = (f: (r: ClassReport) => number): number => rows.reduce((s, r) => s + f(r), 0);
  const withGt = rows.filter((r) => r.groundTruth > 0);
  const apByIou = IOU_LADDER.map((_, t) => mean(withGt.map((r) => r.apByIou[t]!)));
  return {
    classId: AGGREGATE_CLASS_ID,
    threshold: Number.NaN,
    imagesWithObjects,
    detections: sum((r) => r.detections),
    ...operatingPoint(sum((r) => r.groundTruth), sum((r) => r.tp), sum((r) => r.fp), images, z),
    ap50: apByIou[0]!,
    ap5095: mean(apByIou),
    apByIou,
    scored: { scores: new Float64Array(0), tp: new Uint8Array(0) },
  };
}

/** The thresholded counts, their rates and intervals. */
function operatingPoint(groundTruth: number, tp: number, fp: number, images: number, z: number) {
  const fn = groundTruth - tp;
  const precision = tp + fp > 0 ? tp / (tp + fp) : Number.NaN;
  const recall = groundTruth > 0 ? tp / groundTruth : Number.NaN;
  const rate = poisson(fp, images, twoSidedConfidence(z));
  return {
    groundTruth,
    images,
    tp,
    fp,
    fn,
    precision,
    recall,
    missRate: groundTruth > 0 ? fn / groundTruth : Number.NaN,
    fpPer1000Images: images > 0 ? (1000 * fp) / images : Number.NaN,
    f1: 2 * tp + fp + fn > 0 ? (2 * tp) / (2 * tp + fp + fn) : Number.NaN,
    intervals: {
      precision: wilson(tp, tp + fp, z),
      recall: wilson(tp, groundTruth, z),
      missRate: wilson(fn, groundTruth, z),
      fpPer1000Images: { lo: 1000 * rate.lo, hi: 1000 * rate.hi },
    },
  };
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
}
