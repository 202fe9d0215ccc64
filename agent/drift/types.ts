/**
 * The drift code's vocabulary in one place: the reference profile and its calibration, a window's
 * verdict and what drove it. Every module of drift/ reads its types from here, and this file imports
 * nothing else from drift/, so the modules depend on one another only through what they compute.
 */
import type { DetectionOodReference } from '../ood/detection-ood.js';
import type { ResizeMode } from '../preprocess/letterbox.js';

/** One per-frame feature in a profile: its reference distribution on quantile bins. */
export interface FeatureProfile {
  /** Ascending edges e0..eK (a repeat is a zero-width bin): bins are (-inf, e0), [e0, e1), ..., [eK-1, eK], (eK, +inf). */
  readonly edges: number[];
  /** One count per bin: underflow, the inner bins, overflow (edges.length + 1 bins). */
  readonly counts: number[];
  readonly mean: number;
  readonly std: number;
}

/** The detector settings that decide which detections a frame reports. */
export interface OperatingPoint {
  readonly conf: number;
  readonly classConf: Readonly<Record<string, number>>;
  readonly agnostic: boolean;
  readonly agnosticIou: number;
  readonly classPriority: readonly string[];
}

/** A reference profile (its file format: profile-schema.ts). */
export interface Profile {
  readonly schema: 'driftline.profile/1';
  readonly createdAt: string;
  readonly model: { readonly file: string; readonly sha256: string; readonly names: readonly string[] };
  readonly data: {
    readonly source: string;
    readonly description?: string;
    readonly images: number;
    readonly skipped: number;
    /** Independent runs in the reference (cameras or recordings); absent: one. */
    readonly runs?: number;
    /** Capture geometry of the reference frames, when they all had one; absent when mixed or unknown. */
    readonly width?: number;
    readonly height?: number;
    /** Letterbox resampling the reference frames went through (`model.resize`); absent in old profiles. */
    readonly resize?: ResizeMode;
    /**
     * The operating point the detections were counted at (`model.conf`, `model.classConf`,
     * `model.agnosticNms`...): the class mix and detection features depend on it. Absent in old profiles.
     */
    readonly operatingPoint?: OperatingPoint;
  };
  readonly frames: number;
  readonly features: Record<string, FeatureProfile>;
  readonly classMix: Record<string, number>;
  readonly confHist: Record<string, number[]>;
  /** Bootstrapped no-drift moments of every score per window length (calibrate.ts); absent in old profiles. */
  readonly calibration?: Calibration;
  /**
   * The detection-level OOD reference (agent/ood/detection-ood.ts) fitted on the reference frames'
   * kept detections; present only when the model has an embedding output. Its `quantiles.p99` is
   * the threshold of the `oodDetections` feature.
   */
  readonly detectionOod?: DetectionOodReference;
}

/**
 * A score's no-drift distribution at one window length (tail.ts): mean, variance, the TAIL_FROM
 * quantile u, the mean excess of v^power over u^power, and that power (absent in profiles made
 * before it: 1). Above u the tail of v^power is taken as exponential (peaks over threshold).
 */
export type NullDistribution = [mean: number, variance: number, u: number, excess: number, power?: number];

export interface WindowMoments {
  /** Window length in frames. */
  readonly frames: number;
  /** Block length used for this window length. */
  readonly block: number;
  /** Per score key: its no-drift distribution over the bootstrap windows. */
  readonly moments: Record<string, NullDistribution>;
}

export interface Calibration {
  /** How the thresholds were bootstrapped (calibrate.ts CALIBRATION_METHOD when it was made). */
  readonly method: string;
  readonly referenceFrames: number;
  readonly replicates: number;
  /** Integrated autocorrelation time of each feature in frames (1: independent frames). */
  readonly correlationFrames: Record<string, number>;
  /** The shortest block used: twice the longest correlation time. */
  readonly blockFrames: number;
  /** Out-of-distribution support of each input feature: the reference range widened by the margin. */
  readonly oodMargin: number;
  readonly support: Record<string, [number, number]>;
  readonly windows: WindowMoments[];
  /** Independent runs the null was drawn across (each window from one run, scored against runs it is not in); absent: one. */
  readonly runs?: number;
}

/** The reference frames in capture order, as the profile builder collected them. */
export interface ReferenceSeries {
  readonly frames: number;
  /** Per PROFILE_FEATURES entry, one value per frame. */
  readonly values: readonly ArrayLike<number>[];
  /** frames x classes: kept detections per class. */
  readonly classCounts: ArrayLike<number>;
  /** frames x classes x CONF_BINS: candidate confidence histograms. */
  readonly confHist: ArrayLike<number>;
  /** Where each independent run (one camera's consecutive frames) starts, the first at 0; absent: one run. */
  readonly runs?: readonly number[];
}

/** A window's verdict (camera-drift.ts says when each is given); not an alert's severity (warning, critical). */
export type JudgeVerdict = 'ok' | 'warn' | 'alert' | 'insufficient' | 'insufficient-reference';

/** A score over its warn threshold that drove the verdict. */
export interface Driver {
  /** Score key, e.g. `psi:brightness` or `js:classMix`. */
  readonly key: string;
  readonly value: number;
  readonly warn: number;
  readonly alert: number;
  readonly level: 'warn' | 'alert';
  /** For `rate:ood`: the input features that left the reference support, most often first. */
  features?: string[];
}

export interface SequentialState {
  /** CUSUM evidence, in standard deviations of the window statistic under no drift. */
  readonly statistic: number;
  readonly alarm: boolean;
}

/** A closed window, judged. */
export interface DriftResult {
  /** The window's verdict. */
  readonly severity: JudgeVerdict;
  readonly frames: number;
  readonly thresholds: 'calibrated' | 'fixed';
  /** The scores over their warn threshold, worst first (at most 8). */
  readonly drivers: Driver[];
  /** Share of frames with an uncertain detection, outside the reference support, and with a detection unlike its class's reference. */
  readonly rates: { readonly uncertain: number; readonly ood: number; readonly oodDetection: number };
  /** Per input feature, the share of frames where it alone or with others left the support (only those > 0). */
  readonly oodFeatures: Record<string, number>;
  readonly sequential: { readonly topScore: SequentialState; readonly uncertain: SequentialState; readonly classMix: SequentialState };
  /** Every score of the window by key (NaN as null in JSON). */
  readonly scores: Record<string, number>;
}
