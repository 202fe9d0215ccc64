/**
 * At most one report per key per interval (or a few, with `burst`). Something that can happen on
 * every frame or on every reconnect (a camera's source error, a stepping wall clock, a failing
 * pipeline stage) is reported once, then at most once an interval with how many times it happened
 * meanwhile: a camera in a failure loop floods neither the MQTT outbox nor the log.
 */
export class Throttle {
  private readonly keys = new Map<string, { at: number; reports: number; count: number }>();
  private readonly burst: number;

  /**
   * `now` is a monotonic clock in ms (Clock.monotonic). `strictly`: a new interval needs more than
   * `intervalMs` since the last one began; otherwise `intervalMs` is enough. `burst` (default 1):
   * reports allowed in one interval, which begins at the first report after the last one ended; a
   * failure that prints several lines at once (a program's error, then its exit) is seen whole.
   */
  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
    private readonly o: { readonly strictly?: boolean; readonly burst?: number } = {},
  ) {
    this.burst = o.burst ?? 1;
    if (!(Number.isInteger(this.burst) && this.burst >= 1)) throw new RangeError(`burst must be a whole number >= 1, got ${o.burst}`);
  }

  /**
   * Counts one occurrence of `key`. Returns how many occurrences to report now (this one and those
   * held back since the last report), or 0 while the interval's reports are used up.
   */
  take(key: string): number {
    let k = this.keys.get(key);
    if (!k) {
      k = { at: Number.NEGATIVE_INFINITY, reports: 0, count: 0 };
      this.keys.set(key, k);
    }
    k.count++;
    const now = this.now();
    const since = now - k.at;
    if (this.o.strictly ? since > this.intervalMs : since >= this.intervalMs) {
      k.at = now;
      k.reports = 0;
    }
    if (k.reports >= this.burst) return 0;
    k.reports++;
    const n = k.count;
    k.count = 0;
    return n;
  }

  /** Whether `key`'s reports are used up for the interval now running: its next occurrence is held back. */
  spent(key: string): boolean {
    const k = this.keys.get(key);
    if (!k || k.reports < this.burst) return false;
    const since = this.now() - k.at;
    return this.o.strictly ? since <= this.intervalMs : since < this.intervalMs;
  }
}
