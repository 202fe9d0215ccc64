import assert from 'node:assert/strict';
import { test } from 'node:test';
import { overlap, type OverlapJob } from '../../../agent/infer/overlap.js';
import type { RawFrame } from '../../../agent/preprocess/letterbox.js';
import { loggedSteps } from '../../helpers/logged-steps.js';

function frames(n: number): RawFrame[] {
  return Array.from({ length: n }, (_, k) => ({ data: Uint8Array.of(k), width: 1, height: 1, channels: 3 }));
}

function job(input: RawFrame[], log: string[]): OverlapJob<RawFrame, { frame: number }> {
  let i = 0;
  return {
    next: () => input[i++],
    started: (frame) => log.push(`started ${frame.data[0]}`),
    finished: (slot) => log.push(`finished ${slot.frame}`),
    failed: (stage, error, slot) => log.push(`failed ${slot.frame} ${stage}: ${(error as Error).message}`),
  };
}

test('two frames in flight: the next is letterboxed and started before the last is decoded, in frame order', async () => {
  const log: string[] = [];
  await overlap(loggedSteps(2, log, {}), job(frames(3), log));
  assert.deepEqual(log, [
    ...['pre 0', 'infer 0', 'started 0'],
    ...['pre 1', 'inferred 0', 'infer 1', 'started 1', 'post 0', 'finished 0'],
    ...['pre 2', 'inferred 1', 'infer 2', 'started 2', 'post 1', 'finished 1'],
    ...['inferred 2', 'post 2', 'finished 2'],
  ]);
});

test('a frame that fails is reported with its stage and reason, and the others carry on', async () => {
  const log: string[] = [];
  await overlap(loggedSteps(2, log, { 1: 'preprocess', 2: 'inference', 3: 'postprocess' }), job(frames(5), log));
  assert.deepEqual(
    log.filter((l) => /^(finished|failed)/.test(l)),
    ['failed 1 preprocess: bad pixels 1', 'finished 0', 'failed 2 inference: model failed 2', 'failed 3 postprocess: decode failed 3', 'finished 4'],
  );
});

test('what the job throws ends the run, once the inference in flight has settled', async () => {
  const log: string[] = [];
  const j = job(frames(4), log);
  j.finished = (slot) => {
    log.push(`finished ${slot.frame}`);
    throw new Error('consumer failed');
  };
  await assert.rejects(overlap(loggedSteps(2, log, {}), j), /consumer failed/);
  assert.deepEqual(log.slice(-2), ['finished 0', 'inferred 1']);
  assert.ok(!log.includes('pre 2'), 'no frame is taken after the failure');
});
