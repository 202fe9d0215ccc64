/**
 * Slot steps for testing the detector's schedulers (agent/infer/overlap.ts, burst.ts) on their own:
 * `n` slots, each step logged; frame k's pixels hold k, and `fail` names the step that throws for a
 * frame. An inference takes 2 ms of timer, so runs started together are under way together.
 */
import type { SlotSteps } from '../../agent/infer/overlap.js';

export type FailAt = Record<number, 'preprocess' | 'inference' | 'postprocess'>;

export function loggedSteps(n: number, log: string[], fail: FailAt): SlotSteps<{ index: number; frame: number }> {
  const slots = Array.from({ length: n }, (_, index) => ({ index, frame: -1 }));
  let next = 0;
  return {
    nextSlot: () => slots[next++ % n]!,
    async preprocess(frame, slot) {
      slot.frame = frame.data[0]!;
      log.push(`pre ${slot.frame}`);
      if (fail[slot.frame] === 'preprocess') throw new Error(`bad pixels ${slot.frame}`);
    },
    async infer(slot) {
      log.push(`infer ${slot.frame}`);
      await new Promise((r) => setTimeout(r, 2));
      log.push(`inferred ${slot.frame}`);
      if (fail[slot.frame] === 'inference') throw new Error(`model failed ${slot.frame}`);
    },
    postprocess(slot) {
      log.push(`post ${slot.frame}`);
      if (fail[slot.frame] === 'postprocess') throw new Error(`decode failed ${slot.frame}`);
    },
  };
}
