/**
 * Notices a step of the wall clock from one camera's frames. Each frame carries its capture time on
 * the wall clock and on the monotonic clock (lib/clock.ts); while the wall clock runs true their
 * difference only creeps (NTP slews by at most 0.5 ms/s), so a change of more than `toleranceMs`
 * between two frames is a step: an NTP correction at boot, an operator setting the date, an RTC
 * that lost its battery.
 *
 * The pipeline cuts the camera's window at a step, so that a window never spans one: its start and
 * end stay ordered and its length is the time it really covered.
 */
export class ClockSteps {
  private offset = Number.NaN;

  constructor(readonly toleranceMs: number) {}

  /** The step since the previous frame in ms (positive: the clock went forward), or 0 when none. */
  check(ts: number, mono: number): number {
    const offset = ts - mono;
    const step = Number.isNaN(this.offset) ? 0 : offset - this.offset;
    this.offset = offset;
    return Math.abs(step) > this.toleranceMs ? step : 0;
  }
}
