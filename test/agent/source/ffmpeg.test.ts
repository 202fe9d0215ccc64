import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { failPoint } from '../../helpers/fail-point.js';
import { freePort, silentServer } from '../../helpers/ports.js';
import { sleep, until } from '../../helpers/wait.js';
import { promisify } from 'node:util';
import { FfmpegSource, ffmpegArgs, isLocalFile } from '../../../agent/source/ffmpeg.js';
import { isDriftlineError } from '../../../lib/errors.js';
import type { SourceState } from '../../../agent/source/source.js';

const sh = promisify(execFile);


async function video(name: string, frames: number, extra: string[] = []): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'driftline-src-')), name);
  await sh('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-frames:v', String(frames), ...extra, '-y', file]);
  return file;
}

test('a generated video of 73 frames yields exactly 73 frames, then ends', async (t) => {
  const file = await video('clip.mkv', 73, ['-c:v', 'mpeg4', '-q:v', '3']);
  const src = new FfmpegSource({ name: 'file', url: file, width: 160, height: 120 });
  t.after(() => src.stop());
  let n = 0;
  let nonBlack = 0;
  src.start((f) => {
    n++;
    assert.equal(f.data.length, 160 * 120 * 3);
    if (f.data.some((v) => v > 30)) nonBlack++;
  });
  await until(() => src.state === 'ended', 20_000, 'end of file');
  assert.equal(n, 73);
  assert.equal(nonBlack, 73, 'real pictures, cut at frame boundaries');
  assert.equal(src.counters.frames, 73);
  assert.equal(src.counters.errors, 0);
  assert.ok(src.paced, 'a file read as fast as it decodes waits for its consumer');
});

test('a paced file waits while its consumer holds a frame, and loses none', async (t) => {
  const file = await video('paced.mkv', 30, ['-c:v', 'mpeg4']);
  // stallMs 2000: a busy machine that delays the read of a resumed frame by a second is not a stall.
  const src = new FfmpegSource({ name: 'paced', url: file, width: 64, height: 48, stallMs: 2000 });
  t.after(() => src.stop());
  let n = 0;
  src.start(() => {
    n++;
    src.pause();
  });
  await until(() => n === 1, 20_000, 'the first frame');
  await sleep(5000); // two and a half stall windows with the consumer holding: no frame, no stall, no restart
  assert.equal(n, 1);
  assert.equal(src.counters.stalls, 0, 'a held source is waiting, not stalled');
  for (let i = 1; i < 30; i++) {
    src.resume();
    await until(() => n === i + 1, 20_000, `frame ${i + 1}`);
  }
  src.resume();
  await until(() => src.state === 'ended', 20_000, 'end of file');
  assert.equal(n, 30);
  assert.equal(src.counters.errors, 0);
});

test('files and file: URLs are paced unless realtime; streams and devices never are', () => {
  for (const url of ['/data/a.mp4', 'clips/b.mkv', 'file:/data/a.mp4', 'file:///data/a.mp4']) assert.ok(isLocalFile(url), url);
  for (const url of ['rtsp://cam/s', 'http://cam/s.mjpg', '/dev/video0']) assert.ok(!isLocalFile(url), url);
  assert.equal(new FfmpegSource({ name: 'f', url: '/data/a.mp4', width: 64, height: 48 }).paced, true);
  assert.equal(new FfmpegSource({ name: 'f', url: '/data/a.mp4', width: 64, height: 48, loop: true }).paced, true);
  assert.equal(new FfmpegSource({ name: 'f', url: '/data/a.mp4', width: 64, height: 48, realtime: true }).paced, false);
  assert.equal(new FfmpegSource({ name: 'f', url: 'rtsp://cam/s', width: 64, height: 48 }).paced, false);
});

test("ffmpeg's own socket timeout is twice the watchdog's longest limit, so the watchdog always sees a stall first", () => {
  const http = ffmpegArgs({ name: 'h', url: 'http://cam/s', width: 64, height: 48, stallMs: 1000, startMs: 1000 });
  assert.equal(http[http.indexOf('-rw_timeout') + 1], '2000000');
  const rtsp = ffmpegArgs({ name: 'r', url: 'rtsp://cam/s', width: 64, height: 48, stallMs: 30_000 });
  assert.equal(rtsp[rtsp.indexOf('-timeout') + 1], '60000000');
  const start = ffmpegArgs({ name: 's', url: 'rtsp://cam/s', width: 64, height: 48, stallMs: 1000 });
  assert.equal(start[start.indexOf('-timeout') + 1], '20000000', 'the start-up allowance (10 s) is the longer limit');
});

