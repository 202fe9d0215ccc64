/**
 * At most one report per key per interval. Something that can happen on every frame or on every
 * reconnect (a camera's source error, a stepping wall clock, a failing pipeline stage) is reported
 * once, then at most once an interval with how many times it happened meanwhile: a camera in a
 * failure loop floods neither the MQTT outbox nor the log.
 */
export class Throttle {
  private readonly keys = new Map<string, { at: number; count: number }>();

  /**
   * `now` is a monotonic clock in ms (Clock.monotonic). `strictly`: a report needs more than
   * `intervalMs` since the last one; otherwise `intervalMs` is enough.
   */
  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
    private readonly o: { readonly strictly?: boolean } = {},
  ) {}

  /**
   * Counts one occurrence of `key`. Returns how many occurrences to report now (this one and those
   * held back since the last report), or 0 while the interval since the last report has not passed.
   */
  take(key: string): number {
    let k = this.keys.get(key);
    if (!k) {
      k = { at: Number.NEGATIVE_INFINITY, count: 0 };
      this.keys.set(key, k);
    }
    k.count++;
    const now = this.now();
    const since = now - k.at;
    if (this.o.strictly ? since <= this.intervalMs : since < this.intervalMs) return 0;
    k.at = now;
    const n = k.count;
    k.count = 0;
    return n;
  }
}
