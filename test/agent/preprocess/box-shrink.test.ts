import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoxShrink, MAX_SHRINK, shrinkBox } from '../../../agent/preprocess/box-shrink.js';
import { FrameMemory } from '../../../agent/preprocess/frame-memory.js';
import { letterboxGeometry, Letterboxer } from '../../../agent/preprocess/letterbox.js';
import { WasmShrink, wasmShrinkAvailable } from '../../../agent/preprocess/wasm-shrink.js';
import { Rng } from '../../../agent/synth/rng.js';

const noise = (bytes: number, seed: number): Uint8Array => {
  const rng = new Rng(seed);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rng.next() * 256);
  return out;
};

const shrunkJs = (src: Uint8Array, s: BoxShrink): Uint8Array => {
  const out = new Uint8Array(s.outW * s.outH * 3);
  shrinkBox(src, s, out);
  return out;
};

test('this Node compiles the shrink kernel', () => {
  assert.equal(wasmShrinkAvailable(), true);
});

test('a pixel is its block mean, rounded half up; the last columns and rows short of a block are left out', () => {
  // 5x3 frame, k = 2: one row of two blocks; column 4 and row 2 are left out.
  const src = new Uint8Array(5 * 3 * 3);
  const px = (x: number, y: number, rgb: [number, number, number]) => src.set(rgb, (y * 5 + x) * 3);
  px(0, 0, [0, 10, 255]);
  px(1, 0, [1, 10, 255]);
  px(0, 1, [0, 10, 255]);
  px(1, 1, [1, 11, 254]); // sums 2, 41, 1019: means 0.5, 10.25, 254.75
  px(2, 0, [100, 0, 0]);
  px(3, 1, [101, 0, 0]); // sums 201, 0, 0: 50.25
  px(4, 0, [255, 255, 255]); // outside every block
  const s = new BoxShrink(5, 3, 2);
  assert.deepEqual([s.outW, s.outH], [2, 1]);
  assert.deepEqual([...shrunkJs(src, s)], [1, 10, 255, 50, 0, 0]);
  assert.deepEqual([...new WasmShrink(s).run(src)], [1, 10, 255, 50, 0, 0]);
});

test('the factor: the largest whole one that keeps the frame no smaller than the input, 2 to 16, or none', () => {
  const k = (w: number, h: number, dw: number, dh: number): number | undefined => {
    const lb = letterboxGeometry(w, h, dw, dh);
    return BoxShrink.for(w, h, lb.newW, lb.newH)?.k;
  };
  assert.equal(k(1920, 1080, 256, 192), 7); // into 256x144: 7.5
  assert.equal(k(1280, 960, 256, 192), 5);
  assert.equal(k(1280, 720, 640, 640), 2);
  assert.equal(k(3840, 2160, 256, 192), 15);
  assert.equal(k(7680, 4320, 256, 192), MAX_SHRINK, 'at most 16');
  assert.equal(k(320, 240, 256, 192), undefined, 'reduced by less than 2: bilinear alone');
  assert.throws(() => new BoxShrink(640, 480, 1), /a shrink factor of 1/);
  assert.throws(() => new BoxShrink(640, 480, 17), /a shrink factor of 17/);
  assert.throws(() => new BoxShrink(640, 480, 2.5), /a shrink factor of 2.5/);
  assert.throws(() => new BoxShrink(3, 40, 4), /a 3x40 frame has no whole 4x4 block/);
});