test('a missing ffmpeg is a configuration error naming the package, raised before anything starts', () => {
  assert.throws(
    () => new FfmpegSource({ name: 'cam1', url: '/data/a.mp4', width: 64, height: 48, ffmpeg: 'ffmpeg-not-installed-here' }),
    (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_PROGRAM_MISSING') && /camera cam1 needs ffmpeg-not-installed-here.*apt-get install ffmpeg/.test(e.message),
  );
});

test('a looped file keeps delivering past its length', async (t) => {
  const file = await video('short.mkv', 10, ['-c:v', 'mpeg4']);
  const src = new FfmpegSource({ name: 'loop', url: file, width: 64, height: 48, loop: true });
  t.after(() => src.stop());
  let n = 0;
  src.start(() => n++);
  await until(() => n >= 35, 20_000, '35 frames from a 10-frame file');
  await src.stop();
  assert.equal(src.state, 'stopped');
});

test('truncated and corrupted videos are counted as errors, and the process carries on', async (t) => {
  const file = await video('full.ts', 100, ['-c:v', 'mpeg2video', '-f', 'mpegts']);
  const bytes = await readFile(file);
  const truncated = file.replace('full.ts', 'truncated.ts');
  await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.4)));
  const corrupt = file.replace('full.ts', 'corrupt.ts');
  const damaged = Buffer.from(bytes);
  for (let i = 2000; i < damaged.length; i += 997) damaged[i] = (damaged[i]! ^ 0x5a) & 0xff;
  await writeFile(corrupt, damaged);
  for (const [path, label] of [[truncated, 'truncated'], [corrupt, 'corrupt']] as const) {
    const src = new FfmpegSource({ name: label, url: path, width: 64, height: 48, backoff: { initialMs: 50, maxMs: 100, jitter: 0 } });
    t.after(() => src.stop());
    let n = 0;
    const errors: string[] = [];
    src.onEvent = (e) => {
      if (e.type === 'error') errors.push(e.reason);
    };
    src.start(() => n++);
    await until(() => src.state === 'ended' || src.counters.reconnects > 0, 20_000, `${label} to finish`);
    await src.stop();
    assert.ok(n < 100, `${label}: fewer frames than the intact file (${n})`);
    assert.ok(src.counters.errors > 0 && errors.length > 0, `${label}: errors counted`);
  }
});

/** An HTTP camera: Y4M frames (64x48, yuv420p) at a chosen interval. */
class Y4mCamera {
  server: Server | undefined;
  sockets = new Set<Socket>();
  port = 0;
  frameEveryMs = 40;
  maxFrames = Infinity;
  private readonly frame = Buffer.concat([Buffer.from('FRAME\n'), Buffer.alloc(64 * 48, 120), Buffer.alloc(64 * 48 / 2, 128)]);

