import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FRAME_FEATURES, FrameStats } from '../../../agent/telemetry/frame-stats.js';
import { WasmFrameStats, wasmFrameStatsAvailable } from '../../../agent/telemetry/wasm-frame-stats.js';
import { LineCamera } from '../../../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../../../agent/synth/conditions.js';
import { Rng } from '../../../agent/synth/rng.js';

/** Uniform noise (every byte value, saturated and black pixels among them), or a rendered line scene. */
function frame(w: number, h: number, seed: number, kind: 'noise' | 'scene' | 'dark'): Uint8Array {
  if (kind === 'scene') return Uint8Array.from(new LineCamera(w, h, seed).next(DEFAULT_CONDITIONS).data);
  const rng = new Rng(seed);
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rng.next() * (kind === 'dark' ? 12 : 256));
  return out;
}

test('this Node compiles the kernel', () => {
  assert.ok(wasmFrameStatsAvailable());
});

test('the WebAssembly pass gives the JavaScript loop\'s 12 statistics bit for bit, at every size and kind of frame', () => {
  for (const [w, h] of [[640, 480], [1920, 1080], [320, 240], [333, 217], [50, 40], [4, 4], [2, 2]] as const) {
    for (const kind of ['noise', 'scene', 'dark'] as const) {
      if (kind === 'scene' && w < 32) continue;
      const js = new FrameStats(160 * 120, 'js');
      const wasm = new FrameStats(160 * 120, 'wasm');
      for (let k = 0; k < 2; k++) {
        const data = frame(w, h, k + w, kind);
        const a = Array.from(js.compute(data, w, h));
        const b = Array.from(wasm.compute(data, w, h));
        assert.equal(wasm.sampledBy, 'wasm');
        FRAME_FEATURES.forEach((f, i) => assert.ok(Object.is(a[i], b[i]), `${w}x${h} ${kind} frame ${k}: ${f} ${a[i]} against ${b[i]}`));
      }
    }
  }
});

test('auto samples the first frame of a size in JavaScript and the rest in WebAssembly; a new size starts over', () => {
  const fs = new FrameStats();
  const ref = new FrameStats(160 * 120, 'js');
  const seen: string[] = [];
  for (const [w, h] of [[640, 480], [640, 480], [640, 480], [320, 240], [320, 240]] as const) {
    const data = frame(w, h, seen.length, 'noise');
    assert.deepEqual(Array.from(fs.compute(data, w, h)), Array.from(ref.compute(data, w, h)));
    seen.push(fs.sampledBy!);
  }
  assert.deepEqual(seen, ['js', 'wasm', 'wasm', 'js', 'wasm']);
});

test('a grid that does not fit its frame is refused', () => {
  assert.throws(() => new WasmFrameStats(64, 48, 4, 17, 12), /does not fit/);
});

test('a grid wider than the kernel takes stays in JavaScript: the same statistics, from the loop', () => {
  // 5000x2 with 5,000 target samples: every pixel sampled, a grid 5,000 points wide.
  const fs = new FrameStats(5000);
  const ref = new FrameStats(5000, 'js');
  for (let k = 0; k < 3; k++) {
    const data = frame(5000, 2, k, 'noise');
    assert.deepEqual(Array.from(fs.compute(data, 5000, 2)), Array.from(ref.compute(data, 5000, 2)));
    assert.equal(fs.sampledBy, 'js');
  }
  assert.throws(() => new WasmFrameStats(5000, 2, 1, 5000, 2), /over the kernel's 2048/);
});
