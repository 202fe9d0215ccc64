/**
 * Capture conditions of the synthetic line camera. Each field can be fixed or a range that is
 * sampled per image (dataset writing) — `0.8:1.2` on the command line.
 */
import { driftlineError } from '../../lib/errors.js';

export interface Conditions {
  /** Illumination multiplier; 1 is the nominal exposure. */
  gain: number;
  /** Colour temperature of the light in kelvin; 5500 renders neutral. */
  colourTempK: number;
  /** Blur radius in pixels (two box passes, close to a Gaussian of this sigma). */
  blur: number;
  /** Sensor noise, standard deviation in 8-bit grey levels. */
  noise: number;
  /** JPEG quality of the encoded image, 1–100. */
  jpegQuality: number;
  /** Camera shift in pixels (a bumped camera). */
  offsetX: number;
  offsetY: number;
  /** Camera roll in degrees. */
  rotationDeg: number;
  /** Fraction of the frame width hidden by an occluder (0 = none). */
  occlusion: number;
  /** Fraction of parts carrying a trained defect (scratch or missing notch). */
  defectRate: number;
  /** Fraction of parts carrying the held-out defect (burn), never seen in training. */
  heldOutRate: number;
  /** Fraction of parts carrying the second held-out defect (stain), never seen in training. */
  stainRate: number;
  /** Belt speed in pixels per frame, at 640 px frame width. */
  beltSpeed: number;
}

export const DEFAULT_CONDITIONS: Readonly<Conditions> = Object.freeze({
  gain: 1,
  colourTempK: 5500,
  blur: 0,
  noise: 2,
  jpegQuality: 92,
  offsetX: 0,
  offsetY: 0,
  rotationDeg: 0,
  occlusion: 0,
  defectRate: 0.02,
  heldOutRate: 0,
  stainRate: 0,
  beltSpeed: 24,
});

const LIMITS: Record<keyof Conditions, readonly [number, number]> = {
  gain: [0, 4],
  colourTempK: [1500, 15000],
  blur: [0, 20],
  noise: [0, 64],
  jpegQuality: [1, 100],
  offsetX: [-2000, 2000],
  offsetY: [-2000, 2000],
  rotationDeg: [-180, 180],
  occlusion: [0, 0.9],
  defectRate: [0, 1],
  heldOutRate: [0, 1],
  stainRate: [0, 1],
  beltSpeed: [0, 200],
};

export const CONDITION_KEYS = Object.keys(LIMITS) as (keyof Conditions)[];

/** A fixed value or an inclusive range sampled uniformly. */
export type ConditionValue = number | readonly [number, number];
export type ConditionSpec = { [K in keyof Conditions]: ConditionValue };

function checkValue(key: keyof Conditions, v: number, raw: unknown): void {
  const [lo, hi] = LIMITS[key];
  if (!Number.isFinite(v) || v < lo || v > hi) {
    throw driftlineError('DRIFTLINE_ERR_CONFIG', {
      key: `conditions.${key}`,
      value: raw,
      expected: `a number in [${lo}, ${hi}] or a range lo:hi inside it`,
    });
  }
}

/** Parses `1.2` or `0.8:1.2` for one condition key, with a specific error. */
export function parseConditionValue(key: string, raw: string): ConditionValue {
  if (!(CONDITION_KEYS as string[]).includes(key)) {
    throw driftlineError('DRIFTLINE_ERR_CONFIG', { key: `conditions.${key}`, value: raw, expected: `one of ${CONDITION_KEYS.join(', ')}` });
  }
  const k = key as keyof Conditions;
  const parts = raw.split(':');
  if (parts.length > 2 || parts.some((p) => p.trim() === '')) {
    throw driftlineError('DRIFTLINE_ERR_CONFIG', { key: `conditions.${key}`, value: raw, expected: 'a number or a range lo:hi' });
  }
  const nums = parts.map(Number);
  for (const n of nums) checkValue(k, n, raw);
  if (nums.length === 1) return nums[0]!;
  const [lo, hi] = nums as [number, number];
  if (lo > hi) {
    throw driftlineError('DRIFTLINE_ERR_CONFIG', { key: `conditions.${key}`, value: raw, expected: 'a range lo:hi with lo <= hi' });
  }
  return [lo, hi];
}

/** Validates a partial spec of fixed values or ranges and fills the rest from the defaults. */
export function conditionSpec(partial: Partial<Record<string, ConditionValue>> = {}): ConditionSpec {
  const out = { ...DEFAULT_CONDITIONS } as ConditionSpec;
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    if (!(CONDITION_KEYS as string[]).includes(key)) {
      throw driftlineError('DRIFTLINE_ERR_CONFIG', { key: `conditions.${key}`, value, expected: `one of ${CONDITION_KEYS.join(', ')}` });
    }
    const k = key as keyof Conditions;
    if (typeof value === 'number') checkValue(k, value, value);
    else {
      checkValue(k, value[0], value);
      checkValue(k, value[1], value);
    }
    out[k] = value;
  }
  return out;
}

/** Draws one concrete set of conditions from a spec. */
export function sampleConditions(spec: ConditionSpec, rand: () => number): Conditions {
  const out = {} as Conditions;
  for (const key of CONDITION_KEYS) {
    const v = spec[key];
    out[key] = typeof v === 'number' ? v : v[0] + (v[1] - v[0]) * rand();
  }
  out.jpegQuality = Math.round(out.jpegQuality);
  return out;
}
