import assert from 'node:assert/strict';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import {
  checkFrame,
  decodeImage,
  hwcToChw,
  letterboxGeometry,
  letterboxInto,
  Letterboxer,
  letterboxPoint,
  RESIZE_MODES,
  unletterboxBoxes,
  type RawFrame,
} from '../../../agent/preprocess/letterbox.js';
import { isDriftlineError } from '../../../lib/errors.js';

test('geometry follows Ultralytics rounding: 1920x1080 into 640x640', () => {
  const lb = letterboxGeometry(1920, 1080, 640, 640);
  assert.deepEqual([lb.newW, lb.newH, lb.left, lb.top], [640, 360, 0, 140]);
  const tall = letterboxGeometry(480, 640, 256, 192);
  assert.deepEqual([tall.newW, tall.newH, tall.left, tall.top], [144, 192, 56, 0]);
  const exact = letterboxGeometry(640, 480, 256, 192);
  assert.deepEqual([exact.newW, exact.newH, exact.left, exact.top], [256, 192, 0, 0]);
  // Odd padding: 1000x1000 into 640x480 -> 480x480, dw = 80; 1001 wide -> 480x480 still.
  const odd = letterboxGeometry(333, 1000, 640, 480);
  assert.equal(odd.newH, 480);
  assert.equal(odd.newW, 160);
  assert.equal(odd.left, 240);
});

test('coordinates round-trip: source -> model input -> source', () => {
  for (const [w, h, dw, dh] of [[1920, 1080, 640, 640], [640, 480, 256, 192], [480, 640, 256, 192], [1280, 720, 320, 320], [333, 1000, 640, 480]] as const) {
    const lb = letterboxGeometry(w, h, dw, dh);
    const pts = [[0, 0], [w, h], [w / 3, h / 7], [w - 1, 1]] as const;
    const boxes = new Float32Array(pts.length * 4);
    pts.forEach(([x, y], i) => {
      const [mx, my] = letterboxPoint(lb, x, y);
      boxes.set([mx, my, mx, my], i * 4);
    });
    unletterboxBoxes(lb, boxes, pts.length);
    pts.forEach(([x, y], i) => {
      assert.ok(Math.abs(boxes[i * 4]! - x) < 1e-3 * w, `${w}x${h} x ${x} -> ${boxes[i * 4]}`);
      assert.ok(Math.abs(boxes[i * 4 + 1]! - y) < 1e-3 * h, `${w}x${h} y ${y} -> ${boxes[i * 4 + 1]}`);
    });
  }
});

test('boxes mapped back are clipped to the source frame', () => {
  const lb = letterboxGeometry(1920, 1080, 640, 640);
  const b = new Float32Array([-10, 100, 700, 600]);
  unletterboxBoxes(lb, b, 1);
  assert.deepEqual([...b], [0, 0, 1920, 1080]);
});

test('hwcToChw normalises to [0,1] planes', () => {
  const src = Uint8Array.from([255, 0, 51, 0, 255, 102]); // two pixels
  const dst = new Float32Array(6);
  hwcToChw(src, dst, 2, 1);
  assert.deepEqual([...dst].map((v) => +v.toFixed(3)), [1, 0, 0, 1, 0.2, 0.4]);
});

