import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cameraMemory } from '../../../agent/pipeline/camera-memory.js';
import { LatestFrame } from '../../../agent/pipeline/latest-frame.js';
import { FrameMemory } from '../../../agent/preprocess/frame-memory.js';
import { Letterboxer } from '../../../agent/preprocess/letterbox.js';
import { WasmBilinear } from '../../../agent/preprocess/wasm-bilinear.js';
import { WasmShrink } from '../../../agent/preprocess/wasm-shrink.js';
import { LineCamera } from '../../../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../../../agent/synth/conditions.js';
import { FrameStats } from '../../../agent/telemetry/frame-stats.js';
import { WasmFrameStats } from '../../../agent/telemetry/wasm-frame-stats.js';

const differing = (a: Float32Array, b: Float32Array): number => {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
};

for (const [w, h] of [[640, 480], [333, 217], [1280, 720]] as const) {
  test(`a ${w}x${h} camera's frames are letterboxed and summarised where they lie, with the values of the copying path`, async () => {
    const home = cameraMemory(w, h, 256, 192)!;
    const q = new LatestFrame(w, h, home);
    const cam = new LineCamera(w, h, 5);
    const lb = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'bilinear');
    const ref = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'bilinear', 'js');
    const stats = new FrameStats();
    const refStats = new FrameStats(undefined, 'js');
    for (let i = 0; i < 3; i++) {
      const rendered = cam.next(DEFAULT_CONDITIONS).data;
      q.offer({ data: rendered, width: w, height: h, channels: 3, ts: i, mono: i, index: i });
      const f = q.take()!;
      assert.equal(FrameMemory.of(f.data), home);
      await lb.run(f);
      await ref.run({ data: Uint8Array.from(rendered), width: w, height: h, channels: 3 });
      assert.equal(lb.resampledBy, 'wasm', 'in place from the first frame: a camera stream');
      assert.equal(differing(lb.dst, ref.dst), 0, `frame ${i}: the same tensor`);
      assert.deepEqual(Array.from(stats.compute(f.data, w, h)), Array.from(refStats.compute(Uint8Array.from(rendered), w, h)), `frame ${i}: the same statistics`);
      assert.equal(stats.sampledBy, 'wasm');
      q.release();
    }
    // Both kernels were placed in the camera's memory (it was sized for them), none refused for room.
    assert.ok(home.letterbox instanceof WasmBilinear && home.stats instanceof WasmFrameStats);
    assert.equal(home.take(1), undefined, 'sized exactly: nothing left over');
  });
}

for (const [w, h] of [[1280, 720], [1920, 1080]] as const) {
  test(`a ${w}x${h} camera's large frames are shrunk (area) where they lie, then sampled there, with the values of the copying path`, async () => {
    const lb = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'auto');
    assert.equal(lb.resamplerFor(w, h), 'area');
    const home = cameraMemory(w, h, 256, 192, lb.resamplerFor(w, h))!;
    const q = new LatestFrame(w, h, home);
    const cam = new LineCamera(w, h, 6);
    const ref = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'area', 'js');
    for (let i = 0; i < 2; i++) {
      const rendered = cam.next(DEFAULT_CONDITIONS).data;
      q.offer({ data: rendered, width: w, height: h, channels: 3, ts: i, mono: i, index: i });
      const f = q.take()!;
      await lb.run(f);
      await ref.run({ data: Uint8Array.from(rendered), width: w, height: h, channels: 3 });
      assert.equal(lb.resampledBy, 'wasm', 'in place from the first frame');
      assert.equal(differing(lb.dst, ref.dst), 0, `frame ${i}: the same tensor`);
      q.release();
    }
    // The shrink and the bilinear kernel after it were both placed in the camera's memory, which was sized for them.
    assert.ok(home.shrink instanceof WasmShrink && home.letterbox instanceof WasmBilinear);
    assert.equal(FrameMemory.of(home.shrink.out), home);
    q.offer({ data: cam.next(DEFAULT_CONDITIONS).data, width: w, height: h, channels: 3, ts: 2, mono: 2, index: 2 });
    const stats = new FrameStats();
    stats.compute(q.take()!.data, w, h);
    assert.equal(stats.sampledBy, 'wasm');
    q.release();
    assert.equal(home.take(1), undefined, 'sized exactly, the statistics kernel too: nothing left over');
  });
}

