import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BilinearTaps, resampleBilinear } from '../../../agent/preprocess/bilinear.js';

function grey(values: number[][]): Uint8Array {
  const h = values.length;
  const w = values[0]!.length;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.fill(values[y]![x]!, (y * w + x) * 3, (y * w + x) * 3 + 3);
  return out;
}

test('downscale by 2 samples half-pixel centres (OpenCV INTER_LINEAR): hand-computed', () => {
  // Row 0..255: output x0 samples source x = 0.5 -> (0+100)/2; x1 samples 2.5 -> (200+255)/2.
  const src = grey([[0, 100, 200, 255]]);
  const dst = new Float32Array(3 * 2);
  resampleBilinear(src, new BilinearTaps(4, 1, 2, 1), dst, 2, 1, 0, 0);
  const px = [...dst].map((v) => +(v * 255).toFixed(3));
  assert.deepEqual(px, [50, 227.5, 50, 227.5, 50, 227.5]);
});

test('two-axis interpolation and edge clamping', () => {
  // 2x2 -> 3x3 upscale: scale 2/3, centre output (1,1) samples (0.5, 0.5) = mean of all four.
  const src = grey([[0, 90], [30, 240]]);
  const dst = new Float32Array(3 * 9);
  resampleBilinear(src, new BilinearTaps(2, 2, 3, 3), dst, 3, 3, 0, 0);
  const at = (x: number, y: number): number => +(dst[y * 3 + x]! * 255).toFixed(3);
  assert.equal(at(1, 1), 90);
  // Corner (0,0) samples (-1/6 -> clamped 0) = the corner pixel itself.
  assert.equal(at(0, 0), 0);
  assert.equal(at(2, 2), 240);
});

test('writes only its rectangle: the padding around it is untouched', () => {
  const src = grey([[255, 255], [255, 255]]);
  const dst = new Float32Array(3 * 4 * 4).fill(-1);
  resampleBilinear(src, new BilinearTaps(2, 2, 2, 2), dst, 4, 4, 1, 2);
  const plane0 = [...dst.subarray(0, 16)];
  assert.deepEqual(plane0, [-1, -1, -1, -1, -1, -1, -1, -1, -1, 1, 1, -1, -1, 1, 1, -1]);
});
