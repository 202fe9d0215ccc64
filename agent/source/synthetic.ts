/**
 * The synthetic line camera as a live source: frames from the renderer at a fixed rate, under a
 * condition schedule — keyframes interpolated linearly, e.g. gain falling by 40% over 10 minutes.
 */
import type { Clock } from '../../lib/clock.js';
import { LineCamera } from '../synth/camera.js';
import { CONDITION_KEYS, DEFAULT_CONDITIONS, type Conditions } from '../synth/conditions.js';
import { BaseSource, type SourceFrame } from './source.js';

export interface Keyframe {
  /** Seconds since the source started. */
  readonly at: number;
  readonly conditions: Partial<Conditions>;
}

/** Keyframes in time order: a config may list them in any order. */
export function sortSchedule(schedule: readonly Keyframe[]): Keyframe[] {
  return [...schedule].sort((x, y) => x.at - y.at);
}

/** Conditions at time t: linear between the surrounding keyframes (in time order), held after the last. */
export function conditionsAt(sorted: readonly Keyframe[], t: number, base: Conditions = DEFAULT_CONDITIONS): Conditions {
  if (sorted.length === 0) return { ...base };
  let i = 0;
  while (i < sorted.length && sorted[i]!.at <= t) i++;
  const a = sorted[Math.max(0, i - 1)]!;
  const b = sorted[Math.min(sorted.length - 1, i)]!;
  const ca = { ...base, ...a.conditions };
  if (i === 0 || i >= sorted.length || b.at === a.at) return i === 0 ? { ...base, ...sorted[0]!.conditions } : ca;
  const cb = { ...base, ...b.conditions };
  const f = (t - a.at) / (b.at - a.at);
  const out = { ...ca };
  for (const k of CONDITION_KEYS) out[k] = ca[k] + (cb[k] - ca[k]) * f;
  return out;
}

export interface SyntheticSourceOptions {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly seed: number;
  readonly schedule?: readonly Keyframe[];
  /** Clock for the schedule, in seconds since start; default wall time. Tests pass their own. */
  readonly clock?: () => number;
  /** The clock frames are stamped with (lib/clock.ts); default the system's. */
  readonly wallClock?: Clock;
}

export class SyntheticSource extends BaseSource {
  /** The schedule in time order, sorted once: a config may list keyframes in any order. */
  private readonly schedule: readonly Keyframe[];

  private timer: NodeJS.Timeout | undefined;
  private readonly camera: LineCamera;
  /** Conditions of the most recent frame. */
  current: Conditions = { ...DEFAULT_CONDITIONS };

  constructor(readonly o: SyntheticSourceOptions) {
    super(o.name, o.width, o.height, o.wallClock);
    this.camera = new LineCamera(o.width, o.height, o.seed);
    this.schedule = sortSchedule(o.schedule ?? []);
  }

  start(onFrame: (f: SourceFrame) => void): void {
    const t0 = performance.now();
    const clock = this.o.clock ?? ((): number => (performance.now() - t0) / 1000);
    this.setState('streaming');
    const emit = (): void => {
      this.current = conditionsAt(this.schedule, clock());
      const f = this.camera.next(this.current);
      this.view.data = f.data;
      onFrame(this.stamp());
    };
    this.timer = setInterval(emit, 1000 / this.o.fps);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.setState('stopped');
  }
}
