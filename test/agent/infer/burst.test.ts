import assert from 'node:assert/strict';
import { test } from 'node:test';
import { burst } from '../../../agent/infer/burst.js';
import { Detector, type Slot } from '../../../agent/infer/detector.js';
import { loadModel } from '../../../agent/infer/model.js';
import type { OverlapJob } from '../../../agent/infer/overlap.js';
import type { RawFrame } from '../../../agent/preprocess/letterbox.js';
import { LineCamera } from '../../../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../../../agent/synth/conditions.js';
import { loggedSteps } from '../../helpers/logged-steps.js';

const MODEL = new URL('../../../models/line-detector.onnx', import.meta.url).pathname;

/**
 * Frames in groups, as cameras deliver them: `next(true)` (a new burst) gives the next group's first
 * frame, `next(false)` the rest of that group and then undefined; none left ends the run.
 */
function job(groups: number[][], log: string[]): OverlapJob<RawFrame, { frame: number }> {
  let g = -1;
  let i = 0;
  const frame = (k: number): RawFrame => ({ data: Uint8Array.of(k), width: 1, height: 1, channels: 3 });
  return {
    next: (idle) => {
      if (idle) {
        g++;
        i = 0;
        log.push(`next burst`);
      }
      const k = groups[g]?.[i++];
      return k === undefined ? undefined : frame(k);
    },
    started: (f) => log.push(`started ${f.data[0]}`),
    finished: (slot) => log.push(`finished ${slot.frame}`),
    failed: (stage, error, slot) => log.push(`failed ${slot.frame} ${stage}: ${(error as Error).message}`),
  };
}

test('a burst letterboxes every gathered frame, starts all their runs together, and decodes them in order once all have run', async () => {
  const log: string[] = [];
  await burst(loggedSteps(4, log, {}), job([[0, 1, 2], [3]], log), 4);
  assert.deepEqual(log, [
    'next burst',
    ...['pre 0', 'started 0', 'pre 1', 'started 1', 'pre 2', 'started 2'],
    ...['infer 0', 'infer 1', 'infer 2'],
    ...['inferred 0', 'inferred 1', 'inferred 2'],
    ...['post 0', 'finished 0', 'post 1', 'finished 1', 'post 2', 'finished 2'],
    'next burst',
    ...['pre 3', 'started 3', 'infer 3', 'inferred 3', 'post 3', 'finished 3'],
    'next burst',
  ]);
});

test('a burst takes no more frames than it has slots: the rest wait for the next burst', async () => {
  const log: string[] = [];
  await burst(loggedSteps(2, log, {}), job([[0, 1, 2, 3], [4]], log), 2);
  assert.deepEqual(
    log.filter((l) => /^(next|infer |finished)/.test(l)),
    ['next burst', 'infer 0', 'infer 1', 'finished 0', 'finished 1', 'next burst', 'infer 4', 'finished 4', 'next burst'],
  );
});

test('a frame that fails in a burst is reported with its stage and reason, and the others carry on', async () => {
  const log: string[] = [];
  await burst(loggedSteps(4, log, { 1: 'preprocess', 2: 'inference', 3: 'postprocess' }), job([[0, 1, 2, 3], [4]], log), 4);
  assert.deepEqual(
    log.filter((l) => /^(finished|failed|infer )/.test(l)),
    ['failed 1 preprocess: bad pixels 1', 'infer 0', 'infer 2', 'infer 3', 'finished 0', 'failed 2 inference: model failed 2', 'failed 3 postprocess: decode failed 3', 'infer 4', 'finished 4'],
  );
});

test('what the job throws ends the run, once every run of the burst has settled', async () => {
  const log: string[] = [];
  const j = job([[0, 1, 2], [3]], log);
  j.finished = (slot) => {
    log.push(`finished ${slot.frame}`);
    throw new Error('consumer failed');
  };
  await assert.rejects(burst(loggedSteps(4, log, {}), j, 4), /consumer failed/);
  assert.deepEqual(log.slice(-2), ['post 0', 'finished 0']);
  assert.ok(log.includes('inferred 2') && !log.includes('pre 3'), 'every run settled, and no frame is taken after the failure');
});

test('no slot: refused', async () => {
  await assert.rejects(burst(loggedSteps(1, [], {}), job([], []), 0), /at least 1 slot, got 0/);
});

test('with the real model on the main thread, the runs of a burst run back to back: a timer due meanwhile fires only after the last', async (t) => {
  const model = await loadModel(MODEL, { providers: ['cpu'], intraOpThreads: 1 });
  const detector = await Detector.open(model, { thread: 'main', slots: 4 });
  t.after(() => detector.close());
  assert.equal(detector.inferenceThread, 'main');
  const cam = new LineCamera(320, 240, 7);
  const frames: RawFrame[] = Array.from({ length: 4 }, () => ({ data: Uint8Array.from(cam.next(DEFAULT_CONDITIONS).data), width: 320, height: 240, channels: 3 }));
  const log: string[] = [];
  let served = 0;
  const results: { slot: number; detections: number; inferenceMs: number }[] = [];
  // Started from a timer's turn: the runs' immediates then run in this turn's check phase, and a
  // timer set now can fire no sooner than the next turn. (Started from an immediate, the runs would
  // wait for the next turn too, and the timer could fire before the first of them.)
  await new Promise((r) => setTimeout(r, 1));
  const t0 = performance.now();
  await burst(detector, {
    next: (idle) => (idle && served > 0 ? undefined : frames[served++]),
    started: (_f, slot: Slot) => {
      log.push(`started ${slot.index}`);
      // Due 1 ms from now, while the first run (several ms) is under way.
      if (slot.index === 3) setTimeout(() => log.push('timer'), 1);
    },
    finished: (slot) => {
      log.push(`finished ${slot.index}`);
      results.push({ slot: slot.index, detections: slot.detections.count, inferenceMs: slot.times.inferenceMs });
    },
    failed: (stage, error) => assert.fail(`${stage}: ${String(error)}`),
  }, 4);
  const wall = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 5));
  // Each run's time is its own, not the burst's so far: four disjoint spans within the burst.
  const times = results.map((r) => r.inferenceMs);
  assert.ok(times.every((ms) => ms > 0) && times.reduce((a, b) => a + b, 0) <= wall, `run times ${times.map((x) => x.toFixed(2)).join(', ')} in a burst of ${wall.toFixed(2)} ms`);
  assert.deepEqual(log, ['started 0', 'started 1', 'started 2', 'started 3', 'finished 0', 'finished 1', 'finished 2', 'finished 3', 'timer']);
  // Each frame was run and decoded on its own input: the same frames one at a time give the same boxes.
  for (const r of results) {
    const one = await detector.detect(frames[r.slot]!);
    assert.equal(r.detections, one.detections.count, `frame ${r.slot}`);
  }
});
