/**
 * One number per feature family for a judged window, on one scale for every score: 1 is the warn
 * threshold and 2 the alert threshold, whatever the score's own units and its window length. A
 * dashboard can then plot the five families of a camera together with two fixed lines, and the
 * thresholds it draws are exactly the ones the verdict used.
 *
 * Each judged score is mapped piecewise linearly: value / warn up to warn; from 1 to 2 between warn
 * and alert; beyond alert it goes on with the slope it had between them. A detector without an alert
 * level (the sequential CUSUM detectors) stays below 2. A score over its warn threshold that did not
 * drive the verdict (the effect-size gate held it back: significant but too small to matter) is shown
 * at 1, on the line, so the plot never shows a family over the line while the verdict says ok. The
 * family's number is the largest of its scores.
 */
import { familyOf } from '../../protocol/families.js';
import type { FeatureFamily } from '../../protocol/features.js';
import { onThresholdScale } from '../../protocol/levels.js';
import type { Judge } from './judge.js';
import type { DriftResult } from './types.js';

/** The scale's mapping lives in protocol/levels.ts, which the collector shares. */
export { onThresholdScale };

/**
 * Per family, the largest of its scores on the threshold scale; empty for a window that was not
 * judged (too few frames, or beyond the reference's reach). Families with no finite score are left out.
 */
export function familyScores(result: DriftResult, judge: Judge): Partial<Record<FeatureFamily, number>> {
  if (result.severity !== 'ok' && result.severity !== 'warn' && result.severity !== 'alert') return {};
  const { warn, alert } = judge.thresholdsFor(result.frames);
  const drivers = new Map(result.drivers.map((d) => [d.key, d]));
  const out: Partial<Record<FeatureFamily, number>> = {};
  const take = (key: string, v: number): void => {
    const f = familyOf(key);
    if (!(v <= (out[f] ?? Number.NEGATIVE_INFINITY))) out[f] = v;
  };
  judge.ref.keys.forEach((key, k) => {
    const v = result.scores[key];
    const w = warn[k]!;
    if (key.startsWith('mean:') || v === undefined || !Number.isFinite(v) || !(w > 0)) return;
    const x = onThresholdScale(v, w, alert[k]!);
    take(key, x > 1 && !drivers.has(key) ? 1 : x);
  });
  // The sequential detectors are not window scores: they count only when they signalled.
  for (const d of drivers.values()) if (d.key.startsWith('cusum:') && d.warn > 0) take(d.key, onThresholdScale(d.value, d.warn, d.alert));
  return out;
}
