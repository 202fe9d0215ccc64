/**
 * Drift scores per window cost O(bins), not O(frames): every metric works on histogram counts.
 * Prints µs per window for 18 features x 16 bins (+ under/overflow), for windows of 60 and of
 * 60,000 frames; the two figures should match.
 */
import { chiSquare, jsDistance, ksStatistic, psi, wasserstein1 } from '../agent/drift/metrics.js';
import { header, line, measure, ratio } from './harness.js';

const FEATURES = 18;
const BINS = 18;

function histograms(frames: number, seed: number): Float64Array[] {
  let s = seed;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  return Array.from({ length: FEATURES }, () => {
    const h = new Float64Array(BINS);
    for (let i = 0; i < frames; i++) h[Math.min(BINS - 1, Math.floor(((rnd() + rnd() + rnd()) / 3) * BINS))]!++;
    return h;
  });
}

export async function bench(seconds: number): Promise<void> {
  header(`drift scores per window: ${FEATURES} features x ${BINS} bins, PSI + JS + KS + W1, plus class-mix chi-square`);
  const reference = histograms(20_000, 1);
  const widths = new Float64Array(BINS).fill(1);
  const perWindow = (win: Float64Array[]): (() => void) => () => {
    for (let f = 0; f < FEATURES; f++) {
      psi(reference[f]!, win[f]!);
      jsDistance(reference[f]!, win[f]!);
      ksStatistic(reference[f]!, win[f]!);
      wasserstein1(reference[f]!, win[f]!, widths);
    }
    chiSquare(reference[0]!.subarray(0, 4), win[0]!.subarray(0, 4));
  };
  const small = await measure(seconds / 2, perWindow(histograms(60, 2)), 100);
  const large = await measure(seconds / 2, perWindow(histograms(60_000, 3)), 100);
  line('window of 60 frames', `${(small.msEach * 1000).toFixed(2)} µs`);
  line('window of 60,000 frames', `${(large.msEach * 1000).toFixed(2)} µs`);
  ratio('cost ratio 60,000 / 60 frames (O(bins): about 1)', large.msEach / small.msEach, 1.5, false);
}
