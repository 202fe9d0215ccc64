import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BilinearTaps, resampleBilinear } from '../../../agent/preprocess/bilinear.js';
import { Letterboxer } from '../../../agent/preprocess/letterbox.js';
import { WasmBilinear, wasmBilinearAvailable } from '../../../agent/preprocess/wasm-bilinear.js';
import { Rng } from '../../../agent/synth/rng.js';

/** A frame of uniform noise: every byte value, every rounding case. */
function noise(w: number, h: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rng.next() * 256);
  return out;
}

const differing = (a: Float32Array, b: Float32Array): number => {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
};

test('this Node compiles the kernel', () => {
  assert.ok(wasmBilinearAvailable());
});

test('the WebAssembly kernel gives the JavaScript loop\'s tensor bit for bit: down, up, odd sizes, padding on each side', async () => {
  const cases = [
    [640, 480, 256, 192], // the shipped model on a VGA camera: no padding
    [1920, 1080, 640, 640], // 3x down, padding above and below
    [480, 640, 256, 192], // portrait: padding left and right
    [100, 80, 256, 192], // up-scaling
    [333, 217, 256, 192], // odd sizes, fractional taps
    [7, 5, 16, 16], // tiny, clamped edges
  ] as const;
  for (const [w, h, dw, dh] of cases) {
    const js = new Letterboxer(new Float32Array(3 * dw * dh), dw, dh, 'bilinear', 'js');
    const wasm = new Letterboxer(new Float32Array(3 * dw * dh), dw, dh, 'bilinear', 'wasm');
    for (let k = 0; k < 3; k++) {
      const frame = { data: noise(w, h, 7 * k + w), width: w, height: h, channels: 3 as const };
      await js.run(frame);
      await wasm.run(frame);
      assert.equal(wasm.resampledBy, 'wasm');
      assert.equal(js.resampledBy, 'js');
      assert.equal(differing(wasm.dst, js.dst), 0, `${w}x${h} into ${dw}x${dh}, frame ${k}: every float the same, the padding included`);
    }
  }
});

test('auto runs the first frame of a size in JavaScript and the rest in WebAssembly; a new size starts over', async () => {
  const lb = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'auto');
  const ref = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'auto', 'js');
  const seen: string[] = [];
  for (const [w, h] of [[640, 480], [640, 480], [640, 480], [320, 240], [320, 240]] as const) {
    const frame = { data: noise(w, h, w + seen.length), width: w, height: h, channels: 3 as const };
    await lb.run(frame);
    await ref.run(frame);
    seen.push(lb.resampledBy!);
    assert.equal(differing(lb.dst, ref.dst), 0);
  }
  assert.deepEqual(seen, ['js', 'wasm', 'wasm', 'js', 'wasm']);
});

test('a tensor handed back (the same memory) keeps its padding; a fresh one gets it written again', async () => {
  // The JavaScript path writes only the image and relies on the padding being there; the kernel
  // copies out the whole tensor, padding included, so it is checked too.
  const frame = { data: noise(480, 640, 3), width: 480, height: 640, channels: 3 as const };
  const ref = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'bilinear', 'js');
  await ref.run(frame);
  for (const engine of ['js', 'wasm'] as const) {
    const first = new Float32Array(3 * 256 * 192);
    const lb = new Letterboxer(first, 256, 192, 'bilinear', engine);
    await lb.run(frame);
    lb.retarget(new Float32Array(first.buffer), true); // as after a run in the inference worker
    await lb.run(frame);
    assert.equal(differing(lb.dst, ref.dst), 0, `${engine}: the same tensor in the same memory`);
    lb.retarget(new Float32Array(3 * 256 * 192), false); // the worker died with the old one
    await lb.run(frame);
    assert.equal(differing(lb.dst, ref.dst), 0, `${engine}: the padding is there again`);
    assert.equal(lb.resampledBy, engine);
  }
});

test('the kernel instance writes only through its own copy: frame and tensor are the caller\'s, untouched between runs', () => {
  const taps = new BilinearTaps(64, 48, 32, 24);
  const k = new WasmBilinear(taps, 32, 32, 0, 4);
  k.background(0.5);
  const frame = noise(64, 48, 1);
  const copy = Uint8Array.from(frame);
  const out = new Float32Array(3 * 32 * 32);
  k.run(frame, out);
  assert.deepEqual(frame, copy, 'the frame is read, not written');
  const ref = new Float32Array(3 * 32 * 32).fill(0.5);
  resampleBilinear(frame, taps, ref, 32, 32, 0, 4);
  assert.equal(differing(out, ref), 0);
  // resample() leaves the tensor in the kernel's memory, the background around the image included.
  const other = noise(64, 48, 2);
  const inPlace = k.resample(other);
  assert.equal(inPlace, k.tensor);
  const ref2 = new Float32Array(3 * 32 * 32).fill(0.5);
  resampleBilinear(other, taps, ref2, 32, 32, 0, 4);
  assert.equal(differing(inPlace, ref2), 0);
  assert.equal(differing(out, ref), 0, 'the tensor copied out before is not the kernel\'s: untouched');
  assert.throws(() => new WasmBilinear(taps, 32, 16, 0, 0), /does not fit/);
});

test('cameras of different sizes through one letterboxer: each size laid out once, the same tensors as a letterboxer per size', async () => {
  const sizes = [[640, 480], [480, 640], [333, 217], [640, 480], [480, 640], [333, 217], [640, 480], [1920, 1080]] as const;
  const shared = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'auto');
  const own = new Map<string, Letterboxer>();
  const by: string[] = [];
  for (const [k, [w, h]] of sizes.entries()) {
    const frame = { data: noise(w, h, 11 * k + w), width: w, height: h, channels: 3 as const };
    await shared.run(frame);
    let ref = own.get(`${w}x${h}`);
    if (!ref) own.set(`${w}x${h}`, (ref = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'auto')));
    await ref.run(frame);
    assert.equal(differing(shared.dst, ref.dst), 0, `${w}x${h}, frame ${k}: the same tensor, its padding included`);
    by.push(shared.resampledBy!);
  }
  // Each size's second frame runs in WebAssembly, however the sizes alternate; 480x640 (into 144x192)
  // and 1920x1080 are reduced more than 3x, so auto resizes them by area: a box shrink, then bilinear.
  assert.deepEqual(by, ['js', 'js', 'js', 'wasm', 'wasm', 'wasm', 'wasm', 'js']);
});

