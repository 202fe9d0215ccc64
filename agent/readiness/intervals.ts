/**
 * Confidence intervals for the readiness report. A precision of 0.98 measured on 50 detections and
 * one measured on 5,000 are different claims, and a go/no-go decision has to see the difference, so
 * every rate the report prints carries an interval:
 *
 * - Proportions (precision, recall, miss rate): the Wilson score interval. Unlike the Wald interval
 *   it stays inside [0, 1], is not degenerate at 0/n or n/n, and holds its coverage at the small
 *   counts that rare defect classes give.
 * - Counts over an exposure (false alarms per 1,000 images): the exact (Garwood) Poisson interval,
 *   lo = Γ⁻¹(α/2; k), hi = Γ⁻¹(1 − α/2; k + 1), both divided by the exposure. It is conservative
 *   (coverage ≥ 1 − α) and it is meaningful at k = 0, where "no false alarm in 300 images" still
 *   allows up to 12.3 per 1,000. The gamma quantile is computed here (series and continued fraction
 *   for the regularised incomplete gamma, then a safeguarded Newton inversion), so the module has no
 *   dependency.
 *
 * Everything here is pure arithmetic: no allocation beyond the returned pair.
 */

export interface Interval {
  readonly lo: number;
  readonly hi: number;
}

/** The two-sided 95% normal quantile, Φ⁻¹(0.975). */
export const Z95 = 1.959964;

/**
 * Wilson score interval for k successes in n trials (k and n may be non-integer "effective" counts).
 * n = 0 carries no information: {0, 1}.
 */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (!(n > 0)) return { lo: 0, hi: 1 };
  const p = Math.min(1, Math.max(0, k / n));
  const z2 = z * z;
  const d = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / d;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / d;
  // At 0/n and n/n the bound that touches the edge is exactly the edge.
  return { lo: p === 0 ? 0 : Math.max(0, centre - half), hi: p === 1 ? 1 : Math.min(1, centre + half) };
}

/**
 * Exact (Garwood) interval for a Poisson rate: k events over `exposure` units (images). The result is
 * per unit of exposure; multiply by 1,000 for a rate per 1,000 images. exposure = 0 gives {0, ∞}.
 */
export function poisson(k: number, exposure: number, confidence = 0.95): Interval {
  if (!(exposure > 0)) return { lo: 0, hi: Number.POSITIVE_INFINITY };
  const alpha = 1 - confidence;
  const lo = k > 0 ? gammaQuantile(alpha / 2, k) : 0;
  const hi = gammaQuantile(1 - alpha / 2, k + 1);
  return { lo: lo / exposure, hi: hi / exposure };
}

/** The two-sided confidence level of a normal quantile z, erf(z/√2) (1.959964 → 0.95), by its Taylor series. */
export function twoSidedConfidence(z: number): number {
  if (z === Z95) return 0.95;
  // erf(x) = 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1)); beyond x = 5, erf differs from 1 by < 2e-12.
  const x = Math.abs(z) / Math.SQRT2;
  if (x > 5) return 1;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** The chi-square quantile with `df` degrees of freedom: 2·Γ⁻¹(p; df/2). */
export function chiSquareQuantile(p: number, df: number): number {
  return 2 * gammaQuantile(p, df / 2);
}

const HALF_LN_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0: shift up to x ≥ 15 by Γ(x+1) = xΓ(x), then Stirling's series (error ~1e-14). */
export function lnGamma(x: number): number {
  let product = 1;
  while (x < 15) {
    product *= x;
    x += 1;
  }
  const shift = Math.log(product);
  const inv = 1 / x;
  const inv2 = inv * inv;
  const series = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680))));
  return (x - 0.5) * Math.log(x) - x + HALF_LN_2PI + series - shift;
}

const EPS = 1e-15;
const TINY = 1e-300;

/** The regularised lower incomplete gamma P(a, x) = γ(a, x) / Γ(a), for a > 0. */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  if (!Number.isFinite(x)) return 1;
  const logPrefix = a * Math.log(x) - x - lnGamma(a);
  return x < a + 1 ? Math.exp(logPrefix) * lowerSeries(a, x) : 1 - Math.exp(logPrefix) * upperFraction(a, x);
}

/** Σ xⁿ / (a(a+1)…(a+n)): γ(a, x) = e⁻ˣ xᵃ times this. Converges fast for x < a + 1. */
function lowerSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < 10_000; n++) {
    term *= x / (a + n);
    sum += term;
    if (term < sum * EPS) break;
  }
  return sum;
}

/**
 * Γ(a, x) = e⁻ˣ xᵃ / (x + 1 − a − 1·(1 − a) / (x + 3 − a − 2·(2 − a) / (x + 5 − a − …))), evaluated
 * by the modified Lentz method. Converges fast for x ≥ a + 1.
 */
function upperFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let f = d;
  for (let n = 1; n < 10_000; n++) {
    const an = -n * (n - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const step = d * c;
    f *= step;
    if (Math.abs(step - 1) < EPS) break;
  }
  return f;
}

/**
 * The gamma quantile Γ⁻¹(p; a): the x with P(a, x) = p (shape a, scale 1). Newton steps on
 * P(a, x) − p, kept inside a bracket that bisection shrinks whenever a step would leave it.
 */
export function gammaQuantile(p: number, a: number): number {
  if (!(a > 0) || !(p >= 0 && p <= 1)) return Number.NaN;
  if (p === 0) return 0;
  if (p === 1) return Number.POSITIVE_INFINITY;
  let lo = 0;
  let hi = a + 10 * Math.sqrt(a) + 10;
  while (gammaP(a, hi) < p) {
    lo = hi;
    hi *= 2;
  }
  const lnGa = lnGamma(a);
  let x = (lo + hi) / 2;
  for (let i = 0; i < 200; i++) {
    const f = gammaP(a, x) - p;
    if (f === 0) return x;
    if (f < 0) lo = x;
    else hi = x;
    const density = Math.exp((a - 1) * Math.log(x) - x - lnGa);
    // An infinite or vanishing density (x near 0 with a < 1, or far in a tail) gives NaN: bisect.
    let next = density > 0 && Number.isFinite(density) ? x - f / density : Number.NaN;
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - x) <= 1e-14 * Math.max(1, x) || hi - lo <= 1e-15 * Math.max(1, x)) return next;
    x = next;
  }
  return x;
}
