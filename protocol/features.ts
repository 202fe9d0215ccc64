/**
 * The per-frame features, defined once: the agent computes them (agent/telemetry/frame-stats.ts for
 * the input statistics, detection-stats.ts for the detection statistics), the drift code judges them
 * with their resolution, and the collector names alerts by their family and tells input features
 * from the model's. Adding an input statistic is one definition here plus its computation in
 * FrameStats.
 *
 * A deployment (or a test) may add input statistics of its own at start-up with registerInputFeature,
 * before anything reads the list: they follow the shipped ones and are not part of the shipped list.
 * They reach the windows, drift scoring, the summary message and the collector's evidence; the
 * agent's per-frame table keeps its columns for the shipped ones.
 * The first read fixes the list, so every module sees the same features in the same order.
 */

/** The words an engineer uses for what moved (families.ts groups the features by them). */
export const FAMILY_NAMES = ['illumination', 'colour', 'focus', 'geometry', 'model'] as const;
export type FeatureFamily = (typeof FAMILY_NAMES)[number];

export interface FeatureDefinition {
  readonly name: string;
  readonly family: FeatureFamily;
  /** What the value measures, in words. */
  readonly unit: string;
  /**
   * The smallest change that matters, in the feature's unit: a feature drives a drift verdict only
   * when its window mean or spread moved at least this far from the reference (a feature nearly
   * constant in the reference otherwise scores a huge PSI for a change of a few pixels). It also
   * widens the reference support of an input feature with no spread.
   */
  readonly resolution: number;
  /** Its place in its family, most interpretable first ("brightness fell" says more than "meanB fell"); absent: after the ranked ones. */
  readonly rank?: number;
  /** Whole numbers per frame (counts): quantile edges collapse onto them. */
  readonly whole?: true;
}

/** The input statistics, in the order of FrameStats.values. */
export const SHIPPED_INPUT_FEATURES = [
  { name: 'brightness', family: 'illumination', unit: 'grey level (mean luma, 0–255)', resolution: 2, rank: 0 },
  { name: 'brightnessSpread', family: 'illumination', unit: 'grey levels (95th minus 5th percentile of luma)', resolution: 2, rank: 5 },
  { name: 'contrast', family: 'illumination', unit: 'RMS contrast (standard deviation of luma / 255)', resolution: 0.01, rank: 4 },
  { name: 'meanR', family: 'illumination', unit: 'grey level (mean red, 0–255)', resolution: 2, rank: 2 },
  { name: 'meanG', family: 'illumination', unit: 'grey level (mean green, 0–255)', resolution: 2, rank: 1 },
  { name: 'meanB', family: 'illumination', unit: 'grey level (mean blue, 0–255)', resolution: 2, rank: 3 },
  // 0.02 log2 units: about 1.4% in the red/blue ratio.
  { name: 'colourTemp', family: 'colour', unit: 'log2 of the red/blue ratio', resolution: 0.02, rank: 0 },
  { name: 'saturation', family: 'colour', unit: 'mean HSV saturation (0–1)', resolution: 0.01, rank: 1 },
  { name: 'sharpness', family: 'focus', unit: 'variance of the luma Laplacian', resolution: 20, rank: 0 },
  // Half a percent of the frame.
  { name: 'underExposed', family: 'illumination', unit: 'share of samples with luma < 10', resolution: 0.005, rank: 6 },
  { name: 'overExposed', family: 'illumination', unit: 'share of samples with a clipped channel', resolution: 0.005, rank: 7 },
  { name: 'entropy', family: 'focus', unit: 'bits (luma histogram entropy, 0–8)', resolution: 0.05, rank: 1 },
] as const satisfies readonly FeatureDefinition[];

/** The detection statistics, in the order of DetectionStats.values. */
export const DETECTION_FEATURE_DEFINITIONS = [
  { name: 'detections', family: 'model', unit: 'kept detections per frame', resolution: 0.25, rank: 4, whole: true },
  { name: 'topScore', family: 'model', unit: 'confidence (0–1)', resolution: 0.02, rank: 2 },
  { name: 'meanScore', family: 'model', unit: 'confidence (0–1)', resolution: 0.02, rank: 3 },
  { name: 'candidates', family: 'model', unit: 'candidates per frame', resolution: 1, rank: 5, whole: true },
  { name: 'meanBoxArea', family: 'geometry', unit: 'share of the frame', resolution: 0.002, rank: 0 },
  { name: 'meanAspect', family: 'geometry', unit: 'box width / height', resolution: 0.05, rank: 1 },
  { name: 'uncertain', family: 'model', unit: 'uncertain detections per frame', resolution: 0.05, rank: 0, whole: true },
  { name: 'oodDetections', family: 'model', unit: 'out-of-distribution detections per frame', resolution: 0.25, rank: 1, whole: true },
] as const satisfies readonly FeatureDefinition[];

export type ShippedInputFeature = (typeof SHIPPED_INPUT_FEATURES)[number]['name'];
export type DetectionFeature = (typeof DETECTION_FEATURE_DEFINITIONS)[number]['name'];

const registered: FeatureDefinition[] = [];
let fixed: readonly FeatureDefinition[] | undefined;

/**
 * Adds an input statistic after the shipped ones (its computation goes to the agent beside it:
 * agent/telemetry/added-frame-stats.ts). Only before the list is first read: afterwards the modules
 * that sized their buffers by it would disagree.
 */
export function registerInputFeature(d: FeatureDefinition): void {
  if (fixed) throw new Error(`input feature ${d.name}: the feature list is fixed once read; register features before loading the modules that use them`);
  if ([...SHIPPED_INPUT_FEATURES, ...DETECTION_FEATURE_DEFINITIONS, ...registered].some((x) => x.name === d.name)) throw new Error(`input feature ${d.name} is already defined`);
  registered.push(Object.freeze({ ...d }));
}

/** The input statistics: the shipped ones, then those registered at start-up. Fixes the list. */
export function inputFeatures(): readonly FeatureDefinition[] {
  fixed ??= Object.freeze([...SHIPPED_INPUT_FEATURES, ...registered]);
  return fixed;
}

/** Every per-frame feature in the agent's order: the input statistics, then the detection statistics. Fixes the list. */
export function frameFeatures(): readonly FeatureDefinition[] {
  return [...inputFeatures(), ...DETECTION_FEATURE_DEFINITIONS];
}
