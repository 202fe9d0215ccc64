import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentConfig } from '../../../agent/config.js';
import { ASSUMED_STREAM_FPS, buildSource, configuredFps, expectedFps, GATHER_MAX_LOAD, GATHER_MAX_MS, gatherMs } from '../../../agent/source/from-config.js';
import { systemClock } from '../../../lib/clock.js';

/** The cameras section of a config, validated as the agent validates it, and their sources. */
function cameras(list: Record<string, unknown>[]) {
  const config = agentConfig({ cameras: list.map((source, i) => ({ name: `cam${i}`, source })) }, {}).config;
  return { cameras: config.cameras, sources: config.cameras.map((c) => buildSource(c.name, c.source, systemClock)) };
}

test('expected frame rate: the configured rates add up; a stream at its own rate counts as 30 fps', () => {
  const c = cameras([
    { kind: 'synthetic', width: 160, height: 120, fps: 10 },
    { kind: 'ffmpeg', url: 'rtsp://10.0.0.7/stream1', width: 640, height: 480 },
    { kind: 'ffmpeg', url: 'rtsp://10.0.0.8/stream1', width: 640, height: 480, fps: 5 },
  ]);
  assert.deepEqual(c.cameras.map((x) => configuredFps(x.source)), [10, 0, 5]);
  assert.equal(expectedFps(c.cameras, c.sources), 10 + ASSUMED_STREAM_FPS + 5);
});

test('expected frame rate: unknown when a camera is a recorded file read as fast as the frame loop goes', () => {
  const paced = cameras([
    { kind: 'synthetic', width: 160, height: 120, fps: 10 },
    { kind: 'ffmpeg', url: '/var/lib/driftline/clip.mp4', width: 640, height: 480 },
  ]);
  assert.equal(paced.sources[1]!.paced, true);
  assert.equal(expectedFps(paced.cameras, paced.sources), undefined);
  // The same file at its own pace, like a live camera: its rate counts.
  const live = cameras([{ kind: 'ffmpeg', url: '/var/lib/driftline/clip.mp4', width: 640, height: 480, fps: 10, realtime: true }]);
  assert.equal(live.sources[0]!.paced, false);
  assert.equal(expectedFps(live.cameras, live.sources), 10);
});

test('gathering: half the fastest camera\'s frame period, at most 100 ms; none with one camera, a paced file, a model busy over half the time, or off', () => {
  const live = cameras([
    { kind: 'synthetic', width: 160, height: 120, fps: 10 },
    { kind: 'ffmpeg', url: 'rtsp://10.0.0.8/stream1', width: 640, height: 480, fps: 5 },
  ]);
  assert.equal(gatherMs('auto', live.cameras, live.sources, 5), 50);
  assert.equal(gatherMs('off', live.cameras, live.sources, 5), 0);
  // A stream at its own rate counts as 30 fps: 16 ms.
  const own = cameras([
    { kind: 'synthetic', width: 160, height: 120, fps: 10 },
    { kind: 'ffmpeg', url: 'rtsp://10.0.0.7/stream1', width: 640, height: 480 },
  ]);
  assert.equal(gatherMs('auto', own.cameras, own.sources, 5), 16);
  const slow = cameras([
    { kind: 'synthetic', width: 160, height: 120, fps: 2 },
    { kind: 'synthetic', width: 160, height: 120, fps: 4 },
  ]);
  assert.equal(gatherMs('auto', slow.cameras, slow.sources, 5), GATHER_MAX_MS);
  // 15 frames a second at 40 ms a run: 0.6 of the time (over GATHER_MAX_LOAD), too close to saturation to give up the overlap.
  assert.equal(gatherMs('auto', live.cameras, live.sources, 33), 50, 'just under half the time');
  assert.equal(GATHER_MAX_LOAD, 0.5);
  assert.equal(gatherMs('auto', live.cameras, live.sources, 40), 0);
  const one = cameras([{ kind: 'synthetic', width: 160, height: 120, fps: 10 }]);
  assert.equal(gatherMs('auto', one.cameras, one.sources, 5), 0);
  const paced = cameras([
    { kind: 'synthetic', width: 160, height: 120, fps: 10 },
    { kind: 'ffmpeg', url: '/var/lib/driftline/clip.mp4', width: 640, height: 480 },
  ]);
  assert.equal(gatherMs('auto', paced.cameras, paced.sources, 5), 0);
});
