/**
 * Runs the detector over an evaluation set, once, and keeps what every later measurement needs:
 * each image's detections after class-aware NMS down to a low confidence floor, in frame pixels,
 * with the model's class indices. Thresholds, class-agnostic suppression, PR curves and AP are all
 * computed afterwards from these (metrics.ts, thresholds), so trying another threshold never means
 * running the model again. A second pass of agnostic suppression over class-aware output at the
 * operating thresholds is the same as one combined pass: same-class overlaps were already settled
 * by boxes above the same threshold.
 *
 * Images are decoded with the agent's own decoder and go through the agent's own letterbox,
 * inference and decode (Detector), so the numbers are the agent's. An optional transform (a
 * corruption, corruptions.ts) is applied to the decoded frame before the detector sees it.
 */
import { BoxSet } from '../decode/boxes.js';
import { Nms } from '../decode/nms.js';
import type { Detector } from '../infer/detector.js';
import { decodeImage, type RawFrame } from '../preprocess/letterbox.js';
import { iou, type Box, type ScoredBox } from './metrics.js';

/** One image's detections, compact: x1, y1, x2, y2 per box in frame pixels. */
export interface ImageDetections {
  readonly count: number;
  readonly boxes: Float32Array;
  readonly scores: Float32Array;
  readonly classes: Int32Array;
  /** The frame the boxes are in: cross-class overlaps are measured clipped to it, as the agent does. */
  readonly clip: Float32Array;
}

export interface RunOptions {
  /** Applied to each decoded frame (in place or into a new frame) before detection. */
  readonly transform?: (frame: RawFrame, index: number) => RawFrame | Promise<RawFrame>;
  /** Called after every image with (done, total). */
  readonly progress?: (done: number, total: number) => void;
}

export interface RunResult {
  readonly images: ImageDetections[];
  /** Wall-clock milliseconds per image, decode to detections (the evaluation's own cost). */
  readonly msPerImage: number;
  /** Inference alone (session.run), milliseconds per image. */
  readonly inferenceMsPerImage: number;
}

/** Detections of every image, in order; `detector` should run at a low floor (conf ~0.001). */
export async function runDetections(detector: Detector, files: readonly string[], o: RunOptions = {}): Promise<RunResult> {
  const images: ImageDetections[] = [];
  const t0 = performance.now();
  let inference = 0;
  // The next image is decoded (and corrupted) in sharp's threads while this one is inferred.
  const load = async (i: number): Promise<RawFrame> => {
    const frame = await decodeImage(files[i]!);
    return o.transform ? o.transform(frame, i) : frame;
  };
  let next = files.length > 0 ? load(0) : undefined;
  try {
    for (let i = 0; i < files.length; i++) {
      const frame = await next!;
      next = i + 1 < files.length ? load(i + 1) : undefined;
      const slot = await detector.detect(frame);
      inference += slot.times.inferenceMs;
      const d = slot.detections;
      images.push({
        count: d.count,
        boxes: d.boxes.slice(0, d.count * 4),
        scores: d.scores.slice(0, d.count),
        classes: d.classes.slice(0, d.count),
        clip: Float32Array.of(0, 0, frame.width, frame.height),
      });
      o.progress?.(i + 1, files.length);
    }
  } finally {
    // A failure mid-run leaves the prefetch in flight: its own failure is not news.
    next?.catch(() => undefined);
  }
  const n = Math.max(1, files.length);
  return { images, msPerImage: (performance.now() - t0) / n, inferenceMsPerImage: inference / n };
}

export interface SelectOptions {
  /** Operating threshold per model class. */
  readonly thresholds: ArrayLike<number>;
  /** Class-agnostic suppression of cross-class duplicates (IoU > agnosticIou). */
  readonly agnostic?: boolean;
  readonly agnosticIou?: number;
  /** Per model class, higher wins a cross-class overlap (default: all equal, the higher score wins). */
  readonly classPriority?: ArrayLike<number>;
}

