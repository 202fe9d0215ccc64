/**
 * The two clocks a process reads, behind one seam so that tests can move the wall clock the way an
 * edge box's clock really moves (an NTP step at boot, an operator setting the date, a dead RTC
 * battery) without touching the machine's clock.
 *
 * - `now()` is wall time, ms since the epoch: what goes on the wire (window start and end, event
 *   and status times). It may jump, backwards or forwards.
 * - `monotonic()` is ms since an arbitrary origin and never jumps: what durations are measured on.
 *
 * The difference between the two is constant while the wall clock runs true; a change of it is a
 * clock step (agent/pipeline/clock-steps.ts).
 */
export interface Clock {
  now(): number;
  monotonic(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now(), monotonic: () => performance.now() });
