/**
 * The smallest change of each per-frame feature that matters, in the feature's own units. A feature
 * drives a drift verdict only when its window mean or spread moved at least this far from the
 * reference: a feature that is nearly constant in the reference (no clipped pixels at all, say)
 * otherwise scores a huge PSI for a change of a few pixels. It also widens the reference support
 * for the out-of-distribution test of a feature with no spread.
 */
import type { PROFILE_FEATURES } from './profile.js';

export const FEATURE_RESOLUTION: Readonly<Record<(typeof PROFILE_FEATURES)[number], number>> = Object.freeze({
  brightness: 2, // grey levels
  brightnessSpread: 2,
  contrast: 0.01,
  meanR: 2,
  meanG: 2,
  meanB: 2,
  colourTemp: 0.02, // log2 units: about 1.4% in the red/blue ratio
  saturation: 0.01,
  sharpness: 20, // Laplacian variance
  underExposed: 0.005, // half a percent of the frame
  overExposed: 0.005,
  entropy: 0.05, // bits
  detections: 0.25, // per frame
  topScore: 0.02,
  meanScore: 0.02,
  candidates: 1,
  meanBoxArea: 0.002, // share of the frame
  meanAspect: 0.05,
  uncertain: 0.05, // uncertain detections per frame
  oodDetections: 0.25, // out-of-distribution detections per frame
});

/** Minimum change in a flagged-frame share (uncertain, out of distribution) that matters. */
export const RATE_RESOLUTION = 0.05;
