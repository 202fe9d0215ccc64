/**
 * Per-condition breakdown: precision and recall per class within each group of images that share a
 * condition (lighting, camera, shift, a gain value…), and flags where a group is clearly worse.
 *
 * Why: an average over the evaluation set hides the conditions where the model fails; a line that
 * runs at night or on camera 3 sees exactly those. A flag needs both a material gap and evidence: the
 * group's point estimate is more than `tolerance` (absolute, default 0.05) below the nominal value,
 * the same class's value on the images outside the group, AND the two intervals agree: the group's
 * Wilson upper bound is below the nominal value, and the nominal value's own lower bound is above the
 * group's estimate. Small groups with a bad point estimate but a wide interval are reported and not
 * flagged; neither is a large group held against a complement of three detections (on a set that is
 * mostly dark, "nominal light" is not worse because the dark images' few detections happened to be
 * right).
 *
 * Grouping: a column whose values are all numbers and take more than 6 distinct values is cut into at
 * most 4 quantile bins (cuts at the sorted values of rank ⌊m·k/4⌋, equal cuts merged), labelled by the
 * smallest and largest value inside, e.g. `gain 0.60–0.85` (decimals from the column's span: one
 * more than its first significant digit; none for whole numbers; a one-value bin shows the value).
 * Any other column groups by exact value.
 * Images without the column form a `(missing)` group.
 *
 * Each image is matched once (at the operating IoU, class-aware, greedy as in metrics.ts) and its
 * per-class counts are stored in one flat array; every group and complement is a sum over it.
 */
import { wilson, Z95, type Interval } from './intervals.js';
import { LadderMatcher, type Box, type ScoredBox } from './metrics.js';

export interface ConditionedImage {
  readonly gts: readonly Box[];
  readonly dets: readonly ScoredBox[];
  readonly conditions: Readonly<Record<string, string>>;
}

export interface BreakdownOptions {
  /** Per-class operating threshold: a detection counts when score ≥ thresholds[classId]. */
  readonly thresholds: ArrayLike<number>;
  readonly iou?: number;
  /** Absolute gap below nominal that matters (default 0.05). */
  readonly tolerance?: number;
  readonly z?: number;
}

export type BreakdownMetric = 'precision' | 'recall';

export interface RateStat {
  /** Successes and trials: tp of tp + fp (precision) or tp of ground truth (recall). */
  readonly k: number;
  readonly n: number;
  readonly value: number;
  readonly interval: Interval;
  /** The same rate over the images outside the group (NaN when undefined there). */
  readonly nominal: number;
  /** Its Wilson interval. */
  readonly nominalInterval: Interval;
}

export interface GroupClassStats {
  readonly classId: number;
  readonly groundTruth: number;
  readonly tp: number;
  readonly fp: number;
  readonly precision: RateStat;
  readonly recall: RateStat;
}

export interface ConditionGroup {
  readonly column: string;
  /** The value, or the bin `0.60–0.85`, or `(missing)`. */
  readonly value: string;
  /** `column value`, e.g. `gain 0.60–0.85`. */
  readonly label: string;
  readonly images: number;
  readonly classes: readonly GroupClassStats[];
}

export interface ColumnBreakdown {
  readonly column: string;
  readonly numeric: boolean;
  readonly groups: readonly ConditionGroup[];
}

export interface BreakdownFlag {
  readonly column: string;
  readonly value: string;
  readonly classId: number;
  readonly metric: BreakdownMetric;
  /** The group's point estimate. */
  readonly estimate: number;
  readonly nominal: number;
  readonly interval: Interval;
  readonly images: number;
}

export interface Breakdown {
  readonly columns: readonly ColumnBreakdown[];
  readonly flags: readonly BreakdownFlag[];
}

export const MISSING = '(missing)';
const MAX_CATEGORIES = 6;
const BINS = 4;

/** Per image, per class: ground truth, tp and fp at the thresholds, as one flat array (stride 3·numClasses). */
export function imageCounts(images: readonly { readonly gts: readonly Box[]; readonly dets: readonly ScoredBox[] }[], numClasses: number, thresholds: ArrayLike<number>, iouThr = 0.5): Int32Array {
  const out = new Int32Array(images.length * numClasses * 3);
  const matcher = new LadderMatcher([iouThr]);
  images.forEach((im, i) => {
    const base = i * numClasses * 3;
    for (const g of im.gts) if (g.classId >= 0 && g.classId < numClasses) out[base + g.classId * 3]!++;
    const m = matcher.match(im.gts, im.dets);
    for (let r = 0; r < m.order.length; r++) {
      const d = im.dets[m.order[r]!]!;
      if (d.classId < 0 || d.classId >= numClasses || !(d.score >= thresholds[d.classId]!)) continue;
      out[base + d.classId * 3 + (m.masks[r]! & 1 ? 1 : 2)]!++;
    }
  });
  return out;
}

export interface ColumnGroups {
  readonly numeric: boolean;
  /** Group index per image. */
  readonly groupOf: Int32Array;
  /** Group values, in display order (bins ascending, categories in natural order, missing last). */
  readonly values: readonly string[];
}

/** Assigns each image of a column to a group (see the header for the rule). */
export function groupColumn(values: readonly (string | undefined)[]): ColumnGroups {
  const present = values.filter((v): v is string => v !== undefined && v.trim() !== '');
  const nums = present.map((v) => Number(v));
  const numeric = present.length > 0 && nums.every(Number.isFinite) && new Set(nums).size > MAX_CATEGORIES;
  return numeric ? binNumeric(values, nums) : categorical(values);
}