  /** `port`: from freePort(), not 0, when the camera is to be stopped and started again on it (see freePort). */
  async start(port: number): Promise<void> {
    this.server = createServer((_req, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'video/x-yuv4mpeg' });
      res.write('YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg\n');
      let sent = 0;
      const tick = (): void => {
        if (res.destroyed || sent >= this.maxFrames) return; // stays open but silent: a stall
        res.write(this.frame);
        sent++;
        setTimeout(tick, this.frameEveryMs);
      };
      tick();
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => {
        this.server!.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

test('an HTTP camera stopped and restarted is reconnected without restarting the source', async (t) => {
  const cam = new Y4mCamera();
  await cam.start(await freePort());
  t.after(() => cam.stop());
  const src = new FfmpegSource({ name: 'http', url: `http://127.0.0.1:${cam.port}/stream.y4m`, width: 64, height: 48, stallMs: 3000, backoff: { initialMs: 100, maxMs: 400, jitter: 0.2 } });
  t.after(() => src.stop());
  const states: SourceState[] = [];
  src.onEvent = (e) => {
    if (e.type === 'state') states.push(e.state);
  };
  let n = 0;
  src.start(() => n++);
  await until(() => n >= 10, 15_000, 'first frames');
  await cam.stop();
  await until(() => src.state === 'backoff', 10_000, 'backoff after the server went away');
  await sleep(800); // a few failed attempts while the server is down
  const before = n;
  await cam.start(cam.port);
  await until(() => n >= before + 10, 15_000, 'frames after the server came back');
  assert.ok(src.counters.reconnects >= 1);
  assert.ok(states.includes('backoff') && states.lastIndexOf('streaming') > states.indexOf('backoff'), `states: ${states.join(' ')}`);
  await src.stop();
  await cam.stop();
});

test('a slow camera is left alone: frames closer than stallMs never count as a stall', async (t) => {
  // Frames every 600 ms against a 3000 ms stall window: 2.4 s of slack on every gap, for a loaded
  // machine that pauses this process or ffmpeg (the check can run before the pipe is read). ffmpeg's
  // start-up (connect, probe) has its own allowance (startMs), so a slow start is not a stall either.
  const slow = new Y4mCamera();
  slow.frameEveryMs = 600;
  await slow.start(0);
  t.after(() => slow.stop());
  const src = new FfmpegSource({ name: 'slow', url: `http://127.0.0.1:${slow.port}/s.y4m`, width: 64, height: 48, stallMs: 3000 });
  t.after(() => src.stop());
  let n = 0;
  src.start(() => n++);
  await until(() => n >= 8, 60_000, '8 slow frames'); // at least 7 gaps of 600 ms, each checked against 3000 ms
  assert.equal(src.counters.stalls, 0, 'a slow camera is not a stalled one');
  assert.equal(src.counters.reconnects, 0);
});

test('a stalled camera is detected and restarted', async (t) => {
  // 5 frames, then silence with the connection open. ffmpeg's socket timeout is 2 x stallMs, so the
  // watchdog (at most 1.25 x stallMs) is always first: the restart is counted as a stall.
  const stuck = new Y4mCamera();
  stuck.maxFrames = 5;
  await stuck.start(0);
  t.after(() => stuck.stop());
  const src = new FfmpegSource({ name: 'stuck', url: `http://127.0.0.1:${stuck.port}/s.y4m`, width: 64, height: 48, stallMs: 1000, backoff: { initialMs: 100, maxMs: 200, jitter: 0 } });
  t.after(() => src.stop());
  const states: SourceState[] = [];
  const errors: string[] = [];
  src.onEvent = (e) => {
    if (e.type === 'state') states.push(e.state);
    else errors.push(e.reason);
  };
  let n = 0;
  src.start(() => n++);
  await until(() => n >= 5, 30_000, 'the first 5 frames');
  failPoint('ffmpeg-stall'); // test/scripts/run-tests.test.ts: a failure here must still release the camera and ffmpeg
  await until(() => src.counters.stalls >= 1 && src.counters.reconnects >= 1, 30_000, 'stall detection and restart');
  assert.ok(states.includes('stalled'), `states: ${states.join(' ')}`);
  await until(() => n >= 10, 30_000, 'frames after the restart');
  assert.deepEqual(errors.filter((e) => !/^no data for 1000 ms$/.test(e)), [], 'every restart was a stall: ffmpeg never timed out first');
});

test('a camera that hangs as it connects is one outage: each try is ended after startMs and made again, stalled once', async (t) => {
  // Accepts the connection and never answers (a camera whose stream server hangs): each ffmpeg
  // waits on it until the watchdog ends it.
  const server = silentServer(t);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const src = new FfmpegSource({ name: 'hung', url: `http://127.0.0.1:${port}/h.y4m`, width: 64, height: 48, stallMs: 1000, startMs: 3000, backoff: { initialMs: 100, maxMs: 300, jitter: 0 } });
  // ffmpeg's own timeout is then 6 s, the watchdog's end of a try 3-3.75 s: a busy machine would have
  // to hold this process back for over 2 s before ffmpeg gave up first and reported a try of its own.
  t.after(() => src.stop());
  const states: SourceState[] = [];
  const errors: string[] = [];
  src.onEvent = (e) => {
    if (e.type === 'state') states.push(e.state);
    else if (e.type === 'error') errors.push(e.reason);
  };
  src.start(() => undefined);
  await until(() => src.counters.stalls >= 1, 30_000, 'the outage reported');
  const at = src.counters.reconnects;
  await until(() => src.counters.reconnects >= at + 3, 30_000, 'more tries, each ended by the watchdog');
  assert.equal(src.counters.stalls, 1, `one outage, one stall: ${states.join(' ')}`);
  assert.equal(states.filter((s) => s === 'stalled').length, 1, `stalled once: ${states.join(' ')}`);
  assert.equal(errors.length, 1, `reported once: ${errors.join('; ')}`);
});

test('a camera that refuses connections is one outage: stalled once after stallMs, streaming again when it answers', async (t) => {
  const cam = new Y4mCamera();
  await cam.start(await freePort());
  const port = cam.port;
  await cam.stop(); // nothing listens on the port: every ffmpeg exits at once with "connection refused"
  const src = new FfmpegSource({ name: 'gone', url: `http://127.0.0.1:${port}/g.y4m`, width: 64, height: 48, stallMs: 1000, startMs: 3000, backoff: { initialMs: 100, maxMs: 300, jitter: 0 } });
  t.after(() => src.stop());
  const states: SourceState[] = [];
  src.onEvent = (e) => e.type === 'state' && states.push(e.state);
  let n = 0;
  src.start(() => n++);
  await until(() => src.counters.stalls >= 1, 30_000, 'the outage reported');
  const at = src.counters.reconnects;
  await until(() => src.counters.reconnects >= at + 5, 30_000, 'more refused attempts');
  assert.equal(states.filter((s) => s === 'stalled').length, 1, `one outage, one stall, however many attempts: ${states.join(' ')}`);
  const back = new Y4mCamera();
  await back.start(port);
  t.after(() => back.stop());
  await until(() => n >= 3, 30_000, 'frames once the camera answers');
  assert.equal(states.at(-1), 'streaming');
  assert.equal(src.counters.stalls, 1);
});