for (const mode of RESIZE_MODES) test(`letterboxInto (${mode}) puts the image where the geometry says and pads with 114`, async () => {
  // 200x100 frame: black with a white square at x 100..140, y 20..60; red channel 255 at all.
  const w = 200;
  const h = 100;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const white = x >= 100 && x < 140 && y >= 20 && y < 60;
      data[i] = 255;
      data[i + 1] = white ? 255 : 0;
      data[i + 2] = white ? 255 : 0;
    }
  }
  const dst = new Float32Array(3 * 100 * 100).fill(-1);
  const lb = await letterboxInto({ data, width: w, height: h, channels: 3 }, dst, 100, 100, mode);
  assert.deepEqual([lb.newW, lb.newH, lb.left, lb.top], [100, 50, 0, 25]);
  const at = (c: number, x: number, y: number): number => dst[c * 10000 + y * 100 + x]!;
  assert.ok(Math.abs(at(0, 50, 5) - 114 / 255) < 1e-6, 'top padding is 114');
  assert.ok(Math.abs(at(1, 50, 95) - 114 / 255) < 1e-6, 'bottom padding is 114');
  assert.ok(!dst.some((v) => v === -1), 'every element written');
  // Square centre (120, 40) in source -> (60, 45) in model input: white.
  const [mx, my] = letterboxPoint(lb, 120, 40);
  assert.ok(at(1, Math.round(mx), Math.round(my)) > 0.95);
  assert.ok(at(1, 20, 45) < 0.05, 'outside the square stays black');
  assert.ok(at(0, 20, 45) > 0.95, 'red channel kept in plane 0');
});

