import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FEATURE_INDEX as F, FrameStats } from '../../../agent/telemetry/frame-stats.js';
import { LineCamera } from '../../../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../../../agent/synth/conditions.js';

function frame(w: number, h: number, px: (x: number, y: number) => [number, number, number]): Uint8Array {
  const d = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d.set(px(x, y), (y * w + x) * 3);
  return d;
}

const close = (a: number, b: number, eps = 1e-9): boolean => Math.abs(a - b) <= eps;

test('uniform grey: mean 100, no spread, contrast, saturation, sharpness or entropy', () => {
  const s = new FrameStats();
  const v = s.compute(frame(320, 240, () => [100, 100, 100]), 320, 240);
  assert.ok(close(v[F.brightness]!, 100, 1e-9));
  for (const k of ['brightnessSpread', 'contrast', 'saturation', 'sharpness', 'underExposed', 'overExposed', 'entropy', 'colourTemp'] as const) {
    assert.ok(close(v[F[k]]!, 0, 1e-9), `${k} = ${v[F[k]]}`);
  }
  assert.deepEqual([v[F.meanR], v[F.meanG], v[F.meanB]], [100, 100, 100]);
});

test('half black, half white: hand-computed values for every statistic', () => {
  // 320x240 -> stride 2, samples at x = 1, 3, ..., a 160x120 grid: 80 columns black, 80 white.
  const s = new FrameStats();
  const v = s.compute(frame(320, 240, (x) => (x < 160 ? [0, 0, 0] : [255, 255, 255])), 320, 240);
  assert.equal(s.stride, 2);
  assert.ok(close(v[F.brightness]!, 127.5, 1e-6));
  assert.ok(close(v[F.contrast]!, 0.5, 1e-6), `contrast ${v[F.contrast]}`);
  assert.equal(v[F.brightnessSpread], 255);
  assert.ok(close(v[F.entropy]!, 1, 1e-12));
  assert.equal(v[F.underExposed], 0.5);
  assert.equal(v[F.overExposed], 0.5);
  assert.equal(v[F.saturation], 0);
  // Laplacian over the 158x118 interior: each row has one -255 and one +255, the rest 0.
  assert.ok(close(v[F.sharpness]!, (2 * 255 * 255) / 158, 1e-3), `sharpness ${v[F.sharpness]}`);
  for (const k of ['meanR', 'meanG', 'meanB'] as const) assert.ok(close(v[F[k]]!, 127.5, 1e-6), `${k} ${v[F[k]]}`);
  assert.ok(close(v[F.colourTemp]!, 0, 1e-12), 'grey: neither warm nor cool');
  assert.equal(Object.keys(F).length, 12, 'every statistic is checked above');
});

test('pure red: full saturation, warm colour proxy, clipped, luma 76.245', () => {
  const v = new FrameStats().compute(frame(64, 48, () => [255, 0, 0]), 64, 48);
  assert.equal(v[F.saturation], 1);
  assert.equal(v[F.meanR], 255);
  assert.equal(v[F.meanB], 0);
  assert.ok(close(v[F.colourTemp]!, 8, 1e-12), 'log2(256 / 1)');
  assert.equal(v[F.overExposed], 1);
  assert.ok(close(v[F.brightness]!, 76.245, 1e-9));
});

test('statistics scale with light: halving every pixel halves brightness and contrast', () => {
  const px = (x: number, y: number): [number, number, number] => [(x * 7 + y * 3) % 200 + 20, (x * 5) % 180 + 30, (y * 11) % 160 + 40];
  const full = Float64Array.from(new FrameStats().compute(frame(200, 150, px), 200, 150));
  const half = new FrameStats().compute(frame(200, 150, (x, y) => px(x, y).map((c) => c / 2) as [number, number, number]), 200, 150);
  assert.ok(Math.abs(half[F.brightness]! / full[F.brightness]! - 0.5) < 0.01);
  assert.ok(Math.abs(half[F.contrast]! / full[F.contrast]! - 0.5) < 0.01);
  assert.ok(half[F.sharpness]! < full[F.sharpness]! * 0.3, 'Laplacian variance scales with the square');
});

test('the values array is reused; a new frame size re-lays the sampling grid', () => {
  const s = new FrameStats();
  const a = s.compute(new Uint8Array(1920 * 1080 * 3).fill(50), 1920, 1080);
  assert.equal(s.stride, 10);
  const b = s.compute(new Uint8Array(640 * 480 * 3).fill(200), 640, 480);
  assert.equal(a, b);
  assert.equal(s.stride, 4);
  assert.ok(close(b[F.brightness]!, 200, 1e-9));
});

test('the synthetic lighting schedule moves brightness the expected way', () => {
  const cam = new LineCamera(640, 480, 3);
  const s = new FrameStats();
  const series: number[] = [];
  for (let i = 0; i <= 10; i++) {
    const gain = 1 - 0.04 * i; // falls by 40% over the schedule
    series.push(s.compute(cam.next({ ...DEFAULT_CONDITIONS, gain }).data, 640, 480)[F.brightness]!);
  }
  for (let i = 1; i < series.length; i++) assert.ok(series[i]! < series[i - 1]!, `brightness falls: ${series.map((x) => x.toFixed(1)).join(' ')}`);
  const ratio = series[10]! / series[0]!;
  assert.ok(ratio > 0.55 && ratio < 0.65, `a 40% gain drop gives ~40% less brightness, got ratio ${ratio.toFixed(3)}`);
  const warm = s.compute(cam.next({ ...DEFAULT_CONDITIONS, colourTempK: 3000 }).data, 640, 480)[F.colourTemp]!;
  const cool = s.compute(cam.next({ ...DEFAULT_CONDITIONS, colourTempK: 9000 }).data, 640, 480)[F.colourTemp]!;
  assert.ok(warm > cool + 0.3, `warm ${warm} vs cool ${cool}`);
});
