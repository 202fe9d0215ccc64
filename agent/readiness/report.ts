/**
 * The readiness report as data: what `driftline evaluate` writes to report.json, and what
 * report.md and report.html are rendered from (markdown.ts, html.ts). One structure, three views,
 * so the three never disagree. Rates carry their 95% intervals beside them: 9 defects in 400 images
 * is not a precise number, and the report should not read as if it were.
 */

export const REPORT_SCHEMA = 'driftline.readiness/1';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface ChecklistRow {
  readonly id: 'provenance' | 'class-distribution' | 'per-class-errors' | 'latency' | 'ood' | 'drift-monitoring';
  readonly check: string;
  readonly status: CheckStatus;
  /** One or two sentences with the numbers behind the status. */
  readonly evidence: string;
  /** The command that reproduces or fixes it. */
  readonly command: string;
}

export type Interval = readonly [number, number];

export interface ClassRow {
  readonly name: string;
  readonly threshold: number;
  readonly objects: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly precision: number;
  readonly precisionCi: Interval;
  readonly recall: number;
  readonly recallCi: Interval;
  readonly missRate: number;
  readonly missRateCi: Interval;
  readonly fpPer1000: number;
  readonly fpPer1000Ci: Interval;
  readonly ap50: number;
  readonly ap5095: number;
  /** Precision re-weighted to the production base rates (undefined without them). */
  readonly productionPrecision?: number;
  readonly productionPrecisionCi?: Interval;
}

export interface PrCurve {
  readonly name: string;
  readonly evaluation: readonly (readonly [number, number])[];
  readonly production?: readonly (readonly [number, number])[];
  /** The operating point: recall, precision (at production rates when known). */
  readonly operating: readonly [number, number];
}

export interface ConditionFlag {
  readonly column: string;
  readonly value: string;
  readonly className: string;
  readonly metric: 'precision' | 'recall';
  readonly got: number;
  readonly interval: Interval;
  readonly nominal: number;
}

export interface ConditionGroup {
  readonly column: string;
  readonly value: string;
  readonly images: number;
  /** Per class: precision and recall at the operating thresholds. */
  readonly classes: readonly { readonly name: string; readonly objects: number; readonly precision: number; readonly recall: number }[];
}

export interface CorruptionRow {
  readonly corruption: string;
  readonly severity: number;
  readonly setting: string;
  readonly images: number;
  readonly objects: number;
  /** Detections kept at the operating thresholds that match no object (all classes). */
  readonly falseAlarms: number;
  readonly precision: number;
  readonly recall: number;
  readonly silentRate: number;
  readonly silentRateCi: Interval;
  readonly lowConfidenceRate: number;
  readonly meanBestScore: number;
  readonly bestScore: readonly number[];
}

export interface HeldOutRow {
  readonly name: string;
  readonly objects: number;
  readonly silent: number;
  readonly lowConfidence: number;
  readonly silentRate: number;
  readonly silentRateCi: Interval;
  /** Which way it mostly fails. */
  readonly verdict: 'silent' | 'low-confidence' | 'none';
  readonly claimedAs: Readonly<Record<string, number>>;
  readonly meanBestScore: number;
  readonly bestScore: readonly number[];
}

export interface ReadinessReport {
  readonly schema: typeof REPORT_SCHEMA;
  readonly createdAt: string;
  readonly command: string;
  readonly model: { readonly file: string; readonly sha256: string; readonly names: readonly string[]; readonly provider: string };
  readonly data: {
    readonly path: string;
    readonly format: string;
    readonly images: number;
    readonly objects: Readonly<Record<string, number>>;
    readonly conditionColumns: readonly string[];
    /** What the reader said about the set (crowd boxes left out, rows skipped, ...). */
    readonly notes: readonly string[];
    readonly tuning?: { readonly path: string; readonly images: number };
  };
  readonly checklist: readonly ChecklistRow[];
  readonly thresholds: {
    readonly operating: Readonly<Record<string, number>>;
    readonly source: 'recommended' | 'given';
    readonly target: { readonly maxFalseAlarmsPer1000?: number; readonly minRecall?: number; readonly minPrecision?: number };
    readonly chosenOn: 'tuning set' | 'the evaluation set itself';
    readonly classConfYaml: string;
    /** Classes whose recommended threshold meets no threshold's targets on the tuning set: the targets it fails. */
    readonly unmet: Readonly<Record<string, readonly string[]>>;
    readonly suppression: { readonly agnostic: boolean; readonly agnosticIou: number; readonly classPriority: readonly string[] };
  };
  readonly baseRates?: { readonly evaluation: Readonly<Record<string, number>>; readonly production: Readonly<Record<string, number>>; readonly method: string };
  readonly classes: readonly ClassRow[];
  readonly map50: number;
  readonly map5095: number;
  readonly prCurves: readonly PrCurve[];
  readonly duplicates: { readonly classAware: number; readonly agnostic: number; readonly byPair: Readonly<Record<string, number>> };
  readonly conditions: { readonly tolerance: number; readonly groups: readonly ConditionGroup[]; readonly flags: readonly ConditionFlag[] };
  readonly latency?: {
    readonly batch: 'dynamic' | number;
    readonly rows: readonly { batch: number; runs: number; p50Ms: number; p95Ms: number; p99Ms: number; imagesPerSecond: number }[];
    readonly hardware: Readonly<Record<string, string | number>>;
  };
  readonly ood: {
    readonly nominal: { readonly meanBestScore: number; readonly bestScore: readonly number[]; readonly silentRate: number };
    readonly corruptions: readonly CorruptionRow[];
    /** The corrupted images uncorrupted, at the operating thresholds: what the corruption rows' precision is set against. */
    readonly corruptionBaseline?: { readonly images: number; readonly precision: number; readonly falseAlarms: number };
    readonly heldOut: readonly HeldOutRow[];
    readonly folder?: { readonly path: string; readonly images: number; readonly withConfidentDetection: number; readonly topScore: readonly number[] };
  };
  readonly provenance: {
    readonly synthetic: boolean;
    readonly profile?: { readonly file: string; readonly sameModel: boolean; readonly calibrated: boolean; readonly frames: number; readonly detectionOod: boolean; readonly problem?: string };
    readonly drifted?: readonly { readonly feature: string; readonly mark: string }[];
    readonly indistinguishable?: boolean;
    readonly insufficient?: boolean;
  };
  readonly timing: { readonly seconds: number; readonly imagesPerSecond: number; readonly inferenceMsPerImage: number };
}
