import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sleep, until } from '../../helpers/wait.js';
import { promisify } from 'node:util';
import { FfmpegSource } from '../../../agent/source/ffmpeg.js';
import type { SourceState } from '../../../agent/source/source.js';

const sh = promisify(execFile);


async function video(name: string, frames: number, extra: string[] = []): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'driftline-src-')), name);
  await sh('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-frames:v', String(frames), ...extra, '-y', file]);
  return file;
}

test('a generated video of 73 frames yields exactly 73 frames, then ends', async () => {
  const file = await video('clip.mkv', 73, ['-c:v', 'mpeg4', '-q:v', '3']);
  const src = new FfmpegSource({ name: 'file', url: file, width: 160, height: 120 });
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
  await src.stop();
});

test('a looped file keeps delivering past its length', async () => {
  const file = await video('short.mkv', 10, ['-c:v', 'mpeg4']);
  const src = new FfmpegSource({ name: 'loop', url: file, width: 64, height: 48, loop: true });
  let n = 0;
  src.start(() => n++);
  await until(() => n >= 35, 20_000, '35 frames from a 10-frame file');
  await src.stop();
  assert.equal(src.state, 'stopped');
});

test('truncated and corrupted videos are counted as errors, and the process carries on', async () => {
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

  async start(port = 0): Promise<void> {
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
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

test('an HTTP camera stopped and restarted is reconnected without restarting the source', async () => {
  const cam = new Y4mCamera();
  await cam.start();
  const src = new FfmpegSource({ name: 'http', url: `http://127.0.0.1:${cam.port}/stream.y4m`, width: 64, height: 48, stallMs: 3000, backoff: { initialMs: 100, maxMs: 400, jitter: 0.2 } });
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

test('a stalled camera is detected and restarted; a slow one is left alone', async () => {
  const slow = new Y4mCamera();
  slow.frameEveryMs = 600; // slower than stallMs / 2, faster than stallMs
  await slow.start();
  const s1 = new FfmpegSource({ name: 'slow', url: `http://127.0.0.1:${slow.port}/s.y4m`, width: 64, height: 48, stallMs: 1500 });
  let n1 = 0;
  s1.start(() => n1++);
  await sleep(5000);
  assert.equal(s1.counters.stalls, 0, 'a slow camera is not a stalled one');
  assert.equal(s1.counters.reconnects, 0);
  assert.ok(n1 >= 4, `slow frames still arrive (${n1})`);
  await s1.stop();
  await slow.stop();

  const stuck = new Y4mCamera();
  stuck.maxFrames = 5; // then silence with the connection open
  await stuck.start();
  const s2 = new FfmpegSource({ name: 'stuck', url: `http://127.0.0.1:${stuck.port}/s.y4m`, width: 64, height: 48, stallMs: 1000, backoff: { initialMs: 100, maxMs: 200, jitter: 0 } });
  const states: SourceState[] = [];
  s2.onEvent = (e) => {
    if (e.type === 'state') states.push(e.state);
  };
  let n2 = 0;
  s2.start(() => n2++);
  await until(() => s2.counters.stalls >= 1 && s2.counters.reconnects >= 1, 15_000, 'stall detection and restart');
  assert.ok(states.includes('stalled'));
  await until(() => n2 >= 8, 15_000, 'frames after the restart');
  await s2.stop();
  await stuck.stop();
});
