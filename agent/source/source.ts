/**
 * The camera source interface. A source delivers raw RGB24 frames of a size fixed at start-up,
 * reports its state, and heals itself: reconnect with exponential backoff and jitter, and a stall
 * watchdog that restarts a source which has delivered nothing for `stallMs`. It never kills a
 * source that is merely slow: any bytes arriving count as life.
 */

import { systemClock, type Clock } from '../../lib/clock.js';

export const SOURCE_STATES = ['connecting', 'streaming', 'stalled', 'backoff', 'ended', 'stopped'] as const;
export type SourceState = (typeof SOURCE_STATES)[number];

export interface SourceFrame {
  /** RGB24 pixels, owned by the source: valid only during the onFrame call. */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 3;
  /** Capture time (ms since the epoch, wall clock), taken when the last byte of the frame arrived. */
  readonly ts: number;
  /** The same instant on the monotonic clock (lib/clock.ts): what durations and clock steps are measured on. */
  readonly mono: number;
  /** Frame counter of this source, across reconnects. */
  readonly index: number;
  /**
   * Present when the source fills buffers of its own and can lend this one: `exchange(spare)` hands
   * `data` over to the caller for good, and the source fills `spare` (a buffer of the same length)
   * from then on. Only during the onFrame call. Absent: copy `data` to keep it.
   */
  readonly exchange?: (spare: Uint8Array) => void;
}

export interface SourceCounters {
  frames: number;
  reconnects: number;
  stalls: number;
  errors: number;
}

export interface FrameSource {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly state: SourceState;
  readonly counters: Readonly<SourceCounters>;
  /**
   * True for a source that can wait for the pipeline (a recorded file read as fast as it decodes):
   * the pipeline pauses it after each frame and resumes it once it has taken that frame, so no frame
   * is dropped. A live camera is never paced: when the pipeline is slower, its frames are dropped
   * and counted.
   */
  readonly paced: boolean;
  start(onFrame: (f: SourceFrame) => void): void;
  stop(): Promise<void>;
  /** Paced sources: deliver nothing more until resume(). Others ignore it. */
  pause(): void;
  resume(): void;
  /** Called on every state change and on every error (with a one-line reason). */
  onEvent?: (e: { type: 'state'; state: SourceState } | { type: 'error'; reason: string }) => void;
}

/** State, counters and events that every source kind shares. */
export abstract class BaseSource implements FrameSource {
  /** The frame handed to onFrame: one object per source, its fields overwritten per frame. */
  protected readonly view: { data: Uint8Array; width: number; height: number; channels: 3; ts: number; mono: number; index: number; exchange?: (spare: Uint8Array) => void };
  readonly counters: SourceCounters = { frames: 0, reconnects: 0, stalls: 0, errors: 0 };
  onEvent?: FrameSource['onEvent'];
  readonly paced: boolean = false;
  private _state: SourceState = 'stopped';

  constructor(
    readonly name: string,
    readonly width: number,
    readonly height: number,
    private readonly clock: Clock = systemClock,
  ) {
    this.view = { data: new Uint8Array(0), width, height, channels: 3, ts: 0, mono: 0, index: 0 };
  }

  /** Stamps the view with the capture time and the next frame index. */
  protected stamp(): SourceFrame {
    this.view.ts = this.clock.now();
    this.view.mono = this.clock.monotonic();
    this.view.index = this.counters.frames++;
    return this.view;
  }

  get state(): SourceState {
    return this._state;
  }

  protected setState(s: SourceState): void {
    if (s === this._state) return;
    this._state = s;
    this.onEvent?.({ type: 'state', state: s });
  }

  protected error(reason: string): void {
    this.counters.errors++;
    this.onEvent?.({ type: 'error', reason });
  }

  abstract start(onFrame: (f: SourceFrame) => void): void;
  abstract stop(): Promise<void>;
  pause(): void {}
  resume(): void {}
}

export { backoffDelay, DEFAULT_BACKOFF, type Backoff } from '../../lib/backoff.js';
