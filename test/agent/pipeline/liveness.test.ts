import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeWedged, pipelineWedged, type CameraProgress } from '../../../agent/pipeline/liveness.js';

const cam = (camera: string, o: Partial<CameraProgress>): CameraProgress => ({ camera, streaming: true, waitingSince: Number.NaN, lastDone: Number.NaN, ...o });

test('a streaming camera whose frame has waited past the bound is wedged; the bound itself is not', () => {
  const now = 100_000;
  const wedged = pipelineWedged(
    [
      cam('stuck', { waitingSince: now - 5000, lastDone: now - 5200 }),
      cam('at-bound', { waitingSince: now - 2000, lastDone: now - 2100 }),
      cam('idle', { lastDone: now - 60_000 }),
      cam('stalled', { streaming: false, waitingSince: now - 60_000 }),
      cam('never', { waitingSince: now - 3000 }),
    ],
    now,
    2000,
  );
  assert.deepEqual(wedged, [
    { camera: 'stuck', waitingSeconds: 5, lastFrameSecondsAgo: 5.2 },
    { camera: 'never', waitingSeconds: 3, lastFrameSecondsAgo: undefined },
  ]);
  assert.equal(
    describeWedged(wedged, 2000),
    'pipeline wedged: camera stuck has had a frame waiting for 5 s (last frame finished 5.2 s ago); camera never has had a frame waiting for 3 s (last frame finished never); bound 2 s',
  );
});

test('a slow camera is not wedged: nothing waits between its frames, however far apart', () => {
  assert.deepEqual(pipelineWedged([cam('slow', { lastDone: 0 })], 600_000, 30_000), []);
});
