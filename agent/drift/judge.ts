/**
 * From scores to a verdict. Thresholds for a window of n frames come from the calibration's
 * bootstrap summaries (interpolated between the calibrated window lengths, log-log) and the false-alarm
 * target: with windows of T seconds and one false alarm wanted per H hours at most, a window may
 * cross a threshold with probability T / 3600H, split evenly over every score that can raise a
 * verdict (Bonferroni; the scores are correlated, so the real rate is lower). Fixed thresholds, as
 * tabular tools ship them, remain available as an override.
 *
 * A feature only drives a verdict when its window mean or spread moved by at least its resolution
 * (protocol/features.ts) or half its reference spread (EFFECT_SPREAD), and a flagged-frame share
 * only when it rose by RATE_RESOLUTION: statistical significance alone is not a reason to page
 * someone. A window longer than the reference can speak for is `insufficient-reference` (covers).
 */
import { frameFeatures } from '../../protocol/features.js';
import { PROFILE_FEATURES } from './profile-schema.js';
import type { ScoringReference, WindowCounts } from './scores.js';
import { tailQuantile } from './tail.js';
import type { Calibration, Driver, NullDistribution } from './types.js';

/** Minimum change in a flagged-frame share (uncertain, out of distribution) that matters. */
export const RATE_RESOLUTION = 0.05;

/**
 * A feature drives a verdict only when its window mean or spread moved by its resolution, or by this
 * share of its reference standard deviation when that is larger: a shift of a few hundredths of a
 * standard deviation is real but harmless, and a large reference or window makes it significant.
 */
export const EFFECT_SPREAD = 0.5;
/**
 * How far past its longest calibrated window a reference judges: windows up to this multiple of it.
 * Beyond, thresholds would be extrapolated from lengths where the window's noise, not the
 * reference's, dominated, and the verdict is `insufficient-reference`.
 */
export const REFERENCE_REACH = 2;

export interface JudgeOptions {
  /** Window length in seconds, for turning the false-alarm target into a per-window probability. */
  readonly windowSeconds: number;
  /** Expected hours between false warnings per camera (default 24). */
  readonly warnEveryHours?: number;
  /** Expected hours between false alerts per camera (default 168). */
  readonly alertEveryHours?: number;
  /** `calibrated` (default, needs a calibrated profile) or `fixed`. */
  readonly thresholds?: 'calibrated' | 'fixed';
  /** Fixed PSI thresholds (default 0.1 and 0.25, as tabular drift tools ship them). */
  readonly psiWarn?: number;
  readonly psiAlert?: number;
  /** Windows with fewer frames are `insufficient` (default 30). */
  readonly minFrames?: number;
}

/** Which keys take part in verdicts: every score except the sequential detector's means. */
const judged = (key: string): boolean => !key.startsWith('mean:');

export class Judge {
  readonly mode: 'calibrated' | 'fixed';
  readonly minFrames: number;
  /** Probability per window and per judged score of crossing warn and alert under no drift. */
  readonly warnTail: number;
  readonly alertTail: number;
  private readonly judgedKeys: number;
  private readonly effectFeature: Int32Array;
  private cachedFrames = -1;
  private readonly warnAt: Float64Array;
  private readonly alertAt: Float64Array;
  private readonly nullMean: Float64Array;
  private readonly nullStd: Float64Array;
  /** Per feature: the smallest change of its mean or spread that matters (the effect-size gate). */
  readonly effectGate: Float64Array;

  constructor(
    readonly ref: ScoringReference,
    readonly calibration: Calibration | undefined,
    readonly o: JudgeOptions,
  ) {
    this.mode = o.thresholds ?? 'calibrated';
    if (this.mode === 'calibrated' && (!calibration || calibration.windows.length === 0)) throw new Error('the profile has no calibration; rebuild it with driftline baseline, or set drift.thresholds: fixed');
    this.minFrames = o.minFrames ?? 30;
    this.judgedKeys = ref.keys.filter(judged).length;
    const perWindow = (hours: number): number => Math.min(0.5, o.windowSeconds / (hours * 3600));
    this.warnTail = perWindow(o.warnEveryHours ?? 24) / this.judgedKeys;
    this.alertTail = perWindow(o.alertEveryHours ?? 168) / this.judgedKeys;
    // For each key, the feature whose effect size gates it (-1: none).
    this.effectFeature = Int32Array.from(ref.keys, (key) => {
      const [, feature] = key.split(':');
      return key.startsWith('rate:') || key.startsWith('mean:') ? -1 : PROFILE_FEATURES.indexOf(feature!);
    });
    this.effectGate = Float64Array.from(frameFeatures(), (f, i) => Math.max(f.resolution, EFFECT_SPREAD * ref.stds[i]!));
    const k = ref.keys.length;
    this.warnAt = new Float64Array(k);
    this.alertAt = new Float64Array(k);
    this.nullMean = new Float64Array(k);
    this.nullStd = new Float64Array(k);
  }

  /**
   * Where `frames` falls on the calibrated lengths: the summaries of the two lengths around it and
   * the position t between them in log length (t > 1 past the longest length).
   */
  private bracket(key: string, frames: number): { a: NullDistribution; b: NullDistribution; t: number } {
    const ws = this.calibration?.windows ?? [];
    const at = (i: number): NullDistribution => ws[i]?.moments[key] ?? [0, 0, 0, 0];
    if (ws.length < 2 || frames <= ws[0]!.frames) return { a: at(0), b: at(0), t: 0 };
    let i = 0;
    while (i < ws.length - 2 && frames > ws[i + 1]!.frames) i++;
    return { a: at(i), b: at(i + 1), t: Math.log(frames / ws[i]!.frames) / Math.log(ws[i + 1]!.frames / ws[i]!.frames) };
  }

