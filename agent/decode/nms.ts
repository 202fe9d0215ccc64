/**
 * Class-aware non-maximum suppression with a global confidence threshold, optional per-class
 * thresholds and a cap on detections. Works in place on preallocated buffers.
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
  /** Suppress across classes too (class-agnostic). */
  readonly agnostic?: boolean;
}

export class Nms {
  private readonly order: Int32Array;
  private readonly alive: Uint8Array;
  private scores: Float32Array = new Float32Array(0);
  private readonly byScore = (a: number, b: number): number => this.scores[b]! - this.scores[a]! || a - b;

  constructor(readonly capacity: number) {
    this.order = new Int32Array(capacity);
    this.alive = new Uint8Array(capacity);
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
    for (let a = 0; a < m && out.count < maxDet; a++) {
      if (this.alive[a] === 0) continue;
      const i = order[a]!;
      const b = i * 4;
      out.push(cand.boxes[b]!, cand.boxes[b + 1]!, cand.boxes[b + 2]!, cand.boxes[b + 3]!, cand.scores[i]!, cand.classes[i]!, cand.anchors[i]!);
      if (skipSuppression) continue;
      const cls = cand.classes[i]!;
      for (let z = a + 1; z < m; z++) {
        if (this.alive[z] === 0) continue;
        const j = order[z]!;
        if (!o.agnostic && cand.classes[j] !== cls) continue;
        if (iouAt(cand.boxes, i, cand.boxes, j) > o.iou) this.alive[z] = 0;
      }
    }
  }
}
