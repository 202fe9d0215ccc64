/**
 * Output decoders for the detector layouts users bring. One is chosen once, at model load, from the
 * output shape and the model's metadata; after that decoding is a flat loop over a reused buffer.
 *
 * - yolov8: [1, 4+nc, N] — cx, cy, w, h (input pixels) then nc class scores, channel-major
 *           (Ultralytics YOLOv8, YOLO11, and our own model).
 * - yolov5: [1, N, 5+nc] — cx, cy, w, h, objectness, nc class scores, row-major; score = obj x cls.
 * - e2e:    [1, N, 6]    — x1, y1, x2, y2, score, class (YOLOv10 and exports with NMS inside).
 */
import { driftlineError } from '../../lib/errors.js';
import { BoxSet } from './boxes.js';

export const LAYOUTS = ['yolov8', 'yolov5', 'e2e'] as const;
export type Layout = (typeof LAYOUTS)[number];

export interface OutputDecoder {
  readonly layout: Layout;
  readonly numClasses: number;
  /** Number of candidate rows the model outputs (N). */
  readonly anchors: number;
  /** True when the model already applied NMS (e2e): the caller may skip its own. */
  readonly nmsInside: boolean;
  /**
   * Appends every candidate scoring >= minScore to `into` (boxes as x1,y1,x2,y2 input pixels), each
   * with its output row (its anchor: the column of a yolov8 output, the row of the others).
   */
  decode(out: Float32Array, minScore: number, into: BoxSet): void;
}

class Yolov8Decoder implements OutputDecoder {
  readonly layout = 'yolov8';
  readonly nmsInside = false;
  private readonly best: Float32Array;
  private readonly bestClass: Int32Array;

  constructor(
    readonly numClasses: number,
    readonly anchors: number,
  ) {
    this.best = new Float32Array(anchors);
    this.bestClass = new Int32Array(anchors);
  }

  decode(out: Float32Array, minScore: number, into: BoxSet): void {
    const n = this.anchors;
    const best = this.best;
    const bestClass = this.bestClass;
    // Class-major passes read the channel-major output contiguously.
    best.set(out.subarray(4 * n, 5 * n));
    bestClass.fill(0);
    for (let c = 1; c < this.numClasses; c++) {
      const base = (4 + c) * n;
      for (let i = 0; i < n; i++) {
        const s = out[base + i]!;
        if (s > best[i]!) {
          best[i] = s;
          bestClass[i] = c;
        }
      }
    }
    for (let i = 0; i < n; i++) {
      const s = best[i]!;
      if (s < minScore) continue;
      const cx = out[i]!;
      const cy = out[n + i]!;
      const hw = out[2 * n + i]! / 2;
      const hh = out[3 * n + i]! / 2;
      if (!into.push(cx - hw, cy - hh, cx + hw, cy + hh, s, bestClass[i]!, i)) return;
    }
  }
}

class Yolov5Decoder implements OutputDecoder {
  readonly layout = 'yolov5';
  readonly nmsInside = false;
  constructor(
    readonly numClasses: number,
    readonly anchors: number,
  ) {}

  decode(out: Float32Array, minScore: number, into: BoxSet): void {
    const stride = 5 + this.numClasses;
    for (let i = 0, r = 0; i < this.anchors; i++, r += stride) {
      const obj = out[r + 4]!;
      if (obj < minScore) continue;
      let bc = 0;
      let bs = out[r + 5]!;
      for (let c = 1; c < this.numClasses; c++) {
        const s = out[r + 5 + c]!;
        if (s > bs) {
          bs = s;
          bc = c;
        }
      }
      const score = obj * bs;
      if (score < minScore) continue;
      const hw = out[r + 2]! / 2;
      const hh = out[r + 3]! / 2;
      if (!into.push(out[r]! - hw, out[r + 1]! - hh, out[r]! + hw, out[r + 1]! + hh, score, bc, i)) return;
    }
  }
}