test('the WebAssembly kernel gives the JavaScript loop bytes bit for bit, for every factor', () => {
  for (let k = 2; k <= MAX_SHRINK; k++) {
    // Noise, at an odd size with a partial block on both edges.
    const w = k * 9 + k - 1;
    const h = k * 4 + 1;
    const s = new BoxShrink(w, h, k);
    const src = noise(w * h * 3, k);
    assert.deepEqual(new WasmShrink(s).run(src), shrunkJs(src, s), `k=${k}: noise`);
    // Every sum a block's channel can have, 0 to 255 * k * k: blocks whose pixels are q or q + 1,
    // three sums to a block (one per channel), a row of 64 blocks. The means are rounded half up,
    // so the sums that a reciprocal a hair off would get wrong are among them (k = 11, 14 and 16
    // need one above the nearest float32 of 1 / k^2).
    const sums = 255 * k * k + 1;
    const blocks = Math.ceil(sums / 3);
    const across = 64;
    const all = new BoxShrink(across * k, Math.ceil(blocks / across) * k, k);
    const frame = new Uint8Array(all.srcW * all.srcH * 3);
    for (let b = 0; b < blocks; b++) {
      const bx = (b % across) * k;
      const by = Math.floor(b / across) * k;
      for (let c = 0; c < 3; c++) {
        const sum = Math.min(sums - 1, b * 3 + c);
        const q = Math.floor(sum / (k * k));
        for (let p = 0; p < k * k; p++) frame[((by + Math.floor(p / k)) * all.srcW + bx + (p % k)) * 3 + c] = q + (p < sum - q * k * k ? 1 : 0);
      }
    }
    const means = new WasmShrink(all).run(frame);
    let wrong = 0;
    for (let b = 0; b < blocks; b++) {
      for (let c = 0; c < 3; c++) {
        const sum = Math.min(sums - 1, b * 3 + c);
        const at = (Math.floor(b / across) * all.outW + (b % across)) * 3 + c;
        if (means[at] !== Math.floor((sum + ((k * k) >> 1)) / (k * k))) wrong++;
      }
    }
    assert.equal(wrong, 0, `k=${k}: every block sum from 0 to ${sums - 1}, rounded half up`);
    assert.deepEqual(means, shrunkJs(frame, all), `k=${k}: the JavaScript loop's bytes`);
  }
});

test('placed in a frame memory, the kernel reads a frame where it lies; all or nothing for room', () => {
  const s = new BoxShrink(1920, 1080, 7);
  const src = noise(1920 * 1080 * 3, 3);
  const home = new FrameMemory(FrameMemory.taken(src.length) + WasmShrink.bytesFor(s, false));
  const frame = home.frame(src.length);
  frame.set(src);
  const k = WasmShrink.placed(home, s)!;
  assert.ok(k instanceof WasmShrink);
  assert.equal(k.home, home);
  assert.deepEqual(k.run(frame), shrunkJs(src, s));
  assert.equal(FrameMemory.of(k.out), home, 'the shrunk image lies in the same memory, for the bilinear kernel');
  assert.equal(WasmShrink.placed(home, new BoxShrink(1920, 1080, 6)), undefined, 'one of another geometry is not this one');
  assert.throws(() => k.run(Uint8Array.from(src)), /a frame from outside the camera frame memory/);
  const small = new FrameMemory(FrameMemory.taken(src.length) + 4096);
  small.frame(src.length);
  const room = small.room;
  assert.equal(WasmShrink.placed(small, s), undefined);
  assert.equal(small.shrink, null, 'refused for room');
  assert.equal(small.room, room, 'and none of the room taken');
});

