/**
 * Non-maximum suppression with a global confidence threshold, optional per-class thresholds and a
 * cap on detections: class-aware by default, optionally also across classes (agnostic) with a class
 * priority. Works in place on preallocated buffers.
 */
import { BoxSet, iouAt } from './boxes.js';

export interface NmsOptions {
  /** Global confidence threshold. */
  readonly conf: number;
  /** IoU above which a lower-scored box of the same class is suppressed. */
  readonly iou: number;
  readonly maxDet: number;
  /** Per-class thresholds by class index; a missing or NaN entry uses `conf`. */
  readonly classConf?: ArrayLike<number>;
  /**
   * Suppress across classes too: after the class-aware pass, of two surviving boxes of different
   * classes that overlap with IoU above `agnosticIou` (one part reported twice), only one is kept:
   * the one of higher `classPriority`, or on equal priority the higher score.
   */
  readonly agnostic?: boolean;
  /** IoU above which two boxes of different classes are one part (agnostic only; default 0.7). */
  readonly agnosticIou?: number;
  /** Priority per class index, higher wins (agnostic only); a missing or NaN entry is 0. Default: all equal. */
  readonly classPriority?: ArrayLike<number>;
  /**
   * The image area (x1, y1, x2, y2) in the candidates' coordinates (agnostic only): the cross-class
   * overlap is measured on boxes clipped to it, as they are reported. A box that runs off the image
   * (a part cut by the frame edge) otherwise overlaps its duplicate less than the reported boxes do.
   */
  readonly clip?: ArrayLike<number>;
}

export const DEFAULT_AGNOSTIC_IOU = 0.7;

