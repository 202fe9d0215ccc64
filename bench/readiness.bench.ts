/**
 * `driftline evaluate`'s own cost: images per second through the evaluation (decode the JPEG,
 * letterbox, infer, decode and NMS down to a 0.001 floor, then every metric of the report), against
 * bare inference (session.run on each image's letterboxed tensor, prepared beforehand) on the same
 * images in the same run. Corruptions, latency and provenance are switched off: they are further
 * passes over the images, each costing about one more evaluation pass. The ratio says how much of
 * an evaluation is the model itself.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../agent/infer/model.js';
import { decodeImage, Letterboxer } from '../agent/preprocess/letterbox.js';
import { readEvalSet } from '../agent/readiness/dataset.js';
import { evaluate } from '../agent/readiness/evaluate.js';
import { conditionSpec } from '../agent/synth/conditions.js';
import { writeDataset } from '../agent/synth/dataset.js';
import { header, line, ratio } from './harness.js';

const MODEL = new URL('../models/line-detector.onnx', import.meta.url).pathname;

export async function bench(seconds: number): Promise<void> {
  header('driftline evaluate throughput (agent/readiness)');
  const images = Math.max(60, Math.round(seconds * 20));
  const dir = await mkdtemp(join(tmpdir(), 'driftline-bench-eval-'));
  try {
    await writeDataset({ out: dir, count: images, seed: 77, width: 640, height: 480, valFraction: 1, conditions: conditionSpec({ defectRate: 0.3 }) });
    const set = await readEvalSet(dir);
    const model = await loadModel(MODEL, { providers: ['cpu'], intraOpThreads: 1 });
    // Bare inference: every tensor prepared first, then only session.run is timed.
    const tensors: ort.Tensor[] = [];
    for (const im of set.images) {
      const input = new Float32Array(3 * model.inputW * model.inputH);
      await new Letterboxer(input, model.inputW, model.inputH).run(await decodeImage(im.file));
      tensors.push(new ort.Tensor('float32', input, [1, 3, model.inputH, model.inputW]));
    }
    for (let i = 0; i < 20; i++) await model.session.run({ [model.inputName]: tensors[i % tensors.length]! });
    const t0 = performance.now();
    for (const t of tensors) await model.session.run({ [model.inputName]: t });
    const bare = (1000 * tensors.length) / (performance.now() - t0);
    const t1 = performance.now();
    const report = await evaluate({ model: MODEL, data: dir, corruptions: [], latencyRuns: 1, profile: '/nonexistent-no-provenance.json' });
    const whole = (1000 * images) / (performance.now() - t1);
    line(`images (640x480 JPEG, 30% defects)`, String(images));
    line('bare inference (session.run only)', `${bare.toFixed(0)} images/s`);
    line('evaluation pass (decode to metrics)', `${report.timing.imagesPerSecond.toFixed(1)} images/s`);
    line('whole evaluate() call, report included', `${whole.toFixed(1)} images/s`);
    ratio('evaluation / bare inference throughput', report.timing.imagesPerSecond / bare, 0.25);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
