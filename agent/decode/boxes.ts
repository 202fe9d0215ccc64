/**
 * Fixed-capacity sets of boxes in struct-of-arrays form. Decoders and NMS write into sets that are
 * allocated once at model load, so the per-frame path allocates nothing.
 */
export class BoxSet {
  count = 0;
  /** x1, y1, x2, y2 per box. */
  readonly boxes: Float32Array;
  readonly scores: Float32Array;
  readonly classes: Int32Array;
  /**
   * The model-output row (anchor) each box came from, -1 when unknown: a decoder writes the row it
   * decoded, NMS carries it to the kept boxes, so per-anchor outputs (embed0) can be read for them.
   */
  readonly anchors: Int32Array;

  constructor(readonly capacity: number) {
    this.boxes = new Float32Array(capacity * 4);
    this.scores = new Float32Array(capacity);
    this.classes = new Int32Array(capacity);
    this.anchors = new Int32Array(capacity);
  }

  /** Appends a box; returns false (and drops it) when full. */
  push(x1: number, y1: number, x2: number, y2: number, score: number, cls: number, anchor = -1): boolean {
    const i = this.count;
    if (i >= this.capacity) return false;
    const b = i * 4;
    this.boxes[b] = x1;
    this.boxes[b + 1] = y1;
    this.boxes[b + 2] = x2;
    this.boxes[b + 3] = y2;
    this.scores[i] = score;
    this.classes[i] = cls;
    this.anchors[i] = anchor;
    this.count = i + 1;
    return true;
  }

  clear(): void {
    this.count = 0;
  }
}

/** Intersection over union of box i of `a` and box j of `b`. */
export function iouAt(a: Float32Array, i: number, b: Float32Array, j: number): number {
  const ai = i * 4;
  const bj = j * 4;
  const ix1 = Math.max(a[ai]!, b[bj]!);
  const iy1 = Math.max(a[ai + 1]!, b[bj + 1]!);
  const ix2 = Math.min(a[ai + 2]!, b[bj + 2]!);
  const iy2 = Math.min(a[ai + 3]!, b[bj + 3]!);
  const iw = ix2 - ix1;
  const ih = iy2 - iy1;
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const areaA = (a[ai + 2]! - a[ai]!) * (a[ai + 3]! - a[ai + 1]!);
  const areaB = (b[bj + 2]! - b[bj]!) * (b[bj + 3]! - b[bj + 1]!);
  const union = areaA + areaB - inter;
  return union > 0 ? inter / union : 0;
}
