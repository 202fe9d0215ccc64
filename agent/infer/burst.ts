/**
 * The scheduler for several cameras on one model: frames gathered from the cameras are letterboxed
 * one by one as the job's `next` hands them over, each into a slot of its own (the job decides how
 * long to wait for the next: the agent's Pipeline hands each camera's frame over as it arrives, so
 * that the camera's next frame waits in its queue instead of replacing it), and then the model runs
 * on all of them back to back, before any is decoded. The agent's Pipeline uses it when it gathers
 * its cameras' frames (`model.gather`, PipelineOptions.gatherMs); overlap.ts is the
 * one-frame-at-a-time alternative.
 *
 * Why: a model run costs more CPU after its thread has slept than right after another run (caches
 * and predictors are cold, and on a VM the host ran something else meanwhile): measured on the
 * shipped model beside 4 cameras' pipes, 40 single runs a second cost 16-21% more CPU per run than
 * 10 bursts of 4 (docs/performance.md). The runs of a burst are started in one turn of the event
 * loop, so nothing else runs between them: on the main thread, ONNX Runtime's run() defers its
 * native call with setImmediate, and the immediates queued in one turn run one after another; in
 * the worker, the run requests arrive together and are run the same way. Reading the cameras' pipes
 * between the runs would take back the warmth the burst keeps.
 *
 * The job's contract is overlap.ts's (OverlapJob), with one difference: `started` is called for each
 * frame once it is letterboxed, before its burst runs, not while its run is under way; and
 * `next(false)` may return a promise (a frame still to come, or undefined: the burst starts).
 *
 * A burst's frames are decoded before the next burst letterboxes anything, and the job hands over
 * each camera's frame at most once a burst. So on the main thread a frame may stay in the tensor of
 * the letterbox kernel placed in its camera's memory, and the model read it there, instead of a copy
 * in its slot (Detector.readInputInPlace, which the agent's Pipeline turns on with gathering): the
 * camera's next frame, which rewrites that tensor, is letterboxed only in a later burst.
 */
import { decoded, type OverlapJob, type SlotSteps } from './overlap.js';
import type { RawFrame } from '../preprocess/letterbox.js';

/** The most frames a burst holds (the agent gives its detector one slot per camera, up to this). */
export const MAX_BURST = 8;

const ignore = (): undefined => undefined;

/**
 * Runs `job`'s frames through `steps` in bursts of at most `size` (at most the number of slots
 * `steps` goes round), until `next(true)` ends them; `onBurst` hears how many frames each burst
 * runs, as it starts them. Rejects with what `job` throws, once the burst's runs have settled.
 */
export async function burst<F extends RawFrame, S>(steps: SlotSteps<S>, job: OverlapJob<F, S>, size: number, onBurst?: (frames: number) => void): Promise<void> {
  if (!(size >= 1)) throw new Error(`a burst needs at least 1 slot, got ${size}`);
  // Reused by every burst: its letterboxed slots, and their runs.
  const slots: S[] = [];
  const runs: Promise<void>[] = [];
  /** Runs started and not yet awaited: runs[settled..started). */
  let started = 0;
  let settled = 0;
  try {
    for (;;) {
      const first = job.next(true);
      let frame = first instanceof Promise ? await first : first;
      if (frame === undefined) return;
      let count = 0;
      for (let taken = 1; ; taken++) {
        const slot = steps.nextSlot();
        let ok = true;
        try {
          await steps.preprocess(frame, slot);
        } catch (e) {
          ok = false;
          job.failed('preprocess', e, slot);
        }
        if (ok) {
          slots[count++] = slot;
          job.started(frame, slot);
        }
        if (taken >= size) break;
        const more = job.next(false);
        frame = more instanceof Promise ? await more : more;
        if (frame === undefined) break;
      }
      // Every run is started in this turn, so that they run back to back.
      if (count > 0) onBurst?.(count);
      settled = 0;
      for (started = 0; started < count; started++) {
        const run = steps.infer(slots[started]!);
        run.catch(ignore); // awaited below, or on the way out: never unhandled
        runs[started] = run;
      }
      // A detector's runs settle in the order they started: once the last has, all have, and no
      // decoding ran between them.
      await runs[started - 1]?.catch(ignore);
      while (settled < started) {
        const k = settled++;
        const slot = slots[k]!;
        let failed = false;
        let error: unknown;
        try {
          await runs[k];
        } catch (e) {
          failed = true;
          error = e;
        }
        if (failed) job.failed('inference', error, slot);
        else if (decoded(steps, job, slot)) job.finished(slot);
      }
    }
  } finally {
    while (settled < started) await runs[settled++]!.catch(ignore);
  }
}
