/** Exponential backoff with jitter: camera reconnects, MQTT reconnects, notifier retries. */
export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Fraction of each delay drawn at random (0–1), so a fleet does not reconnect in step. */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000, jitter: 0.5 };

/** The delay before reconnect attempt `attempt` (0-based). */
export function backoffDelay(b: Backoff, attempt: number, rand: () => number = Math.random): number {
  const base = Math.min(b.maxMs, b.initialMs * 2 ** Math.min(attempt, 30));
  return base * (1 - b.jitter) + base * b.jitter * rand();
}
