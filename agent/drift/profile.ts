/**
 * Reference profiles of the training (or commissioning) distribution. For every per-frame feature:
 * bin edges at the reference's quantiles (a count: one bin per value, featureEdges), framed by
 * explicit underflow and overflow bins (values
 * outside what training ever showed), with the reference counts; plus the class mix, per-class
 * confidence histograms, sample counts, the model's sha256 and where the data came from. Windows
 * are later binned with these edges and compared with the metrics in metrics.ts.
 *
 * This module builds profiles and reads profile files; the types are in types.ts and the file
 * format in profile-schema.ts.
 */
import { readFile } from 'node:fs/promises';
import { driftlineError } from '../../lib/errors.js';
import type { DetectionFeature } from '../../protocol/features.js';
import type { ResizeMode } from '../preprocess/letterbox.js';
import { CONF_BINS } from '../telemetry/detection-stats.js';
import { featureAt, sampleStd, type FrameRecord } from '../telemetry/frame-record.js';
import { COUNT_FEATURES } from './compare.js';
import { checkProfile, PROFILE_FEATURES, PROFILE_SCHEMA } from './profile-schema.js';
import type { FeatureProfile, OperatingPoint, Profile, ReferenceSeries } from './types.js';

export const DEFAULT_QUANTILE_BINS = 16;

/** Where a model's profile sits by default: beside it, `<model>.profile.json`. */
export function profilePathFor(model: string): string {
  return model.replace(/\.onnx$/i, '') + '.profile.json';
}

/** Why a profile file could not be read or parsed, in a user's words. */
function unreadable(e: unknown, text?: string): string {
  const err = e as NodeJS.ErrnoException;
  if (text === undefined) {
    if (err.code === 'ENOENT') return 'the file does not exist';
    if (err.code === 'EISDIR') return 'it is a folder, not a file';
    return `cannot read it: ${err.message}`;
  }
  if (text.trim() === '') return 'the file is empty';
  const at = /at position (\d+)/.exec(err.message)?.[1];
  if (/end of JSON input/.test(err.message) || (at !== undefined && Number(at) >= text.trimEnd().length)) return `truncated JSON at position ${text.length}: the file ends inside a value`;
  return `not JSON: ${err.message.split('\n')[0]}`;
}

/**
 * Reads and checks a profile file: JSON, the right schema, every feature this agent computes, every
 * field in its place. Any problem is a DRIFTLINE_ERR_PROFILE naming the file and the field.
 */
export async function readProfile(file: string): Promise<Profile> {
  let text: string | undefined;
  let value: unknown;
  try {
    text = await readFile(file, 'utf8');
    value = JSON.parse(text);
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_PROFILE', { file, reason: unreadable(e, text) }, { cause: e });
  }
  return checkProfile(value, file);
}

/** Bin index of v for these edges (0 = underflow, edges.length = overflow). O(log bins). */
export function binOf(edges: readonly number[], v: number): number {
  if (v < edges[0]!) return 0;
  const last = edges.length - 1;
  if (v > edges[last]!) return edges.length;
  let lo = 0;
  let hi = last;
  // Largest i with edges[i] <= v; the inner bin [e_i, e_{i+1}) is index i + 1.
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (edges[mid]! <= v) lo = mid;
    else hi = mid - 1;
  }
  return Math.min(lo + 1, last);
}

/** Quantile edges of `values`: min, the k-1 inner quantiles, max; repeated values collapse. */
export function quantileEdges(values: readonly number[], k = DEFAULT_QUANTILE_BINS): number[] {
  if (values.length === 0) return [0, 0];
  const sorted = [...values].sort((a, b) => a - b);
  const edges: number[] = [sorted[0]!];
  for (let i = 1; i < k; i++) {
    const q = sorted[Math.floor((i / k) * (sorted.length - 1))]!;
    if (q > edges[edges.length - 1]!) edges.push(q);
  }
  const max = sorted[sorted.length - 1]!;
  if (max > edges[edges.length - 1]! || edges.length === 1) edges.push(max);
  return edges;
}

