/**
 * The threshold scale: one number for any drift score, whatever its units and window length, on
 * which the warn threshold is 1 and the alert threshold 2. The agent puts each feature family's
 * score on it (agent/drift/family-scores.ts: its metrics and the summary's `familyScores`), and the
 * collector's timeline plots a window's level on it with two fixed lines: the thresholds it draws are
 * exactly the ones the verdict used.
 */
import type { SummaryMessage, Verdict } from './messages.js';

/**
 * A verdict as a number, as both sides' verdict gauges (`driftline_agent_drift_verdict`,
 * `driftline_collector_camera_verdict`) and the dashboards read it: worse is higher, and the windows
 * that were not judged are negative, so `> 0` means drifting and `>= 0` means judged.
 */
export const VERDICT_VALUES: Readonly<Record<Verdict, number>> = { ok: 0, warn: 1, alert: 2, insufficient: -1, unscored: -2 };

/** Where the thresholds sit on the scale. */
export const THRESHOLD_LEVELS = { warn: 1, alert: 2 } as const;

/**
 * A value on the scale: value / warn up to warn; from 1 to 2 between warn and alert; beyond alert on
 * with the slope it had between them. A score without an alert level (a sequential detector; null
 * or infinite) stays below 2, however far past warn.
 */
export function onThresholdScale(value: number, warn: number, alert: number): number {
  if (value <= warn) return value / warn;
  if (!Number.isFinite(alert) || !(alert > warn)) return Math.min(1.99, 1 + (value - warn) / warn);
  return 1 + (value - warn) / (alert - warn);
}

/**
 * A window's level: the largest of its family scores and of its drivers on the scale (a summary
 * from an agent that sends no `familyScores` still places its drifting windows by their drivers).
 * Undefined when the window was not judged (insufficient, unscored), or when it was ok and says
 * nothing about how far below warn it was.
 */
export function windowLevel(s: Pick<SummaryMessage, 'status' | 'familyScores' | 'drivers'>): number | undefined {
  if (s.status !== 'ok' && s.status !== 'warn' && s.status !== 'alert') return undefined;
  let level: number | undefined;
  const take = (x: number): void => {
    if (Number.isFinite(x) && !(x <= (level ?? Number.NEGATIVE_INFINITY))) level = x;
  };
  for (const v of Object.values(s.familyScores ?? {})) if (typeof v === 'number') take(v);
  for (const d of s.drivers ?? []) if (d.warn !== null && d.warn > 0) take(onThresholdScale(d.value, d.warn, d.alert ?? Number.POSITIVE_INFINITY));
  return level;
}
