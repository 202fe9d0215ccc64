/**
 * One rule for when a per-frame kernel gets an instance of its own (kernel-engine.ts), and both of
 * its users, the letterbox and the input statistics, following it frame by frame for every engine.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownKernelDue, type KernelEngine } from '../../../agent/preprocess/kernel-engine.js';
import { Letterboxer } from '../../../agent/preprocess/letterbox.js';
import { FrameStats } from '../../../agent/telemetry/frame-stats.js';

test('an instance of its own: from the first frame with wasm, from the second with auto', () => {
  assert.deepEqual([1, 2, 3].map((n) => ownKernelDue('wasm', n)), [true, true, true]);
  assert.deepEqual([1, 2, 3].map((n) => ownKernelDue('auto', n)), [false, true, true]);
});

test('the letterbox and the statistics take their kernels on the same frames, for every engine', async () => {
  const sizes = [[640, 480], [640, 480], [640, 480], [320, 240], [320, 240]] as const;
  for (const engine of ['auto', 'wasm', 'js'] satisfies KernelEngine[]) {
    const lb = new Letterboxer(new Float32Array(3 * 256 * 192), 256, 192, 'bilinear', engine);
    const fs = new FrameStats(undefined, engine);
    const resampled: string[] = [];
    const sampled: string[] = [];
    for (const [w, h] of sizes) {
      // A fresh buffer each frame: not a camera's frame memory, so no placed kernel takes it.
      const data = new Uint8Array(w * h * 3).map((_, i) => (i * 7) & 255);
      await lb.run({ data, width: w, height: h, channels: 3 });
      fs.compute(data, w, h);
      resampled.push(lb.resampledBy!);
      sampled.push(fs.sampledBy!);
    }
    const expected = engine === 'js' ? ['js', 'js', 'js', 'js', 'js'] : engine === 'wasm' ? ['wasm', 'wasm', 'wasm', 'wasm', 'wasm'] : ['js', 'wasm', 'wasm', 'js', 'wasm'];
    assert.deepEqual(resampled, expected, `letterbox, ${engine}`);
    assert.deepEqual(sampled, expected, `statistics, ${engine}`);
  }
});