/**
 * Edges of one feature's bins: quantile edges, or, for a per-frame count (a feature defined `whole`)
 * whose values span at most k whole numbers, one bin per value, [v - 1/2, v + 1/2). Quantile edges
 * collapse on a count that is mostly one value: `oodDetections`, 0 in 97% of the shipped profile's
 * frames and 1 or 2 in the rest, had the single bin [0, 2]. Its scores were 0 in every calibration
 * window, so were their thresholds, and a window with one frame of 3 went past them (the only
 * alerts of the 60-frame false-alarm table before, docs/drift.md).
 */
export function featureEdges(values: ArrayLike<number>, whole: boolean, k = DEFAULT_QUANTILE_BINS): number[] {
  if (whole && values.length > 0) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    let integers = true;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      if (!Number.isInteger(v)) integers = false;
    }
    if (integers && hi - lo + 1 <= k) return Array.from({ length: hi - lo + 2 }, (_, i) => lo - 0.5 + i);
  }
  return quantileEdges(Array.from(values), k);
}

/** Per PROFILE_FEATURES entry: whether it is a per-frame count (binned by featureEdges one value a bin). */
export const WHOLE: readonly boolean[] = PROFILE_FEATURES.map((f) => COUNT_FEATURES.has(f));

export class ProfileBuilder {
  private readonly values: number[][] = PROFILE_FEATURES.map(() => []);
  private readonly classCounts: number[];
  private readonly confHist: number[];
  /** Per frame, in order: class counts and confidence histograms, for calibration. */
  private readonly frameClassCounts: number[] = [];
  private readonly frameConfHist: number[] = [];
  private frames = 0;
  /** Where each independent run (one camera's consecutive frames) starts; one run unless told. */
  private readonly runs: number[] = [0];

  constructor(readonly names: readonly string[]) {
    this.classCounts = new Array<number>(names.length).fill(0);
    this.confHist = new Array<number>(names.length * CONF_BINS).fill(0);
  }

  /** Adds one frame's record (read during the call: its arrays are reused for the next frame). */
  add(r: Readonly<FrameRecord>): void {
    for (let i = 0; i < PROFILE_FEATURES.length; i++) this.values[i]!.push(featureAt(r, i));
    for (let c = 0; c < this.classCounts.length; c++) {
      this.classCounts[c]! += r.classCounts[c]!;
      this.frameClassCounts.push(r.classCounts[c]!);
    }
    for (let k = 0; k < this.confHist.length; k++) {
      this.confHist[k]! += r.confHist[k]!;
      this.frameConfHist.push(r.confHist[k]!);
    }
    this.frames++;
  }

  /**
   * Replaces one detection feature's per-frame values, in frame order, after the frames were added:
   * for a feature that can only be computed once every frame has been seen (`oodDetections`, scored
   * against a reference fitted on all of them). `values` holds one number per frame added.
   */
  setFeature(name: DetectionFeature, values: ArrayLike<number>): void {
    const i = PROFILE_FEATURES.indexOf(name);
    if (values.length !== this.frames) throw new RangeError(`${name}: ${values.length} values for ${this.frames} frames`);
    this.values[i] = Array.from(values);
  }

  /**
   * The next frames come from another camera (or another recording): calibration then treats each
   * run as an independent sample of the line, not as the continuation of the one before.
   */
  startRun(): void {
    if (this.frames > this.runs[this.runs.length - 1]!) this.runs.push(this.frames);
  }

  /** The frames added so far, in order, with where each run starts. */
  series(): ReferenceSeries {
    return { frames: this.frames, values: this.values, classCounts: this.frameClassCounts, confHist: this.frameConfHist, runs: [...this.runs] };
  }

