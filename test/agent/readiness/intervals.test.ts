import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chiSquareQuantile, gammaP, gammaQuantile, lnGamma, poisson, twoSidedConfidence, wilson } from '../../../agent/readiness/intervals.js';

function close(actual: number, expected: number, tol = 1e-6, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} != ${expected} (±${tol})`);
}

test('wilson: 9/400, 0/10, 10/10 and n = 0 against the closed form', () => {
  // centre = (k + z²/2)/(n + z²), half = z/(n + z²)·√(k(n−k)/n + z²/4), z² = 3.841459:
  // 9/400: centre 10.920730/403.841459 = 0.0270421, half 0.0048533·√(8.7975 + 0.960365) = 0.0151603.
  const a = wilson(9, 400);
  close(a.lo, 0.0118816, 1e-6, 'lo');
  close(a.hi, 0.0422027, 1e-6, 'hi');
  // 0/10: lo = 0 exactly, hi = z²/(n + z²) = 3.841459/13.841459 = 0.2775328.
  assert.equal(wilson(0, 10).lo, 0);
  close(wilson(0, 10).hi, 0.2775328);
  // 10/10 mirrors it: lo = n/(n + z²) = 10/13.841459 = 0.7224672, hi = 1 exactly.
  close(wilson(10, 10).lo, 0.7224672);
  assert.equal(wilson(10, 10).hi, 1);
  assert.deepEqual(wilson(0, 0), { lo: 0, hi: 1 });
  // A wider z widens the interval.
  assert.ok(wilson(9, 400, 2.575829).lo < a.lo && wilson(9, 400, 2.575829).hi > a.hi);
});

test('poisson: exact Garwood intervals at k = 0, 1, 10, 100, scaled by exposure', () => {
  // k = 0: hi = Γ⁻¹(0.975; 1) = −ln 0.025 = 3.6888795 (the exponential quantile); lo = 0.
  const z0 = poisson(0, 1);
  assert.equal(z0.lo, 0);
  close(z0.hi, -Math.log(0.025), 1e-9);
  // k = 1: lo = Γ⁻¹(0.025; 1) = −ln 0.975 = 0.0253178; hi solves 1 − e^−x (1 + x) = 0.975: 5.5716434.
  close(poisson(1, 1).lo, -Math.log(0.975), 1e-9);
  close(poisson(1, 1).hi, 5.5716434, 1e-6);
  // Tabulated exact limits (Garwood 1936; e.g. Ulm 1990): 10 → [4.7954, 18.3904], 100 → [81.364, 121.627].
  close(poisson(10, 1).lo, 4.7953887, 1e-6);
  close(poisson(10, 1).hi, 18.3903560, 1e-6);
  close(poisson(100, 1).lo, 81.3639913, 1e-5);
  close(poisson(100, 1).hi, 121.6267938, 1e-5);
  // Rate per image: 1 false alarm over 4 images → [0.0063295, 1.3929108] per image.
  close(poisson(1, 4).lo, 0.0253178 / 4, 1e-7);
  close(poisson(1, 4).hi, 5.5716434 / 4, 1e-6);
  assert.equal(poisson(3, 0).hi, Number.POSITIVE_INFINITY);
});

test('gamma and chi-square quantiles: closed forms, large shapes and the round trip', () => {
  // χ²(2) is exponential with mean 2: the 0.975 quantile is −2 ln 0.025 = 7.3777589.
  close(chiSquareQuantile(0.975, 2), -2 * Math.log(0.025), 1e-9);
  close(chiSquareQuantile(0.975, 22), 36.7807121, 1e-6); // the chi-square table's 36.781
  close(chiSquareQuantile(0.025, 20), 9.5907774, 1e-6); // the table's 9.591
  // Γ(½) shape: the median of χ²(1)/2 = 0.4549364/2.
  close(gammaQuantile(0.5, 0.5), 0.2274682, 1e-6);
  // Far tails of large shapes (Wilson–Hilferty: 1000·(1 − 1/9000 − 3.0902/√9000)³ ≈ 905.1).
  close(gammaQuantile(0.001, 1000), 905.12079, 1e-4);
  close(gammaQuantile(0.999, 1e5), 100980.0678, 1e-3);
  for (const [p, a] of [[0.3, 0.7], [0.025, 3], [0.975, 41], [0.5, 2000]] as const) close(gammaP(a, gammaQuantile(p, a)), p, 1e-10, `P(${a}, Q(${p}))`);
  // ln Γ(½) = ln √π; ln Γ(10) = ln 9!.
  close(lnGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-12);
  close(lnGamma(10), Math.log(362880), 1e-12);
  // P(1, x) = 1 − e^−x.
  close(gammaP(1, 1), 1 - Math.exp(-1), 1e-13);
  assert.equal(gammaQuantile(0, 3), 0);
  assert.ok(Number.isNaN(gammaQuantile(0.5, 0)));
});

test('twoSidedConfidence: erf(z/√2) for the usual quantiles', () => {
  close(twoSidedConfidence(1.959964), 0.95, 1e-12);
  close(twoSidedConfidence(1), 0.6826895, 1e-7);
  close(twoSidedConfidence(2.5758293), 0.99, 1e-7);
  assert.equal(twoSidedConfidence(9), 1);
});
