/**
 * Input statistics added at start-up, beside the shipped ones: a site's own statistic, or a test's.
 * Each brings its definition (protocol/features.ts, where the drift code and the collector read it)
 * and its computation, which FrameStats runs in JavaScript after the sampling pass. FrameStats takes
 * the list once, when it is built: with none added, the shipped path is unchanged.
 */
import { registerInputFeature, type FeatureDefinition } from '../../protocol/features.js';

/** One input statistic of an RGB24 frame of width x height. */
export type FrameStatistic = (rgb: Uint8Array, width: number, height: number) => number;

const added: FrameStatistic[] = [];

/** Adds an input statistic; only before the feature list is first read (registerInputFeature). */
export function addFrameStatistic(definition: FeatureDefinition, compute: FrameStatistic): void {
  registerInputFeature(definition);
  added.push(compute);
}

/** The added statistics' computations, in the order of their features after the shipped ones. */
export function addedFrameStatistics(): readonly FrameStatistic[] {
  return [...added];
}