/** IoU of boxes i and j of `b`, each first clipped to `c` (x1, y1, x2, y2). */
function clippedIou(b: Float32Array, i: number, j: number, c: ArrayLike<number>): number {
  const cx1 = c[0]!;
  const cy1 = c[1]!;
  const cx2 = c[2]!;
  const cy2 = c[3]!;
  const i4 = i * 4;
  const j4 = j * 4;
  const ax1 = Math.min(Math.max(b[i4]!, cx1), cx2);
  const ay1 = Math.min(Math.max(b[i4 + 1]!, cy1), cy2);
  const ax2 = Math.min(Math.max(b[i4 + 2]!, cx1), cx2);
  const ay2 = Math.min(Math.max(b[i4 + 3]!, cy1), cy2);
  const bx1 = Math.min(Math.max(b[j4]!, cx1), cx2);
  const by1 = Math.min(Math.max(b[j4 + 1]!, cy1), cy2);
  const bx2 = Math.min(Math.max(b[j4 + 2]!, cx1), cx2);
  const by2 = Math.min(Math.max(b[j4 + 3]!, cy1), cy2);
  const iw = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  const ih = Math.min(ay2, by2) - Math.max(ay1, by1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  return union > 0 ? inter / union : 0;
}

function priorityOf(prio: ArrayLike<number>, cls: number): number {
  const p = prio[cls];
  return p === undefined || Number.isNaN(p) ? 0 : p;
}

export class Nms {
  private readonly order: Int32Array;
  private readonly alive: Uint8Array;
  /** Positions in `order` of the class-aware survivors, ranked for the cross-class pass. */
  private readonly rank: Int32Array;
  private scores: Float32Array = new Float32Array(0);
  private readonly byScore = (a: number, b: number): number => this.scores[b]! - this.scores[a]! || a - b;

  constructor(readonly capacity: number) {
    this.order = new Int32Array(capacity);
    this.alive = new Uint8Array(capacity);
    this.rank = new Int32Array(capacity);
  }

  /** Writes the kept boxes of `cand` (with their anchors) into `out`, highest score first. */
  run(cand: BoxSet, o: NmsOptions, out: BoxSet, skipSuppression = false): void {
    out.clear();
    const n = Math.min(cand.count, this.capacity);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const t = o.classConf?.[cand.classes[i]!];
      const thr = t === undefined || Number.isNaN(t) ? o.conf : t;
      if (cand.scores[i]! >= thr) this.order[m++] = i;
    }
    this.scores = cand.scores;
    const order = this.order.subarray(0, m);
    order.sort(this.byScore);
    this.alive.fill(1, 0, m);
    const maxDet = Math.min(o.maxDet, out.capacity);
    if (o.agnostic) {
      this.crossClass(cand, o, m, skipSuppression);
      for (let a = 0; a < m && out.count < maxDet; a++) if (this.alive[a] === 1) this.emit(cand, order[a]!, out);
      return;
    }
    for (let a = 0; a < m && out.count < maxDet; a++) {
      if (this.alive[a] === 0) continue;
      const i = order[a]!;
      this.emit(cand, i, out);
      if (!skipSuppression) this.suppressSameClass(cand, a, m, o.iou);
    }
  }

  /** The greedy class-aware step: the survivor at position `a` of `order` suppresses the lower-scored boxes of its class that overlap it by more than `iou`. */
  private suppressSameClass(cand: BoxSet, a: number, m: number, iou: number): void {
    const i = this.order[a]!;
    const cls = cand.classes[i]!;
    for (let z = a + 1; z < m; z++) {
      if (this.alive[z] === 0) continue;
      const j = this.order[z]!;
      if (cand.classes[j] === cls && iouAt(cand.boxes, i, cand.boxes, j) > iou) this.alive[z] = 0;
    }
  }

  private emit(cand: BoxSet, i: number, out: BoxSet): void {
    const b = i * 4;
    out.push(cand.boxes[b]!, cand.boxes[b + 1]!, cand.boxes[b + 2]!, cand.boxes[b + 3]!, cand.scores[i]!, cand.classes[i]!, cand.anchors[i]!);
  }

  /**
   * Agnostic suppression over the `m` thresholded candidates in `order` (sorted by score): first
   * the class-aware greedy pass (unless the model suppressed inside), uncapped; then the survivors,
   * ranked by priority and then score, suppress the lower-ranked survivors of other classes that
   * overlap them by more than `agnosticIou`. The winner of any pair ranks first, so the result for a
   * pair does not depend on which of the two scores higher; a suppressed box suppresses nothing.
   */
  private crossClass(cand: BoxSet, o: NmsOptions, m: number, skipSuppression: boolean): void {
    const order = this.order;
    const alive = this.alive;
    const classes = cand.classes;
    if (!skipSuppression) for (let a = 0; a < m; a++) if (alive[a] === 1) this.suppressSameClass(cand, a, m, o.iou);
    const rank = this.rank;
    let k = 0;
    for (let a = 0; a < m; a++) if (alive[a] === 1) rank[k++] = a;
    const prio = o.classPriority;
    if (prio) {
      // Stable insertion sort by priority, descending: within a priority, score order stays. The
      // survivors are few and the pass below is quadratic anyway; no view or closure is allocated.
      for (let r = 1; r < k; r++) {
        const a = rank[r]!;
        const p = priorityOf(prio, classes[order[a]!]!);
        let s = r - 1;
        while (s >= 0 && priorityOf(prio, classes[order[rank[s]!]!]!) < p) {
          rank[s + 1] = rank[s]!;
          s--;
        }
        rank[s + 1] = a;
      }
    }
    const thr = o.agnosticIou ?? DEFAULT_AGNOSTIC_IOU;
    const clip = o.clip;
    for (let r = 0; r < k; r++) {
      const a = rank[r]!;
      if (alive[a] === 0) continue;
      const i = order[a]!;
      const cls = classes[i]!;
      for (let s = r + 1; s < k; s++) {
        const z = rank[s]!;
        if (alive[z] === 0) continue;
        const j = order[z]!;
        if (classes[j] === cls) continue;
        const v = clip ? clippedIou(cand.boxes, i, j, clip) : iouAt(cand.boxes, i, cand.boxes, j);
        if (v > thr) alive[z] = 0;
      }
    }
  }
}
