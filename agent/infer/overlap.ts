/**
 * The one scheduler that keeps two frames in flight through a detector: while frame i infers (in
 * the worker thread, when there is one), frame i+1 is letterboxed into another slot, and frame i-1
 * is decoded and handed on once frame i's inference has started. Detector.run (finite sequences) and
 * the agent's Pipeline (live cameras) both run on it; they differ only in where frames come from and
 * what happens to each, which their `OverlapJob` says. A frame that fails at a step goes to
 * `failed` with the step and the reason, and the next frames carry on.
 */
import type { RawFrame } from '../preprocess/letterbox.js';

/** The steps the scheduler runs for a frame, in order. */
export type OverlapStage = 'preprocess' | 'inference' | 'postprocess';

/** What the scheduler drives (a Detector): round-robin slots, and a frame's three steps in a slot. */
export interface SlotSteps<S> {
  nextSlot(): S;
  preprocess(frame: RawFrame, slot: S): Promise<void>;
  infer(slot: S): Promise<void>;
  postprocess(slot: S): void;
}

/** Where the frames come from and what is done with each. */
export interface OverlapJob<F extends RawFrame, S> {
  /**
   * The next frame, or undefined. `idle`: no frame is in flight, so this may wait for one, and
   * undefined ends the run. Otherwise undefined means none now: the frame in flight is finished
   * first, then this is asked again.
   */
  next(idle: boolean): F | undefined | Promise<F | undefined>;
  /**
   * `frame` is letterboxed into `slot` and its inference has started (in a burst, burst.ts: starts
   * with the burst's other frames, once they are gathered): the work that overlaps it. `frame` is not
   * read after this.
   */
  started(frame: F, slot: S): void;
  /** The frame in `slot` is decoded: its results are valid until this returns. */
  finished(slot: S): void;
  /** The frame in `slot` failed at `stage`: neither `started` (after `preprocess`) nor `finished` follows for it. */
  failed(stage: OverlapStage, error: unknown, slot: S): void;
}

const ignore = (): undefined => undefined;

/**
 * Runs `job`'s frames through `steps` until `next` ends them. Rejects with what `job` throws, once
 * the inference in flight (if any) has settled.
 */
export async function overlap<F extends RawFrame, S>(steps: SlotSteps<S>, job: OverlapJob<F, S>): Promise<void> {
  let inFlight: S | undefined;
  let inference: Promise<void> = Promise.resolve();
  try {
    for (;;) {
      const asked = job.next(inFlight === undefined);
      const frame = asked instanceof Promise ? await asked : asked; // a frame at hand costs no extra turn
      if (frame === undefined && inFlight === undefined) return;
      let prepared: S | undefined;
      if (frame) {
        const slot = steps.nextSlot();
        try {
          await steps.preprocess(frame, slot);
          prepared = slot;
        } catch (e) {
          job.failed('preprocess', e, slot);
        }
      }
      // Wait for the frame in inference, start the next one at once, then decode the finished one
      // while the next runs.
      const finished = inFlight;
      inFlight = undefined;
      let inferenceFailed = false;
      let inferenceError: unknown;
      if (finished !== undefined) {
        try {
          await inference;
        } catch (e) {
          inferenceFailed = true;
          inferenceError = e;
        }
      }
      if (frame && prepared !== undefined) {
        inference = steps.infer(prepared);
        inference.catch(ignore); // awaited next time round, or on the way out: never unhandled
        inFlight = prepared;
        job.started(frame, prepared);
      }
      if (finished !== undefined) {
        if (inferenceFailed) job.failed('inference', inferenceError, finished);
        else if (decoded(steps, job, finished)) job.finished(finished);
      }
    }
  } finally {
    if (inFlight !== undefined) await inference.catch(ignore);
  }
}

/** Decodes the frame in `slot`; false when that failed (and `job` was told). */
export function decoded<F extends RawFrame, S>(steps: SlotSteps<S>, job: OverlapJob<F, S>, slot: S): boolean {
  try {
    steps.postprocess(slot);
    return true;
  } catch (e) {
    job.failed('postprocess', e, slot);
    return false;
  }
}
