/**
 * Cross-class duplicates: one part reported twice under two classes in the same frame (a washer box
 * and a stain box on the same washer, IoU > 0.7).
 *
 * Why: NMS runs per class, so it never merges these; downstream counts then see two parts where
 * there is one, and a defect alarm fires on a part also reported as good. Precision per class does
 * not show the problem as such (either box may even be a true positive), so the readiness report
 * counts it directly, over the detections the agent would keep (score ≥ its class threshold).
 */
import { iou, type ScoredBox } from './metrics.js';

export interface DuplicatePair {
  /** Indices into the image's detections. */
  readonly i: number;
  readonly j: number;
  readonly iou: number;
}

export interface ClassPairCount {
  /** The lower class id of the pair. */
  readonly a: number;
  readonly b: number;
  readonly count: number;
}

export interface CrossClassDuplicates {
  /** Pairs over all images (three boxes on one part make three pairs). */
  readonly pairs: number;
  /** Images with at least one pair. */
  readonly images: number;
  readonly imagesChecked: number;
  /** By unordered class pair, most frequent first (then by a, b). */
  readonly byClassPair: readonly ClassPairCount[];
}

export interface DuplicateOptions {
  /** A pair counts when IoU > this (default 0.7). */
  readonly iou?: number;
  /** Per-class threshold: only detections with score ≥ thresholds[classId] are considered (default: all given). */
  readonly thresholds?: ArrayLike<number>;
}

function kept(d: ScoredBox, thresholds: ArrayLike<number> | undefined): boolean {
  if (!thresholds) return true;
  const t = thresholds[d.classId];
  return t === undefined || d.score >= t;
}

/** The pairs of kept detections of different classes with IoU above the threshold, in one image. */
export function crossClassPairs(dets: readonly ScoredBox[], o: DuplicateOptions = {}): DuplicatePair[] {
  const thr = o.iou ?? 0.7;
  const out: DuplicatePair[] = [];
  for (let i = 0; i < dets.length; i++) {
    const a = dets[i]!;
    if (!kept(a, o.thresholds)) continue;
    for (let j = i + 1; j < dets.length; j++) {
      const b = dets[j]!;
      if (b.classId === a.classId || !kept(b, o.thresholds)) continue;
      const v = iou(a, b);
      if (v > thr) out.push({ i, j, iou: v });
    }
  }
  return out;
}

/** Counts cross-class duplicates over a set of images. */
export function crossClassDuplicates(images: readonly { readonly dets: readonly ScoredBox[] }[], o: DuplicateOptions = {}): CrossClassDuplicates {
  const byKey = new Map<string, { a: number; b: number; count: number }>();
  let pairs = 0;
  let affected = 0;
  for (const im of images) {
    const found = crossClassPairs(im.dets, o);
    if (found.length) affected++;
    pairs += found.length;
    for (const p of found) {
      const ca = im.dets[p.i]!.classId;
      const cb = im.dets[p.j]!.classId;
      const [a, b] = ca < cb ? [ca, cb] : [cb, ca];
      const k = `${a},${b}`;
      const entry = byKey.get(k) ?? { a, b, count: 0 };
      entry.count++;
      byKey.set(k, entry);
    }
  }
  const byClassPair = [...byKey.values()].sort((x, y) => y.count - x.count || x.a - y.a || x.b - y.b);
  return { pairs, images: affected, imagesChecked: images.length, byClassPair };
}