test('a raw frame of the wrong byte length is DRIFTLINE_ERR_FRAME_SIZE', async () => {
  const f: RawFrame = { data: new Uint8Array(10), width: 4, height: 4, channels: 3 };
  assert.throws(() => checkFrame(f), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_FRAME_SIZE') && /needs 48 bytes, got 10/.test(e.message));
  await assert.rejects(letterboxInto(f, new Float32Array(3 * 16), 4, 4), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_FRAME_SIZE'));
});

test('decodeImage: real JPEG and PNG (grey, alpha) decode to RGB; junk and missing files get specific errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-lb-'));
  const jpg = join(dir, 'a.jpg');
  await sharp({ create: { width: 64, height: 32, channels: 3, background: { r: 200, g: 10, b: 10 } } }).jpeg().toFile(jpg);
  const f = await decodeImage(jpg);
  assert.deepEqual([f.width, f.height, f.channels, f.data.length], [64, 32, 3, 64 * 32 * 3]);
  assert.ok(f.data[0]! > 180 && f.data[1]! < 40);
  const png = join(dir, 'grey-alpha.png');
  await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 90, g: 90, b: 90, alpha: 0.5 } } }).toColourspace('b-w').png().toFile(png);
  const g = await decodeImage(png);
  assert.equal(g.data.length, 8 * 8 * 3);
  const junk = join(dir, 'junk.jpg');
  await writeFile(junk, 'this is not an image');
  await assert.rejects(decodeImage(junk), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_IMAGE_DECODE') && e.message.includes(junk));
  const truncated = join(dir, 'truncated.jpg');
  const full = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#888' } }).jpeg().toBuffer();
  await writeFile(truncated, full.subarray(0, 200));
  await assert.rejects(decodeImage(truncated), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_IMAGE_DECODE') && e.message.includes(truncated));
  await assert.rejects(decodeImage(join(dir, 'missing.png')), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_IMAGE_NOT_FOUND'));
});

test('bilinear and sharp modes agree on a smooth image; the padding is written once per geometry', async () => {
  const w = 640;
  const h = 480;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([(x * 255) / w, (y * 255) / h, 128], (y * w + x) * 3);
  const frame: RawFrame = { data, width: w, height: h, channels: 3 };
  const a = new Float32Array(3 * 320 * 320);
  const b = new Float32Array(3 * 320 * 320);
  const lbA = new Letterboxer(a, 320, 320, 'bilinear', 'js'); // the WebAssembly kernel copies out the whole tensor
  await lbA.run(frame);
  await new Letterboxer(b, 320, 320, 'sharp').run(frame);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  assert.ok(diff < 3 / 255, `max difference ${diff * 255} grey levels`);
  // Geometry 640x480 -> 320x240 at top 40: the padding rows hold 114/255.
  assert.ok(Math.abs(a[5 * 320 + 7]! - 114 / 255) < 1e-6);
  // Scribble on the padding: a frame of the same size leaves it alone (written once)...
  a[5 * 320 + 7] = 7;
  await lbA.run(frame);
  assert.equal(a[5 * 320 + 7], 7);
  // ...a frame of another size re-lays the geometry and rewrites it.
  await lbA.run({ data: new Uint8Array(480 * 640 * 3), width: 480, height: 640, channels: 3 });
  assert.ok(Math.abs(a[5 * 320 + 7]! - 114 / 255) < 1e-6);
});

test('auto resizing: bilinear up to 3x the model input, area (antialiased) beyond, where two taps alias fine texture', async () => {
  // A 1-pixel checkerboard: its true average is mid grey, which antialiasing finds and two taps miss.
  const frameOf = (w: number, h: number): RawFrame => {
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.fill((x + y) % 2 ? 255 : 0, (y * w + x) * 3, (y * w + x) * 3 + 3);
    return { data, width: w, height: h, channels: 3 };
  };
  const spread = (t: Float32Array, w: number, h: number): number => {
    let lo = 1;
    let hi = 0;
    for (let i = 0; i < w * h; i++) [lo, hi] = [Math.min(lo, t[i]!), Math.max(hi, t[i]!)];
    return hi - lo;
  };
  assert.deepEqual([...RESIZE_MODES], ['auto', 'bilinear', 'area', 'sharp']);
  const t = new Float32Array(3 * 256 * 192);
  const auto = new Letterboxer(t, 256, 192, 'auto');
  assert.equal(auto.resamplerFor(320, 240), 'bilinear');
  assert.equal(auto.resamplerFor(768, 576), 'bilinear', 'exactly 3x');
  assert.equal(auto.resamplerFor(1280, 960), 'area');
  assert.equal(auto.resamplerFor(1920, 1080), 'area');
  assert.equal(new Letterboxer(t, 256, 192, 'bilinear').resamplerFor(1920, 1080), 'bilinear', 'an explicit mode is kept');
  assert.equal(new Letterboxer(t, 256, 192, 'sharp').resamplerFor(1920, 1080), 'sharp');
  // 1280x960 into 256x192 (5 x 5 blocks), and 1920x1080 into 256x144 (7 x 7, then bilinear by 1.07):
  // the antialiased input is flat grey; two-tap sampling keeps stripes of the checkerboard.
  await auto.run(frameOf(1280, 960));
  assert.ok(spread(t, 256, 192) < 0.05, `auto: spread ${spread(t, 256, 192)}`);
  await auto.run(frameOf(1920, 1080));
  assert.ok(spread(t.subarray(24 * 256), 256, 144) < 0.05, `auto at 1080p: spread ${spread(t.subarray(24 * 256), 256, 144)}`);
  const soft = new Float32Array(3 * 256 * 192);
  await new Letterboxer(soft, 256, 192, 'sharp').run(frameOf(1280, 960));
  assert.ok(spread(soft, 256, 192) < 0.05, `sharp: spread ${spread(soft, 256, 192)}`);
  const plain = new Float32Array(3 * 256 * 192);
  await new Letterboxer(plain, 256, 192, 'bilinear').run(frameOf(1280, 960));
  assert.ok(spread(plain, 256, 192) > 0.5, `bilinear: spread ${spread(plain, 256, 192)}`);
  // 320x240: auto is bilinear, to the bit.
  const small = frameOf(320, 240);
  await auto.run(small);
  await new Letterboxer(plain, 256, 192, 'bilinear').run(small);
  assert.deepEqual(t, plain);
});

test('frame sizes whose layout keys would collide (heights from 65536 on) are each laid out as themselves', async () => {
  const lb = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'bilinear');
  await lb.run({ data: new Uint8Array(2 * 1 * 3), width: 2, height: 1, channels: 3 });
  const g = await lb.run({ data: new Uint8Array(1 * 65537 * 3).fill(200), width: 1, height: 65537, channels: 3 });
  assert.deepEqual([g.srcW, g.srcH, g.newW, g.newH], [1, 65537, 1, 192]);
});