  /**
   * Scores shrink with the window roughly as a power of its length: linear in log-log between the
   * lengths around it, and extrapolated that way past the longest calibrated length.
   */
  private static lerp(x: number, y: number, t: number): number {
    return x > 0 && y > 0 ? Math.exp(Math.log(x) + (Math.log(y) - Math.log(x)) * t) : Math.max(0, x + (y - x) * Math.min(t, 1));
  }

  /** The no-drift mean and variance of `key` for windows of `frames`, interpolated in log-log between lengths. */
  nullMoments(key: string, frames: number): [mean: number, variance: number] {
    const { a, b, t } = this.bracket(key, frames);
    return [Judge.lerp(a[0], b[0], t), Judge.lerp(a[1], b[1], t)];
  }

  /**
   * The value a no-drift window of `frames` exceeds with probability `p`: the tail quantile at each
   * calibrated length around it, interpolated in log-log (each length has its own tail model).
   */
  nullQuantile(key: string, frames: number, p: number): number {
    const { a, b, t } = this.bracket(key, frames);
    return Judge.lerp(tailQuantile(a, p), tailQuantile(b, p), t);
  }

  /** Thresholds for windows of `frames` (cached: most windows of a camera have similar counts). */
  thresholdsFor(frames: number): { warn: Float64Array; alert: Float64Array } {
    if (frames !== this.cachedFrames) {
      this.cachedFrames = frames;
      this.ref.keys.forEach((key, k) => {
        const [mean, variance] = this.nullMoments(key, frames);
        this.nullMean[k] = mean;
        this.nullStd[k] = Math.sqrt(variance);
        if (this.mode === 'fixed') {
          const psiKey = key.startsWith('psi:');
          const rate = key.startsWith('rate:');
          this.warnAt[k] = psiKey ? (this.o.psiWarn ?? 0.1) : rate ? mean + 0.05 : 0.1;
          this.alertAt[k] = psiKey ? (this.o.psiAlert ?? 0.25) : rate ? mean + 0.1 : 0.2;
        } else {
          this.warnAt[k] = this.nullQuantile(key, frames, this.warnTail);
          this.alertAt[k] = this.nullQuantile(key, frames, this.alertTail);
        }
      });
    }
    return { warn: this.warnAt, alert: this.alertAt };
  }

  /**
   * Scores that cannot fire in windows of `frames`: their warn threshold is above the largest value
   * they can take (1 for the bounded `js:`, `ks:` and `rate:` scores). It happens where the reference
   * itself reaches the bound often (the windows of one camera against the others are disjoint on
   * that feature), and the tail extrapolated from it passes the bound. Said at start-up, so that
   * nobody counts on them.
   */
  powerless(frames: number): string[] {
    const { warn } = this.thresholdsFor(frames);
    return this.ref.keys.filter((key, k) => judged(key) && /^(js|ks|rate):/.test(key) && warn[k]! >= 1);
  }

  /** The no-drift mean and standard deviation of `key` at the last thresholdsFor() length. */
  nullOf(k: number): [number, number] {
    return [this.nullMean[k]!, this.nullStd[k]!];
  }

  /** Whether key k's movement is large enough to matter (the effect-size gate). */
  private matters(k: number, value: number, w: WindowCounts): boolean {
    const key = this.ref.keys[k]!;
    if (key.startsWith('rate:')) return value - this.nullMean[k]! >= RATE_RESOLUTION;
    const f = this.effectFeature[k]!;
    return f < 0 || this.featureMoved(f, w.mean(f), w.std(f));
  }

  /** The effect-size gate of feature f: did its mean or spread move by at least its resolution, or half its reference spread? */
  featureMoved(f: number, mean: number, std: number): boolean {
    const gate = this.effectGate[f]!;
    return Math.abs(mean - this.ref.means[f]!) >= gate || Math.abs(std - this.ref.stds[f]!) >= gate;
  }

  /**
   * Whether the reference can judge a window of `frames`: with calibrated thresholds, up to
   * REFERENCE_REACH times its longest calibrated window (half its shortest run, or its size for
   * still images). Fixed thresholds make no such claim.
   */
  covers(frames: number): boolean {
    if (this.mode === 'fixed') return true;
    return frames <= REFERENCE_REACH * this.longestCalibrated();
  }

  /** The longest window length the calibration holds. */
  longestCalibrated(): number {
    const ws = this.calibration?.windows ?? [];
    return ws.length ? ws[ws.length - 1]!.frames : 0;
  }

  /** Every judged score over its warn threshold (and large enough to matter), worst first. */
  drivers(w: WindowCounts, scores: Float64Array): Driver[] {
    const { warn, alert } = this.thresholdsFor(w.frames);
    const out: Driver[] = [];
    this.ref.keys.forEach((key, k) => {
      const v = scores[k]!;
      if (!judged(key) || !(v > warn[k]!) || !this.matters(k, v, w)) return;
      out.push({ key, value: v, warn: warn[k]!, alert: alert[k]!, level: v > alert[k]! ? 'alert' : 'warn' });
    });
    return out.sort((a, b) => b.value / Math.max(b.alert, 1e-12) - a.value / Math.max(a.alert, 1e-12));
  }
}
