/**
 * Two agents with one device identity (a cloned SD card, a copied config) take over each other's
 * broker session: each connection is closed moments after it opens, every few hundred ms, for ever.
 * MQTT 3.1.1 (all aedes speaks, and what the agent uses) sends no reason with the disconnect, so the
 * pattern is the signal: several sessions that each ended within `shortMs` of their start, inside
 * `windowMs`. The publisher then says so once a minute (DRIFTLINE_ERR_DUPLICATE_DEVICE) and stops
 * resetting its backoff, so the two stop fighting at full speed.
 */
export interface TakeoverOptions {
  /** A session shorter than this counts (default 5 s). */
  readonly shortMs?: number;
  /** This many short sessions... (default 3) */
  readonly count?: number;
  /** ...within this long mean a takeover (default 60 s). */
  readonly windowMs?: number;
}

export class TakeoverDetector {
  private readonly ends: number[] = [];
  private lastReported = -Infinity;
  /** Takeover patterns seen (counted once a minute at most). */
  reported = 0;

  constructor(private readonly o: TakeoverOptions = {}) {}

  /**
   * A session that reached CONNACK ended after `livedMs`. Returns true when the pattern holds and
   * has not been reported in the last minute.
   */
  sessionEnded(livedMs: number, now = Date.now()): boolean {
    const windowMs = this.o.windowMs ?? 60_000;
    while (this.ends.length && now - this.ends[0]! > windowMs) this.ends.shift();
    if (livedMs >= (this.o.shortMs ?? 5000)) return false;
    this.ends.push(now);
    if (this.ends.length < (this.o.count ?? 3) || now - this.lastReported < 60_000) return false;
    this.lastReported = now;
    this.reported++;
    return true;
  }

  /** True while short sessions keep coming: the publisher keeps its backoff growing. */
  get suspected(): boolean {
    return this.ends.length >= (this.o.count ?? 3);
  }
}