test('area: the first frame of a size in JavaScript, the rest in WebAssembly, the same tensor; edges stay where they are', async () => {
  const t = new Float32Array(3 * 256 * 192);
  const ref = new Float32Array(3 * 256 * 192);
  const lb = new Letterboxer(t, 256, 192, 'area');
  const js = new Letterboxer(ref, 256, 192, 'area', 'js');
  const by: string[] = [];
  for (let i = 0; i < 3; i++) {
    const data = noise(1920 * 1080 * 3, 10 + i);
    await lb.run({ data, width: 1920, height: 1080, channels: 3 });
    await js.run({ data, width: 1920, height: 1080, channels: 3 });
    by.push(lb.resampledBy!);
    assert.deepEqual(t, ref, `frame ${i}`);
  }
  assert.deepEqual(by, ['js', 'wasm', 'wasm']);
  // Black left of a column, white from it, in a 1279x959 frame (shrunk by 4 to 319x239: three
  // columns short of a block). The edge lands in the input where the frame's geometry puts it, as
  // near as sharp's and bilinear's: sampled at the shrunk image's own ratio (319 / 256) instead of
  // the frame's divided by 4, it would be 0.7 pixels right of it at x = 1200.
  const cross = (): number => {
    for (let x = 1; x < 256; x++) {
      const a = t[96 * 256 + x - 1]!;
      const b = t[96 * 256 + x]!;
      if (a < 0.5 && b >= 0.5) return x - 1 + (0.5 - a) / (b - a);
    }
    return Number.NaN;
  };
  for (const at of [100, 640, 1200]) {
    const edge = new Uint8Array(1279 * 959 * 3);
    for (let y = 0; y < 959; y++) edge.fill(255, (y * 1279 + at) * 3, (y + 1) * 1279 * 3);
    await lb.run({ data: edge, width: 1279, height: 959, channels: 3 });
    const expected = (at * 256) / 1279 - 0.5; // the input pixel whose centre is half way between the last black and first white
    assert.ok(Math.abs(cross() - expected) < 0.2, `an edge at x = ${at}: at ${cross()} in the input, expected ${expected}`);
  }
  // The padding above and below a 1920x1080 frame (24 rows each) stays grey.
  await lb.run({ data: noise(1920 * 1080 * 3, 1), width: 1920, height: 1080, channels: 3 });
  assert.ok(Math.abs(t[10 * 256 + 50]! - 114 / 255) < 1e-6 && Math.abs(t[180 * 256 + 50]! - 114 / 255) < 1e-6);
});

test('area with bilinearEngine wasm: a kernel of its own from the first frame, the bilinear kernel placed in its memory', async () => {
  const t = new Float32Array(3 * 256 * 192);
  const ref = new Float32Array(3 * 256 * 192);
  const lb = new Letterboxer(t, 256, 192, 'area', 'wasm');
  const data = noise(1280 * 720 * 3, 21);
  await lb.run({ data, width: 1280, height: 720, channels: 3 });
  await new Letterboxer(ref, 256, 192, 'area', 'js').run({ data, width: 1280, height: 720, channels: 3 });
  assert.equal(lb.resampledBy, 'wasm');
  assert.deepEqual(t, ref);
});

test('area reduced by less than 2 is bilinear, to the bit', async () => {
  const lb = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'area');
  const plain = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'bilinear');
  const data = noise(320 * 240 * 3, 22);
  for (let i = 0; i < 2; i++) {
    await lb.run({ data, width: 320, height: 240, channels: 3 });
    await plain.run({ data, width: 320, height: 240, channels: 3 });
    assert.deepEqual(lb.dst, plain.dst);
  }
});

test('a frame from outside any camera memory, after frames read in place, goes the way of a first frame: JavaScript once', async () => {
  const s = BoxShrink.for(1280, 720, 256, 144)!;
  const home = new FrameMemory(FrameMemory.taken(1280 * 720 * 3) + WasmShrink.bytesFor(s, false) + 4 * 1024 * 1024);
  const inPlace = home.frame(1280 * 720 * 3);
  inPlace.set(noise(inPlace.length, 23));
  const lb = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'area');
  const by: string[] = [];
  for (let i = 0; i < 3; i++) {
    await lb.run({ data: inPlace, width: 1280, height: 720, channels: 3 });
    by.push(lb.resampledBy!);
  }
  const stray = noise(1280 * 720 * 3, 24);
  await lb.run({ data: stray, width: 1280, height: 720, channels: 3 });
  by.push(lb.resampledBy!);
  const ref = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'area', 'js');
  await ref.run({ data: stray, width: 1280, height: 720, channels: 3 });
  assert.deepEqual(lb.dst, ref.dst);
  assert.deepEqual(by, ['wasm', 'wasm', 'wasm', 'js'], 'no 2.8 MB kernel of its own for one stray frame');
  assert.ok(home.shrink instanceof WasmShrink);
});
