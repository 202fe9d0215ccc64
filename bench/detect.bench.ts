/**
 * Inference path on 1080p frames, for the shipped model and for a YOLOv8n-sized network at 640x640
 * (random weights, exported by models/training/train.py) so that our tiny model cannot flatter the
 * figures. Prints ms per frame for each stage and the ratio of end-to-end detect throughput
 * (pipelined: preprocess of the next frame overlaps inference) to bare session.run throughput on the
 * same tensor with the same threads. Target: >= 0.90.
 */
import { existsSync } from 'node:fs';
import { Detector } from '../agent/infer/detector.js';
import { loadModel } from '../agent/infer/model.js';
import type { RawFrame } from '../agent/preprocess/letterbox.js';
import { LineCamera } from '../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../agent/synth/conditions.js';
import { header, line, measure, ratio } from './harness.js';

const ROOT = new URL('../', import.meta.url).pathname;
export const MODELS = [
  { name: 'shipped line-detector (256x192)', file: `${ROOT}models/line-detector.onnx` },
  { name: 'YOLOv8n-sized, random weights (640x640)', file: `${ROOT}bench/models/yolov8n-random-640.onnx` },
];

function frames1080p(n: number): RawFrame[] {
  const cam = new LineCamera(1920, 1080, 7);
  return Array.from({ length: n }, () => ({ data: Uint8Array.from(cam.next({ ...DEFAULT_CONDITIONS, defectRate: 0.2 }).data), width: 1920, height: 1080, channels: 3 as const }));
}

export async function bench(seconds: number, threadsList: number[] = [1, 2]): Promise<void> {
  const frames = frames1080p(6);
  for (const { name, file } of MODELS) {
    if (!existsSync(file)) {
      header(`${name}: ${file} missing; create it with: npm run train -- --only bench`);
      continue;
    }
    for (const threads of threadsList) {
      header(`detect on 1920x1080 frames: ${name}, ${threads} intra-op thread(s), CPU`);
      const model = await loadModel(file, { providers: ['cpu'], intraOpThreads: threads });
      const det = new Detector(model, { conf: 0.25, slots: 2 });
      const slot = det.slots[0]!;
      let i = 0;
      const pre = await measure(seconds / 6, () => det.preprocess(frames[i++ % frames.length]!, slot));
      const inf = await measure(seconds / 6, () => det.infer(slot));
      const post = await measure(seconds / 12, () => det.postprocess(slot));
      line('preprocess (letterbox + CHW float)', `${pre.msEach.toFixed(2)} ms/frame`);
      line('inference (session.run)', `${inf.msEach.toFixed(2)} ms/frame`);
      line('decode + NMS + map back', `${post.msEach.toFixed(3)} ms/frame`);
      // Bare: session.run on the same tensor, nothing else.
      const feeds = { [model.inputName]: slot.inputTensor! };
      const bare = await measure(seconds / 6, () => model.session.run(feeds));
      const throughput = async (d: Detector): Promise<number> => {
        let n = 0;
        const t0 = performance.now();
        const until = t0 + (seconds / 6) * 1000;
        function* source(): Generator<RawFrame> {
          while (performance.now() < until) yield frames[n++ % frames.length]!;
        }
        const done = await d.run(source(), () => {});
        return done / ((performance.now() - t0) / 1000);
      };
      const onMain = await throughput(det);
      const worker = await Detector.open(model, { conf: 0.25, slots: 2, thread: 'worker' });
      await throughput(worker); // warm the worker's session
      const inWorker = await throughput(worker);
      await worker.close();
      const auto = await Detector.open(model, { conf: 0.25, slots: 2 });
      const chosen = auto.inferenceThread;
      await auto.close();
      const e2e = chosen === 'worker' ? inWorker : onMain;
      line('bare session.run throughput', `${bare.perSecond.toFixed(1)} frames/s`);
      line('end-to-end, inference on the JS thread', `${onMain.toFixed(1)} frames/s (ratio ${(onMain / bare.perSecond).toFixed(3)})`);
      line('end-to-end, inference in a worker thread', `${inWorker.toFixed(1)} frames/s (ratio ${(inWorker / bare.perSecond).toFixed(3)})`);
      line(`default policy (thread: auto) picks`, chosen);
      ratio(`ratio end-to-end / bare, default policy (${chosen})`, e2e / bare.perSecond, 0.9);
    }
  }
}