  build(model: Profile['model'], data: Profile['data'], bins = DEFAULT_QUANTILE_BINS): Profile {
    const features: Record<string, FeatureProfile> = {};
    PROFILE_FEATURES.forEach((name, i) => {
      const vals = this.values[i]!;
      const edges = featureEdges(vals, WHOLE[i]!, bins);
      const counts = new Array<number>(edges.length + 1).fill(0);
      let sum = 0;
      let sumSq = 0;
      for (const v of vals) {
        counts[binOf(edges, v)]!++;
        sum += v;
        sumSq += v * v;
      }
      const n = vals.length;
      const mean = n ? sum / n : 0;
      features[name] = { edges, counts, mean, std: sampleStd(n, mean, sumSq) };
    });
    const classMix: Record<string, number> = {};
    const confHist: Record<string, number[]> = {};
    this.names.forEach((name, c) => {
      classMix[name] = this.classCounts[c]!;
      confHist[name] = this.confHist.slice(c * CONF_BINS, (c + 1) * CONF_BINS);
    });
    return { schema: PROFILE_SCHEMA, createdAt: new Date().toISOString(), model, data, frames: this.frames, features, classMix, confHist };
  }
}

/** Where a profile that predates the record was counted: the agent's default model section. */
export const DEFAULT_OPERATING_POINT: OperatingPoint = Object.freeze({ conf: 0.25, classConf: Object.freeze({}), agnostic: false, agnosticIou: 0.7, classPriority: Object.freeze([]) });

/** The operating point a profile's counts were taken at, which a detector compared with it should run at. */
export const countedAt = (profile: Profile): OperatingPoint => profile.data.operatingPoint ?? DEFAULT_OPERATING_POINT;

/** An operating point as the Detector's options (agnostic settings only where it is agnostic). */
export function pointOptions(p: OperatingPoint): { conf: number; classConf: Readonly<Record<string, number>>; agnostic?: true; agnosticIou?: number; classPriority?: readonly string[] } {
  return { conf: p.conf, classConf: p.classConf, ...(p.agnostic ? { agnostic: true as const, agnosticIou: p.agnosticIou, classPriority: p.classPriority } : {}) };
}

/** An operating point as the agent config's model keys (the demo runs at its shipped profile's point). */
export function pointConfig(p: OperatingPoint): { conf: number; classConf: Record<string, number>; agnosticNms: boolean; agnosticIou: number; classPriority: string[] } {
  return { conf: p.conf, classConf: { ...p.classConf }, agnosticNms: p.agnostic, agnosticIou: p.agnosticIou, classPriority: [...p.classPriority] };
}

/** Writes an operating point as `key=value` words, for messages. */
function describePoint(p: OperatingPoint): string {
  const cc = Object.entries(p.classConf).map(([k, v]) => `${k}=${v}`).join(',');
  return `conf ${p.conf}${cc ? `, classConf ${cc}` : ''}, ${p.agnostic ? `agnostic above IoU ${p.agnosticIou}${p.classPriority.length ? `, priority ${p.classPriority.join('>')}` : ''}` : 'class-aware'}`;
}

/**
 * What an agent whose detector runs at `point` should be told about a profile counted at another:
 * the class mix, the confidence histograms' kept share and every detection feature move with the
 * thresholds, so windows would drift on that alone. Undefined when they agree or the profile
 * predates the record.
 */
export function operatingPointMismatch(profile: Profile, point: OperatingPoint): string | undefined {
  const made = profile.data.operatingPoint;
  if (!made) return undefined;
  const same =
    made.conf === point.conf &&
    made.agnostic === point.agnostic &&
    (!made.agnostic || made.agnosticIou === point.agnosticIou) &&
    (!made.agnostic || made.classPriority.join(',') === point.classPriority.join(',')) &&
    JSON.stringify(Object.entries(made.classConf).sort()) === JSON.stringify(Object.entries(point.classConf).sort());
  if (same) return undefined;
  return `the detector runs at ${describePoint(point)}, the profile was counted at ${describePoint(made)}: the class mix and detection features differ on that alone; set the model section to match, or make the profile again with driftline baseline at this operating point`;
}

/**
 * What an agent resizing frames with `mode` should be told about a profile made with another
 * resampling: resampling moves sharpness and contrast, so the same scene scores differently.
 * Undefined when they match or the profile predates the record.
 */
export function resizeMismatch(profile: Profile, mode: ResizeMode): string | undefined {
  const made = profile.data.resize;
  if (made === undefined || made === mode) return undefined;
  return `model.resize is ${mode}, the profile was made with ${made}: resampling moves sharpness and contrast, so verdicts may drift on that alone; set model.resize: ${made}, or make the profile again with driftline baseline --resize ${mode}`;
}
