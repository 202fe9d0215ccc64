/**
 * How long each stage of the frame loop takes, as fixed-bucket histograms counted in place: the
 * frame loop pays a few comparisons and additions per stage, with no allocation and no label lookup
 * (prom-client's own histogram builds a label object and a hash key on every observation). The
 * agent's /metrics turns these counts into `driftline_agent_stage_duration_seconds` at scrape time.
 */

/**
 * The stages timed per frame. `postprocess` is decoding, thresholds, NMS and detection OOD scoring;
 * `telemetry` is the input statistics, the detection statistics, the row for the store, the window
 * and drift counts, and handing a hard frame to the review sampler.
 */
export const STAGES = ['preprocess', 'inference', 'postprocess', 'telemetry'] as const;
export type Stage = (typeof STAGES)[number];

/** Upper bounds of the buckets, seconds: from half a millisecond (the shipped model on a CPU core) to 2.5 s. */
export const STAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

const BOUNDS_MS = Float64Array.from(STAGE_BUCKETS, (s) => s * 1000);
/** Counts per stage: one per bucket, then the overflow (+Inf). */
const STRIDE = STAGE_BUCKETS.length + 1;

export class StageTimings {
  /** Per stage, per bucket: observations that fell in it (not cumulative); the last of each stage is the overflow. */
  readonly counts = new Float64Array(STAGES.length * STRIDE);
  /** Per stage: the sum of the observations, ms. */
  readonly sumMs = new Float64Array(STAGES.length);

  /** Counts one duration of `stage` (its index in STAGES), in ms. */
  observe(stage: number, ms: number): void {
    let b = 0;
    while (b < BOUNDS_MS.length && ms > BOUNDS_MS[b]!) b++;
    this.counts[stage * STRIDE + b]!++;
    this.sumMs[stage]! += ms;
  }

  /** One stage's buckets as Prometheus wants them: cumulative counts per upper bound, then the total. */
  cumulative(stage: number): { readonly buckets: number[]; readonly count: number; readonly sumSeconds: number } {
    const buckets: number[] = [];
    let acc = 0;
    for (let b = 0; b < STAGE_BUCKETS.length; b++) buckets.push((acc += this.counts[stage * STRIDE + b]!));
    return { buckets, count: acc + this.counts[stage * STRIDE + STAGE_BUCKETS.length]!, sumSeconds: this.sumMs[stage]! / 1000 };
  }
}