for (const [w, h] of [[640, 480], [1920, 1080]] as const) {
  test(`read in place: a ${w}x${h} camera's frame stays in its letterbox kernel's tensor, with the copying path's values, until the camera's next frame`, async () => {
    const lb = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'auto');
    const home = cameraMemory(w, h, 256, 192, lb.resamplerFor(w, h))!;
    const q = new LatestFrame(w, h, home);
    const cam = new LineCamera(w, h, 7);
    const ref = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, lb.resamplerFor(w, h), 'js');
    lb.readInPlace(true);
    const kept: Float32Array[] = [];
    for (let i = 0; i < 3; i++) {
      const rendered = cam.next(DEFAULT_CONDITIONS).data;
      q.offer({ data: rendered, width: w, height: h, channels: 3, ts: i, mono: i, index: i });
      await lb.run(q.take()!);
      await ref.run({ data: Uint8Array.from(rendered), width: w, height: h, channels: 3 });
      assert.equal(lb.input.buffer, home.memory.buffer, `frame ${i}: in the camera's memory`);
      assert.equal(lb.input, (home.letterbox as WasmBilinear).tensor, 'the placed kernel\'s tensor');
      assert.equal(differing(lb.input, ref.dst), 0, `frame ${i}: the tensor of the copying path, padding included`);
      kept.push(Float32Array.from(lb.input));
      q.release();
    }
    assert.notEqual(differing(kept[0]!, kept[1]!), 0, 'each frame rewrote it: the camera moves');
    assert.ok(lb.dst.every((v) => v === 0), 'the letterboxer\'s own tensor was never written');
    // Off again: the next frame is copied into the letterboxer's own tensor, which is its input.
    lb.readInPlace(false);
    const rendered = cam.next(DEFAULT_CONDITIONS).data;
    q.offer({ data: rendered, width: w, height: h, channels: 3, ts: 3, mono: 3, index: 3 });
    await lb.run(q.take()!);
    await ref.run({ data: Uint8Array.from(rendered), width: w, height: h, channels: 3 });
    assert.equal(lb.input, lb.dst);
    assert.equal(differing(lb.dst, ref.dst), 0);
  });
}

test('a frame memory without room for the kernels leaves them on their copying path, with the same values', async () => {
  const home = new FrameMemory(FrameMemory.taken(640 * 480 * 3));
  const data = home.frame(640 * 480 * 3);
  data.set(new LineCamera(640, 480, 9).next(DEFAULT_CONDITIONS).data);
  const lb = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'bilinear');
  const ref = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'bilinear', 'js');
  const by: string[] = [];
  for (let i = 0; i < 2; i++) {
    await lb.run({ data, width: 640, height: 480, channels: 3 });
    await ref.run({ data: Uint8Array.from(data), width: 640, height: 480, channels: 3 });
    by.push(lb.resampledBy!);
    assert.equal(differing(lb.dst, ref.dst), 0);
  }
  assert.deepEqual(by, ['js', 'wasm'], 'as for any frame: the first of a size in JavaScript, then a kernel of its own');
  const stats = new FrameStats();
  assert.deepEqual(Array.from(stats.compute(data, 640, 480)), Array.from(new FrameStats(undefined, 'js').compute(Uint8Array.from(data), 640, 480)));
  assert.deepEqual([home.letterbox, home.stats], [null, null], 'both refused for room, once');
});

test('a kernel placed all or nothing: one refused for room leaves the room to the next', async () => {
  const stats = WasmFrameStats.bytesFor(640, 160, 120, false);
  // Room for a frame, the statistics kernel, and a part of the letterbox kernel's scratch.
  const home = new FrameMemory(FrameMemory.taken(640 * 480 * 3) + stats + 4096);
  const data = home.frame(640 * 480 * 3);
  data.set(new LineCamera(640, 480, 4).next(DEFAULT_CONDITIONS).data);
  const lb = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'bilinear');
  await lb.run({ data, width: 640, height: 480, channels: 3 });
  const fs = new FrameStats();
  fs.compute(data, 640, 480);
  assert.equal(fs.sampledBy, 'wasm', 'the statistics kernel still found its room, in place on the first frame');
  assert.equal(home.letterbox, null, 'the letterbox refused');
  assert.ok(home.stats instanceof WasmFrameStats, 'the statistics placed');
});

test('a camera memory is sized for the resampler its frames get: area below 2x is bilinear, sharp needs no letterbox kernel', () => {
  const bytes = (r: 'bilinear' | 'area' | 'sharp', w = 320, h = 240): number => cameraMemory(w, h, 256, 192, r)!.bytes;
  assert.equal(bytes('area'), bytes('bilinear'), '320x240 into 256x192: no shrink');
  assert.ok(bytes('sharp') < bytes('bilinear'));
  assert.ok(bytes('area', 1920, 1080) > bytes('bilinear', 1920, 1080), 'a shrink needs its column sums and its image too');
});
