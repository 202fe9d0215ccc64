/**
 * Feature families: the words an engineer uses for what moved. Every per-frame feature (features.ts
 * names its family) and every score key belongs to one. The collector names an alert by its family
 * (the `feature` label) and leads its headline with the family's most telling feature; the operator
 * view groups by them.
 *
 * Within a family, features are listed from the most to the least interpretable (their rank):
 * "brightness fell 40%" says more to a person at the line than "meanB fell 42%", though both moved.
 */
import { FAMILY_NAMES, frameFeatures, type FeatureFamily } from './features.js';

/** Score keys about a whole window rather than one feature of each frame: the class mix of the kept detections. */
const WINDOW_FEATURES: readonly { readonly name: string; readonly family: FeatureFamily }[] = [{ name: 'classMix', family: 'model' }];

const byRank = [...frameFeatures()].sort((a, b) => (a.rank ?? Number.POSITIVE_INFINITY) - (b.rank ?? Number.POSITIVE_INFINITY));

export const FEATURE_FAMILIES: Readonly<Record<FeatureFamily, readonly string[]>> = Object.freeze(
  Object.fromEntries(FAMILY_NAMES.map((f) => [f, Object.freeze([...byRank, ...WINDOW_FEATURES].filter((d) => d.family === f).map((d) => d.name))])) as Record<FeatureFamily, readonly string[]>,
);

const FAMILY_OF = new Map<string, FeatureFamily>(FAMILY_NAMES.flatMap((f) => FEATURE_FAMILIES[f].map((x): [string, FeatureFamily] => [x, f])));
const RANK = new Map<string, number>(FAMILY_NAMES.flatMap((f) => FEATURE_FAMILIES[f].map((x, i): [string, number] => [x, i])));

/**
 * The family of a feature (`brightness`) or of a score key (`psi:brightness`, `js:conf.scratch`,
 * `cusum:classMix`, `rate:uncertain`). Anything about the model's output (confidence histograms,
 * class mix, sequential detectors on them) is `model`; an unknown name is `model` too, since only
 * the model's outputs are open-ended.
 */
export function familyOf(keyOrFeature: string): FeatureFamily {
  const i = keyOrFeature.indexOf(':');
  const feature = i < 0 ? keyOrFeature : keyOrFeature.slice(i + 1);
  return FAMILY_OF.get(feature) ?? 'model';
}

/** Position of a feature within its family, most interpretable first (unknown: last). */
export function interpretability(feature: string): number {
  return RANK.get(feature) ?? 99;
}
