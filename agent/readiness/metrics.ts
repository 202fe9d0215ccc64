/**
 * Detection quality metrics: greedy IoU matching per image, precision and recall at the operating
 * threshold, and average precision at an IoU threshold (all-point interpolation, as in VOC 2010+ and
 * Ultralytics' mAP@0.5). Class-aware: a detection only matches a ground-truth box of its class.
 */

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

/** Greedy matching: each detection, best score first, takes the unmatched same-class box of highest IoU >= iouThr. */
export function matchImage(gts: readonly Box[], dets: readonly ScoredBox[], iouThr = 0.5): ImageMatch {
  const used = new Array<boolean>(gts.length).fill(false);
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const detections = sorted.map((d) => {
    let best = -1;
    let bestIou = iouThr;
    for (let j = 0; j < gts.length; j++) {
      if (used[j] || gts[j]!.classId !== d.classId) continue;
      const v = iou(d, gts[j]!);
      if (v >= bestIou) {
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
