/**
 * Per-window aggregates of a camera's per-frame telemetry: for every feature its count, mean,
 * standard deviation, min and max; kept-detection counts per class; the summed per-class
 * confidence histograms; and per-stage latency quantiles. Accumulators are allocated once; an
 * aggregate object is built once per window (not per frame).
 */
import { CONF_BINS } from './detection-stats.js';
import { featureAt, sampleStd, type FrameRecord } from './frame-record.js';
import { RECORD_FEATURES } from './frame-stats.js';

const FEATURES = RECORD_FEATURES;
const STAGES = ['preprocess', 'inference', 'postprocess'] as const;
const LATENCY_CAPACITY = 16_384;

export interface FeatureAggregate {
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

export interface WindowAggregate {
  readonly startTs: number;
  readonly endTs: number;
  readonly frames: number;
  readonly features: Record<string, FeatureAggregate>;
  readonly classCounts: Record<string, number>;
  /** Per class, CONF_BINS counts over [0, 1]. */
  readonly confHist: Record<string, number[]>;
  readonly latencyMs: Record<string, { p50: number; p95: number; p99: number; max: number }>;
}

export class WindowAggregator {
  private readonly sum = new Float64Array(FEATURES.length);
  private readonly sumSq = new Float64Array(FEATURES.length);
  private readonly min = new Float64Array(FEATURES.length);
  private readonly max = new Float64Array(FEATURES.length);
  private readonly classCounts: Float64Array;
  private readonly confHist: Float64Array;
  private readonly latency = STAGES.map(() => new Float32Array(LATENCY_CAPACITY));
  private frames = 0;
  private startTs = 0;
  private endTs = 0;

  constructor(
    readonly classNames: readonly string[],
    readonly windowMs: number,
  ) {
    this.classCounts = new Float64Array(classNames.length);
    this.confHist = new Float64Array(classNames.length * CONF_BINS);
    this.reset(0);
  }

  get count(): number {
    return this.frames;
  }

  reset(ts: number): void {
    this.sum.fill(0);
    this.sumSq.fill(0);
    this.min.fill(Number.POSITIVE_INFINITY);
    this.max.fill(Number.NEGATIVE_INFINITY);
    this.classCounts.fill(0);
    this.confHist.fill(0);
    this.frames = 0;
    this.startTs = ts;
    this.endTs = ts;
  }

  /** Adds one frame; reads the record during the call only. */
  add(r: Readonly<FrameRecord>): void {
    if (this.frames === 0) this.startTs = r.ts;
    this.endTs = r.ts;
    for (let i = 0; i < FEATURES.length; i++) {
      const v = featureAt(r, i);
      this.sum[i]! += v;
      this.sumSq[i]! += v * v;
      if (v < this.min[i]!) this.min[i] = v;
      if (v > this.max[i]!) this.max[i] = v;
    }
    for (let c = 0; c < this.classCounts.length; c++) this.classCounts[c]! += r.classCounts[c]!;
    for (let k = 0; k < this.confHist.length; k++) this.confHist[k]! += r.confHist[k]!;
    if (this.frames < LATENCY_CAPACITY) for (let s = 0; s < STAGES.length; s++) this.latency[s]![this.frames] = r.stageMs[s]!;
    this.frames++;
  }

  /** True when the window that started at its first frame has lasted windowMs by `ts`. */
  due(ts: number): boolean {
    return this.frames > 0 && ts - this.startTs >= this.windowMs;
  }

  aggregate(): WindowAggregate {
    const n = this.frames;
    const features: Record<string, FeatureAggregate> = {};
    FEATURES.forEach((name, i) => {
      const mean = n ? this.sum[i]! / n : 0;
      features[name] = { mean, std: sampleStd(n, mean, this.sumSq[i]!), min: n ? this.min[i]! : 0, max: n ? this.max[i]! : 0 };
    });
    const classCounts: Record<string, number> = {};
    const confHist: Record<string, number[]> = {};
    this.classNames.forEach((name, c) => {
      classCounts[name] = this.classCounts[c]!;
      confHist[name] = Array.from(this.confHist.subarray(c * CONF_BINS, (c + 1) * CONF_BINS));
    });
    const latencyMs: WindowAggregate['latencyMs'] = {};
    const m = Math.min(n, LATENCY_CAPACITY);
    STAGES.forEach((stage, s) => {
      const sorted = Float64Array.from(this.latency[s]!.subarray(0, m)).sort();
      const q = (p: number): number => (m ? sorted[Math.min(m - 1, Math.floor(p * m))]! : 0);
      latencyMs[stage] = { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: m ? sorted[m - 1]! : 0 };
    });
    return { startTs: this.startTs, endTs: this.endTs, frames: n, features, classCounts, confHist, latencyMs };
  }
}