class EndToEndDecoder implements OutputDecoder {
  readonly layout = 'e2e';
  readonly nmsInside = true;
  constructor(
    readonly numClasses: number,
    readonly anchors: number,
  ) {}

  decode(out: Float32Array, minScore: number, into: BoxSet): void {
    // Models with NMS inside may return a different number of rows per frame.
    const rows = Math.floor(out.length / 6);
    for (let i = 0, r = 0; i < rows; i++, r += 6) {
      const s = out[r + 4]!;
      if (s < minScore) continue;
      const cls = Math.round(out[r + 5]!);
      if (cls < 0 || cls >= this.numClasses) continue;
      if (!into.push(out[r]!, out[r + 1]!, out[r + 2]!, out[r + 3]!, s, cls, i)) return;
    }
  }
}

export interface DecoderHints {
  /** Class names from the model metadata, when present. */
  readonly names?: readonly string[];
  /** The metadata says the model has NMS inside (Ultralytics `end2end` / `nms` props). */
  readonly endToEnd?: boolean;
  /** Forces a layout, for models whose shape is ambiguous and whose metadata is silent. */
  readonly layout?: Layout;
}

/**
 * Picks the decoder for an output of shape `dims`. Throws DRIFTLINE_ERR_MODEL_OUTPUT naming the
 * shape and the reason when no layout fits.
 */
export function chooseDecoder(dims: readonly number[], hints: DecoderHints, file: string): OutputDecoder {
  const fail = (reason: string): never => {
    throw driftlineError('DRIFTLINE_ERR_MODEL_OUTPUT', { file, shape: dims, reason });
  };
  if (dims.length !== 3) fail(`expected 3 dimensions, got ${dims.length}`);
  const [b, d1, d2] = dims as [number, number, number];
  if (b !== 1) fail(`batch dimension must be 1, got ${b}`);
  if (!(d1 > 0 && d2 > 0)) fail('dimensions must be positive');
  const nc = hints.names?.length;
  const layout = hints.layout ?? guessLayout(d1, d2, nc, hints.endToEnd === true);
  if (layout === undefined) fail(nc === undefined ? 'no layout fits it' : `no layout fits it with ${nc} classes in the metadata`);
  switch (layout) {
    case 'yolov8': {
      const classes = d1 - 4;
      if (classes < 1) fail(`yolov8 layout needs at least 5 channels, got ${d1}`);
      if (nc !== undefined && classes !== nc) fail(`yolov8 layout has ${classes} class channels but the metadata names ${nc} classes`);
      return new Yolov8Decoder(classes, d2);
    }
    case 'yolov5': {
      const classes = d2 - 5;
      if (classes < 1) fail(`yolov5 layout needs at least 6 values per row, got ${d2}`);
      if (nc !== undefined && classes !== nc) fail(`yolov5 layout has ${classes} class columns but the metadata names ${nc} classes`);
      return new Yolov5Decoder(classes, d1);
    }
    default: {
      if (d2 !== 6) fail(`end-to-end layout needs 6 values per row, got ${d2}`);
      return new EndToEndDecoder(nc ?? 1_000_000, d1);
    }
  }
}

function guessLayout(d1: number, d2: number, nc: number | undefined, endToEnd: boolean): Layout | undefined {
  if (endToEnd) return d2 === 6 ? 'e2e' : undefined;
  if (nc !== undefined) {
    if (d1 === 4 + nc && d2 !== 5 + nc) return 'yolov8';
    if (d2 === 5 + nc && d1 !== 4 + nc) return 'yolov5';
    if (d2 === 6 && nc !== 1) return 'e2e';
    if (d1 === 4 + nc && d2 === 5 + nc) return d2 > d1 ? 'yolov8' : 'yolov5';
    return undefined;
  }
  // No metadata: candidates (N) outnumber values per candidate in every real detector.
  if (d1 < d2 && d1 >= 5) return 'yolov8';
  if (d2 === 6) return 'e2e';
  if (d2 < d1 && d2 >= 6) return 'yolov5';
  return undefined;
}