function categorical(values: readonly (string | undefined)[]): ColumnGroups {
  const keyOf = (v: string | undefined): string => (v === undefined || v.trim() === '' ? MISSING : v);
  const distinct = [...new Set(values.map(keyOf))];
  const sorted = distinct.filter((v) => v !== MISSING).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (distinct.includes(MISSING)) sorted.push(MISSING);
  const index = new Map(sorted.map((v, i) => [v, i]));
  return { numeric: false, groupOf: Int32Array.from(values, (v) => index.get(keyOf(v))!), values: sorted };
}

function binNumeric(values: readonly (string | undefined)[], nums: readonly number[]): ColumnGroups {
  const sorted = Float64Array.from(nums).sort();
  const m = sorted.length;
  const cuts: number[] = [];
  for (let k = 1; k < BINS; k++) {
    const c = sorted[Math.floor((m * k) / BINS)]!;
    if (c > sorted[0]! && c !== cuts[cuts.length - 1]) cuts.push(c);
  }
  const binOf = (x: number): number => {
    let b = 0;
    while (b < cuts.length && x >= cuts[b]!) b++;
    return b;
  };
  const lo = new Array<number>(cuts.length + 1).fill(Number.POSITIVE_INFINITY);
  const hi = new Array<number>(cuts.length + 1).fill(Number.NEGATIVE_INFINITY);
  for (const x of nums) {
    const b = binOf(x);
    lo[b] = Math.min(lo[b]!, x);
    hi[b] = Math.max(hi[b]!, x);
  }
  const decimals = nums.every(Number.isInteger) ? 0 : Math.min(6, Math.max(0, Math.ceil(-Math.log10(sorted[m - 1]! - sorted[0]!)) + 1));
  const labels = lo.map((l, b) => (l === hi[b] ? l.toFixed(decimals) : `${l.toFixed(decimals)}–${hi[b]!.toFixed(decimals)}`));
  const hasMissing = nums.length < values.length;
  const groupOf = Int32Array.from(values, (v) => (v === undefined || v.trim() === '' ? labels.length : binOf(Number(v))));
  return { numeric: true, groupOf, values: hasMissing ? [...labels, MISSING] : labels };
}

/** Precision and recall per class per condition group, with the flags described in the header. */
export function breakdown(images: readonly ConditionedImage[], numClasses: number, o: BreakdownOptions): Breakdown {
  const counts = imageCounts(images, numClasses, o.thresholds, o.iou ?? 0.5);
  const stride = numClasses * 3;
  const total = sumRows(counts, stride, () => true);
  const columns: ColumnBreakdown[] = [];
  const flags: BreakdownFlag[] = [];
  for (const column of columnNames(images)) {
    const g = groupColumn(images.map((im) => im.conditions[column]));
    const groups = g.values.map((value, gi) => {
      const inside = sumRows(counts, stride, (i) => g.groupOf[i] === gi);
      const n = g.groupOf.reduce((s, x) => s + (x === gi ? 1 : 0), 0);
      const classes = Array.from({ length: numClasses }, (_, c) => classStats(c, inside, total, o.z ?? Z95));
      return { column, value, label: `${column} ${value}`, images: n, classes };
    });
    for (const grp of groups) for (const cs of grp.classes) flags.push(...flagsFor(grp, cs, o.tolerance ?? 0.05));
    columns.push({ column, numeric: g.numeric, groups });
  }
  return { columns, flags };
}

/** Every condition column, in order of first appearance. */
function columnNames(images: readonly ConditionedImage[]): string[] {
  const names = new Set<string>();
  for (const im of images) for (const k of Object.keys(im.conditions)) names.add(k);
  return [...names];
}

function sumRows(counts: Int32Array, stride: number, take: (image: number) => boolean): Int32Array {
  const out = new Int32Array(stride);
  for (let i = 0, base = 0; base < counts.length; i++, base += stride) {
    if (!take(i)) continue;
    for (let j = 0; j < stride; j++) out[j]! += counts[base + j]!;
  }
  return out;
}

function classStats(c: number, inside: Int32Array, total: Int32Array, z: number): GroupClassStats {
  const [gt, tp, fp] = [inside[c * 3]!, inside[c * 3 + 1]!, inside[c * 3 + 2]!];
  const [ogt, otp, ofp] = [total[c * 3]! - gt, total[c * 3 + 1]! - tp, total[c * 3 + 2]! - fp];
  const stat = (k: number, n: number, ok: number, on: number): RateStat => ({
    k,
    n,
    value: n > 0 ? k / n : Number.NaN,
    interval: wilson(k, n, z),
    nominal: on > 0 ? ok / on : Number.NaN,
    nominalInterval: wilson(ok, on, z),
  });
  return { classId: c, groundTruth: gt, tp, fp, precision: stat(tp, tp + fp, otp, otp + ofp), recall: stat(tp, gt, otp, ogt) };
}

function flagsFor(g: ConditionGroup, cs: GroupClassStats, tolerance: number): BreakdownFlag[] {
  const out: BreakdownFlag[] = [];
  for (const metric of ['precision', 'recall'] as const) {
    const s = cs[metric];
    // NaN on either side compares false: a group or complement without data is never flagged.
    if (s.value < s.nominal - tolerance && s.interval.hi < s.nominal && s.nominalInterval.lo > s.value) {
      out.push({ column: g.column, value: g.value, classId: cs.classId, metric, estimate: s.value, nominal: s.nominal, interval: s.interval, images: g.images });
    }
  }
  return out;
}
