import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { PipeReader } from '../../../agent/source/pipe-reader.js';
import { sleep, until } from '../../helpers/wait.js';

const FRAME = 1000;
const FRAMES = 60;

/** A child that writes FRAMES frames of FRAME bytes (frame k filled with k % 251, its first byte k % 256), in chunks that straddle frame boundaries. */
function writer(): ReturnType<typeof spawn> {
  const script = `
    const F = ${FRAME}, N = ${FRAMES};
    const all = Buffer.alloc(F * N);
    for (let k = 0; k < N; k++) { all.fill(k % 251, k * F, (k + 1) * F); all[k * F] = k % 256; }
    let off = 0; const sizes = [1, 999, 1001, 37, 4096, 65536];
    (function next(i) {
      if (off >= all.length) return;
      const n = Math.min(sizes[i % sizes.length], all.length - off);
      process.stdout.write(all.subarray(off, off + n), () => next(i + 1));
      off += n;
    })(0);`;
  return spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Reads whole frames with `reader`'s options; returns what it saw. */
function framer(): { frames: number[]; bad: number; target: () => Uint8Array; onRead: (n: number) => void; onFrame?: () => void } {
  const buf = new Uint8Array(FRAME);
  let filled = 0;
  const out = {
    frames: [] as number[],
    bad: 0,
    target: () => buf.subarray(filled),
    onRead: (n: number) => {
      filled += n;
      assert.ok(filled <= FRAME, 'a read never crosses the frame boundary');
      if (filled < FRAME) return;
      filled = 0;
      const k = out.frames.length;
      if (buf[0] !== k % 256 || buf.subarray(1).some((v) => v !== k % 251)) out.bad++;
      out.frames.push(buf[0]!);
      out.onFrame?.();
    },
  } as ReturnType<typeof framer>;
  return out;
}

test("a child's stdout is read into the given buffers, cut exactly at frame boundaries, with nothing copied", async () => {
  const child = writer();
  const f = framer();
  const reader = new PipeReader(child.stdout!, f);
  assert.equal(reader.copying, false, 'the pipe handle was taken over');
  const childClosed = new Promise((r) => child.once('close', r));
  await reader.closed;
  await childClosed;
  assert.equal(f.frames.length, FRAMES);
  assert.equal(f.bad, 0, 'every frame arrived whole and in order');
});

test('pause() inside onRead stops reading until resume(); nothing is lost', async () => {
  const child = writer();
  const f = framer();
  const reader = new PipeReader(child.stdout!, f);
  f.onFrame = () => reader.pause();
  for (let k = 1; k <= FRAMES; k++) {
    await until(() => f.frames.length === k, 10_000, `frame ${k}`);
    if (k === 1) {
      await sleep(300); // the child has written everything by now: a paused reader takes none of it
      assert.equal(f.frames.length, 1);
    }
    reader.resume();
  }
  await reader.closed;
  assert.equal(f.bad, 0);
  child.kill();
});

test('a stream without a pipe handle is read by copying, with the same framing and pausing', async () => {
  const all = Buffer.alloc(FRAME * 5);
  for (let k = 0; k < 5; k++) {
    all.fill(k, k * FRAME, (k + 1) * FRAME);
    all[k * FRAME] = k;
  }
  const f = framer();
  const stream = Readable.from([all.subarray(0, 1500), all.subarray(1500, 4999), all.subarray(4999)]);
  const reader = new PipeReader(stream, f);
  assert.equal(reader.copying, true);
  f.onFrame = () => {
    reader.pause();
    setTimeout(() => reader.resume(), 10);
  };
  await reader.closed;
  assert.deepEqual(f.frames, [0, 1, 2, 3, 4]);
  assert.equal(f.bad, 0);
});

test('destroy() closes the pipe: the child fails its next write, closed resolves', async () => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => process.stdout.write(Buffer.alloc(100)), 5)'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let bytes = 0;
  const buf = new Uint8Array(4096);
  const reader = new PipeReader(child.stdout!, { target: () => buf, onRead: (n) => (bytes += n) });
  await until(() => bytes > 0, 10_000, 'first bytes');
  reader.destroy();
  await reader.closed;
  const [code, signal] = (await new Promise((r) => child.once('exit', (c, s) => r([c, s])))) as [number | null, string | null];
  assert.ok(code !== 0 || signal !== null, `the writer ended by a broken pipe (${code}, ${signal})`);
});