/**
 * The detections an agent configured with these thresholds (and suppression) would report, as
 * plain boxes. AP and PR curves read `all()` instead: every class-aware detection down to the run's
 * floor. Agnostic suppression is left out of those on purpose: at a floor of 0.001, a faint
 * `scratch` box on a washer would outrank a 0.95 `washer` by priority and erase it from the curve.
 */
export class DetectionSelector {
  private readonly cand: BoxSet;
  private readonly out: BoxSet;
  private readonly nms: Nms;

  constructor(capacity = 300) {
    this.cand = new BoxSet(capacity);
    this.out = new BoxSet(capacity);
    this.nms = new Nms(capacity);
  }

  /** Every detection of the image, class-aware, as the run kept them. */
  all(im: ImageDetections): ScoredBox[] {
    const r: ScoredBox[] = [];
    for (let i = 0; i < im.count; i++) r.push(boxAt(im.boxes, im.scores, im.classes, i));
    return r;
  }

  /** The detections at the operating point. */
  select(im: ImageDetections, o: SelectOptions): ScoredBox[] {
    const c = this.cand;
    c.clear();
    for (let i = 0; i < im.count && i < c.capacity; i++) {
      const b = i * 4;
      c.push(im.boxes[b]!, im.boxes[b + 1]!, im.boxes[b + 2]!, im.boxes[b + 3]!, im.scores[i]!, im.classes[i]!, i);
    }
    this.nms.run(
      c,
      {
        conf: 0,
        iou: 1, // same-class overlaps were settled by the detector's own NMS
        maxDet: c.capacity,
        classConf: o.thresholds,
        ...(o.agnostic ? { agnostic: true, agnosticIou: o.agnosticIou ?? 0.7, clip: im.clip, ...(o.classPriority ? { classPriority: o.classPriority } : {}) } : {}),
      },
      this.out,
    );
    const d = this.out;
    const r: ScoredBox[] = [];
    for (let i = 0; i < d.count; i++) r.push(boxAt(d.boxes, d.scores, d.classes, i));
    return r;
  }
}

function boxAt(boxes: Float32Array, scores: Float32Array, classes: Int32Array, i: number): ScoredBox {
  const b = i * 4;
  return { classId: classes[i]!, score: scores[i]!, x1: boxes[b]!, y1: boxes[b + 1]!, x2: boxes[b + 2]!, y2: boxes[b + 3]! };
}

/**
 * The detections of an image without those that fall in its ignore regions: a detection whose box
 * lies at least half inside an ignore region (intersection over its own area, as COCO treats crowd
 * regions) and overlaps no labelled object at IoU 0.5 is neither a true nor a false positive; it
 * leaves every count, AP and curve. `objects` is every labelled box of the image, any class.
 */
export function dropIgnored(im: ImageDetections, ignore: readonly Box[], objects: readonly Box[]): ImageDetections {
  if (ignore.length === 0 || im.count === 0) return im;
  const keep: number[] = [];
  for (let i = 0; i < im.count; i++) {
    const d = boxAt(im.boxes, im.scores, im.classes, i);
    const area = (d.x2 - d.x1) * (d.y2 - d.y1);
    const inside = area > 0 && ignore.some((r) => intersection(d, r) >= 0.5 * area);
    if (inside && !objects.some((g) => iou(d, g) >= 0.5)) continue;
    keep.push(i);
  }
  if (keep.length === im.count) return im;
  const boxes = new Float32Array(keep.length * 4);
  keep.forEach((i, k) => boxes.set(im.boxes.subarray(i * 4, i * 4 + 4), k * 4));
  return {
    count: keep.length,
    boxes,
    scores: Float32Array.from(keep, (i) => im.scores[i]!),
    classes: Int32Array.from(keep, (i) => im.classes[i]!),
    clip: im.clip,
  };
}

function intersection(a: Box, b: Box): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  return w > 0 && h > 0 ? w * h : 0;
}
