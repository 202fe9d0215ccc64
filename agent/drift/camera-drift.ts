/**
 * One camera's drift state: the current window reduced to counts on the reference's bins (filled
 * per frame without allocating), and the sequential detectors that carry across windows. close()
 * scores the window, judges it, and starts the next.
 *
 * Verdicts:
 *   insufficient  fewer frames than the minimum: never reported as ok
 *   insufficient-reference
 *                 a window longer than the reference can judge (Judge.covers): a small profile
 *                 gives no confident verdict on a long window
 *   alert         a score over its alert threshold
 *   warn          a score over its warn threshold, or a sequential detector (CUSUM against the
 *                 reference) signalling a sustained fall of the mean top score, or a sustained rise
 *                 of the uncertain-frame rate or of the class-mix divergence: shifts too small for
 *                 any one window
 *   ok            none of these
 */
import { FRAME_FEATURES } from '../telemetry/frame-stats.js';
import { featureAt, type FrameRecord } from '../telemetry/frame-record.js';
import type { Judge } from './judge.js';
import { Cusum } from './metrics.js';
import { binOf } from './profile.js';
import { PROFILE_FEATURES } from './profile-schema.js';
import type { WindowCounts } from './scores.js';
import type { Calibration, Driver, DriftResult, JudgeVerdict, SequentialState } from './types.js';


export interface SequentialOptions {
  /** CUSUM tolerance per window, in null standard deviations (default 0.5). */
  readonly k?: number;
  /** CUSUM evidence needed to signal, in null standard deviations (default 10). */
  readonly h?: number;
}

const NF = FRAME_FEATURES.length;
const UNCERTAIN = PROFILE_FEATURES.indexOf('uncertain');
const OOD_DETECTIONS = PROFILE_FEATURES.indexOf('oodDetections');
const MAX_DRIVERS = 8;

export class CameraDrift {
  private readonly w: WindowCounts;
  private readonly scores: Float64Array;
  private readonly lo = new Float64Array(NF).fill(Number.NEGATIVE_INFINITY);
  private readonly hi = new Float64Array(NF).fill(Number.POSITIVE_INFINITY);
  private readonly edges: readonly (readonly number[])[];
  private readonly oodByFeature = new Float64Array(NF);
  private readonly watch: { readonly name: 'topScore' | 'uncertain' | 'classMix'; readonly key: number; readonly sign: 1 | -1; readonly cusum: Cusum }[];
  private readonly kUncertain: number;
  private readonly kOod: number;
  private readonly kOodDetection: number;

  constructor(
    readonly judge: Judge,
    calibration: Calibration | undefined,
    o: SequentialOptions = {},
  ) {
    const ref = judge.ref;
    this.w = ref.newCounts();
    this.scores = new Float64Array(ref.keys.length);
    this.edges = ref.edges;
    FRAME_FEATURES.forEach((f, i) => {
      const s = calibration?.support[f];
      if (s) [this.lo[i], this.hi[i]] = s;
    });
    const cusum = (): Cusum => new Cusum(o.k ?? 0.5, o.h ?? 10);
    this.watch = [
      { name: 'topScore', key: ref.keys.indexOf('mean:topScore'), sign: -1, cusum: cusum() },
      { name: 'uncertain', key: ref.keys.indexOf('rate:uncertain'), sign: 1, cusum: cusum() },
      { name: 'classMix', key: ref.keys.indexOf('js:classMix'), sign: 1, cusum: cusum() },
    ];
    this.kUncertain = ref.keys.indexOf('rate:uncertain');
    this.kOod = ref.keys.indexOf('rate:ood');
    this.kOodDetection = ref.keys.indexOf('rate:oodDetection');
  }

  get frames(): number {
    return this.w.frames;
  }

  /** Adds one frame's record (read during the call); returns true when its input lies outside the reference support. */
  add(r: Readonly<FrameRecord>): boolean {
    const w = this.w;
    let ood = false;
    for (let i = 0; i < PROFILE_FEATURES.length; i++) {
      const v = featureAt(r, i);
      w.bins[i]![binOf(this.edges[i]!, v)]!++;
      w.sum[i]! += v;
      w.sumSq[i]! += v * v;
      if (i < NF && (v < this.lo[i]! || v > this.hi[i]!)) {
        ood = true;
        this.oodByFeature[i]!++;
      }
    }
    for (let c = 0; c < w.classCounts.length; c++) w.classCounts[c]! += r.classCounts[c]!;
    for (let k = 0; k < w.confHist.length; k++) w.confHist[k]! += r.confHist[k]!;
    if (featureAt(r, UNCERTAIN) > 0) w.uncertainFrames++;
    if (ood) w.oodFrames++;
    if (featureAt(r, OOD_DETECTIONS) > 0) w.oodDetectionFrames++;
    w.frames++;
    return ood;
  }

  /** Scores and judges the window, updates the sequential detectors, and starts a new window. */
  close(): DriftResult {
    const w = this.w;
    const judge = this.judge;
    const frames = w.frames;
    const scores = judge.ref.score(w, this.scores);
    const record: Record<string, number> = {};
    judge.ref.keys.forEach((key, k) => (record[key] = Number(scores[k]!.toPrecision(5))));
    const rates = { uncertain: scores[this.kUncertain]!, ood: scores[this.kOod]!, oodDetection: scores[this.kOodDetection]! };
    const oodFeatures: Record<string, number> = {};
    FRAME_FEATURES.forEach((f, i) => {
      if (this.oodByFeature[i]! > 0) oodFeatures[f] = Number((this.oodByFeature[i]! / frames).toPrecision(4));
    });
    this.oodByFeature.fill(0);
    let severity: JudgeVerdict = 'insufficient';
    let drivers: Driver[] = [];
    const sequential = {} as Record<'topScore' | 'uncertain' | 'classMix', SequentialState>;
    for (const s of this.watch) sequential[s.name] = { statistic: s.cusum.statistic, alarm: false };
    if (frames >= judge.minFrames && !judge.covers(frames)) severity = 'insufficient-reference';
    else if (frames >= judge.minFrames) {
      drivers = judge.drivers(w, scores);
      const ood = drivers.find((d) => d.key === 'rate:ood');
      if (ood) ood.features = Object.entries(oodFeatures).sort((a, b) => b[1] - a[1]).map(([f]) => f);
      severity = drivers.some((d) => d.level === 'alert') ? 'alert' : drivers.length ? 'warn' : 'ok';
      for (const s of this.watch) {
        const state = this.sequential(s.cusum, s.key, scores[s.key]!, s.sign);
        sequential[s.name] = state;
        if (!state.alarm) continue;
        drivers.push({ key: `cusum:${s.name}`, value: state.statistic, warn: s.cusum.h, alert: Number.POSITIVE_INFINITY, level: 'warn' });
        if (severity === 'ok') severity = 'warn';
      }
    }
    w.clear();
    return { severity, frames, thresholds: judge.mode, drivers: drivers.slice(0, MAX_DRIVERS), rates, oodFeatures, sequential, scores: record };
  }

  /** Feeds the window's standardised statistic (sign +1 watches for a rise, -1 for a fall). */
  private sequential(c: Cusum, k: number, value: number, sign: 1 | -1): SequentialState {
    const [mean, std] = this.judge.nullOf(k);
    if (!Number.isFinite(value) || !(std > 0)) return { statistic: c.statistic, alarm: false };
    const alarm = c.update((sign * (value - mean)) / std);
    return { statistic: Number(c.statistic.toPrecision(4)), alarm };
  }
}
