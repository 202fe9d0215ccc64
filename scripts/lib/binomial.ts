/** Exact (Clopper–Pearson) binomial bounds, for rates measured from counts of rare events. */

/** ln C(n, k), by summing logs (n is at most a few hundred thousand here). */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** P(X <= k) for X ~ Binomial(n, p). */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k >= n || p <= 0) return 1;
  if (p >= 1) return 0;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  let s = 0;
  for (let i = 0; i <= k; i++) s += Math.exp(logChoose(n, i) + i * lp + (n - i) * lq);
  return Math.min(1, s);
}

/**
 * One-sided upper confidence bound on p after k events in n independent trials, at `level` (0.95):
 * the p at which seeing k or fewer events has probability 1 − level. With k = 0 it is
 * 1 − (1 − level)^(1/n), about 3/n (the "rule of three").
 */
export function binomialUpper(k: number, n: number, level = 0.95): number {
  if (n <= 0) return 1;
  if (k >= n) return 1;
  const alpha = 1 - level;
  if (k === 0) return 1 - Math.pow(alpha, 1 / n);
  let lo = k / n;
  let hi = 1;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (binomialCdf(k, n, mid) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}
