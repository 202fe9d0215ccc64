/**
 * agent/publish/camera-events.ts: what the agent tells about its cameras and its store, in the log
 * and on the link, and how often: stalls and resumes, source errors and clock steps at most once a
 * minute per camera, storage reports on every camera's topic until each outbox took them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CameraEvents, SOURCE_ERROR_LINES, type EventLink } from '../../../agent/publish/camera-events.js';
import { LEVEL, logLines } from '../../helpers/log-lines.js';

function setup(): { events: CameraEvents; sent: { camera: string; kind: string; message: string; detail?: Record<string, unknown> }[]; lines: ReturnType<typeof logLines>['lines']; clock: { mono: number }; refuse: Set<string> } {
  const { log, lines } = logLines();
  const clock = { mono: 0 };
  const sent: { camera: string; kind: string; message: string; detail?: Record<string, unknown> }[] = [];
  const refuse = new Set<string>();
  const link: EventLink = {
    event: (camera, kind, message, detail) => {
      if (refuse.has(camera)) return 0;
      sent.push({ camera, kind, message, ...(detail ? { detail } : {}) });
      return sent.length;
    },
  };
  const events = new CameraEvents({ cameras: ['dock', 'gate'], store: '/var/lib/driftline/agent.db', log, clock: { now: () => 0, monotonic: () => clock.mono } });
  events.sendThrough(link);
  return { events, sent, lines, clock, refuse };
}

test('a stall is sent, and the return to streaming after it, with the reconnect count; every state change is logged', () => {
  const { events, sent, lines } = setup();
  let reconnects = 0;
  const onEvent = events.source('dock', () => reconnects);
  onEvent({ type: 'state', state: 'streaming' });
  onEvent({ type: 'state', state: 'stalled' });
  reconnects = 3;
  onEvent({ type: 'state', state: 'streaming' });
  assert.deepEqual(sent, [
    { camera: 'dock', kind: 'stalled', message: 'camera dock delivered no frame within its stall timeout' },
    { camera: 'dock', kind: 'resumed', message: 'camera dock is delivering frames again', detail: { reconnects: 3 } },
  ]);
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [
      [LEVEL.info, 'camera dock streaming'],
      [LEVEL.info, 'camera dock stalled'],
      [LEVEL.info, 'camera dock streaming'],
    ],
  );
});

test('source errors: each logged, at most one event a minute per camera', () => {
  const { events, sent, lines, clock } = setup();
  const dock = events.source('dock', () => 0);
  const gate = events.source('gate', () => 0);
  dock({ type: 'error', reason: 'connection refused' });
  clock.mono = 30_000;
  dock({ type: 'error', reason: 'connection refused' });
  gate({ type: 'error', reason: 'timeout' });
  clock.mono = 60_001; // more than a minute after the first: the interval has passed
  dock({ type: 'error', reason: 'no route' });
  assert.deepEqual(
    sent.map((s) => [s.camera, s.kind, s.message]),
    [
      ['dock', 'sourceError', 'connection refused'],
      ['gate', 'sourceError', 'timeout'],
      ['dock', 'sourceError', 'no route'],
    ],
  );
  assert.equal(lines.filter((l) => l.level === LEVEL.warn).length, 4);
});

test('clock steps: each logged, at most one event a minute per camera, counting the steps it speaks for', () => {
  const { events, sent, lines, clock } = setup();
  events.clockStep('dock', 90_000, 1000);
  clock.mono = 10_000;
  events.clockStep('dock', -4_000, 2000);
  clock.mono = 70_000;
  events.clockStep('dock', -2_500.4, 3000);
  assert.deepEqual(sent, [
    { camera: 'dock', kind: 'clockStep', message: 'the wall clock stepped forward by 90.0 s; the window was cut there', detail: { stepMs: 90_000, steps: 1 } },
    { camera: 'dock', kind: 'clockStep', message: 'the wall clock stepped back by 2.5 s; the window was cut there', detail: { stepMs: -2500, steps: 2 } },
  ]);
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [
      [LEVEL.warn, "the wall clock stepped forward by 90.0 s: camera dock's window was cut there"],
      [LEVEL.warn, "the wall clock stepped back by 4.0 s: camera dock's window was cut there"],
      [LEVEL.warn, "the wall clock stepped back by 2.5 s: camera dock's window was cut there"],
    ],
  );
});

test("storage reports go on every camera's topic; a retry sends only to the cameras whose outbox refused it", () => {
  const { events, sent, lines, refuse } = setup();
  refuse.add('gate');
  const send = events.storageFull({ freeBytes: 10_240, minFreeBytes: 1 << 20, framesShed: 5, windowsShed: 0, error: 'SQLITE_FULL' });
  assert.equal(lines[0]!.level, LEVEL.error);
  assert.equal(lines[0]!.store, '/var/lib/driftline/agent.db');
  assert.equal(send(), false, "gate's outbox refused it");
  refuse.clear();
  assert.equal(send(), true);
  assert.deepEqual(
    sent.map((s) => [s.camera, s.kind]),
    [
      ['dock', 'storageFull'],
      ['gate', 'storageFull'],
    ],
  );
  assert.equal(sent[0]!.message, 'the store is out of space (10 KiB free): telemetry shed by the retention policy');
  const recovered = events.storageRecovered({ freeBytes: 2048 << 10, fullForSeconds: 42 });
  assert.equal(recovered(), true);
  assert.equal(sent[2]!.message, 'the store has space again (2048 KiB free) after 42 s');
  assert.equal(lines[1]!.msg, 'storage recovered');
});

test('without a link the events are only logged, and storage reports count as sent', () => {
  const { log, lines } = logLines();
  const events = new CameraEvents({ cameras: ['dock'], store: ':memory:', log, clock: { now: () => 0, monotonic: () => 0 } });
  events.source('dock', () => 0)({ type: 'state', state: 'stalled' });
  events.clockStep('dock', 5000, 0);
  assert.equal(events.storageRecovered({ freeBytes: 0, fullForSeconds: 1 })(), true);
  assert.equal(lines.length, 3);
});

test('source errors in a flood: ten lines a minute per camera, then one that says how many were not logged', () => {
  const { events, lines, clock } = setup();
  const dock = events.source('dock', () => 0);
  const gate = events.source('gate', () => 0);
  for (let i = 0; i < 30; i++) dock({ type: 'error', reason: `ffmpeg: [h264 @ 0x55] error while decoding MB ${i} 7` });
  gate({ type: 'error', reason: 'timeout' });
  const warn = (): typeof lines => lines.filter((l) => l.level === LEVEL.warn);
  assert.equal(SOURCE_ERROR_LINES, 10);
  assert.equal(warn().filter((l) => l.camera === 'dock').length, 10);
  assert.equal(warn()[9]!.msg, 'camera dock error; its next ones this minute are counted, not logged');
  assert.equal(warn()[9]!.reason, 'ffmpeg: [h264 @ 0x55] error while decoding MB 9 7');
  assert.equal(warn()[10]!.msg, 'camera gate error', 'another camera has its own lines');
  clock.mono = 60_000;
  dock({ type: 'error', reason: 'ffmpeg exited with code 1' });
  const last = warn().at(-1)!;
  assert.equal(last.msg, 'camera dock error, after 20 not logged');
  assert.equal(last.notLogged, 20);
  assert.equal(last.reason, 'ffmpeg exited with code 1');
});
