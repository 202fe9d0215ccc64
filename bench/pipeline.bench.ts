/**
 * Agent pipeline costs (issue: the edge agent):
 * - full-pipeline frames/s divided by bare inference frames/s, same model and threads (target >= 0.95):
 *   telemetry and storage must be nearly free;
 * - telemetry cost per 1080p frame (target <= 1 ms);
 * - detection-level OOD scoring per frame at 20 detections (target <= 0.2 ms), with where the time
 *   goes (the boxes' appearance statistics, the triangular solve) and the embedding's copy out of
 *   the inference worker;
 * - SQLite rows per second with batching (baseline: one transaction per row, same run);
 * - agent RSS with 4 synthetic cameras.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Detector } from '../agent/infer/detector.js';
import { loadModel } from '../agent/infer/model.js';
import { Pipeline } from '../agent/pipeline/pipeline.js';
import type { FrameSource, SourceCounters, SourceFrame, SourceState } from '../agent/source/source.js';
import { SyntheticSource } from '../agent/source/synthetic.js';
import { openDatabase } from '../agent/store/database.js';
import { FrameWriter } from '../agent/store/frame-writer.js';
import { recordOver } from '../agent/telemetry/frame-record.js';
import { LineCamera } from '../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../agent/synth/conditions.js';
import { appearanceFeatures, DetectionFeatures, DetectionOodScorer } from '../agent/ood/detection-ood.js';
import { OodReferenceBuilder } from '../agent/ood/reference-builder.js';
import { DETECTION_FEATURES, DetectionStats } from '../agent/telemetry/detection-stats.js';
import { FrameStats } from '../agent/telemetry/frame-stats.js';
import { header, line, measure, ratio } from './harness.js';

const MODEL = new URL('../models/line-detector.onnx', import.meta.url).pathname;

/**
 * A source that replays prepared frames exactly as fast as the pipeline takes them: two frames
 * up front (one to infer, one to letterbox meanwhile), then one more each time a frame is done.
 * The figure measures the pipeline, not a camera, and nothing is copied only to be dropped.
 */
class ReplaySource implements FrameSource {
  readonly name = 'replay';
  readonly counters: SourceCounters = { frames: 0, reconnects: 0, stalls: 0, errors: 0 };
  state: SourceState = 'stopped';
  readonly paced = false; // it paces itself through onFrameDone
  private onFrame: ((f: SourceFrame) => void) | undefined;
  constructor(
    private readonly frames: Uint8Array[],
    readonly width: number,
    readonly height: number,
  ) {}
  start(onFrame: (f: SourceFrame) => void): void {
    this.state = 'streaming';
    this.onFrame = onFrame;
    this.emit();
    setImmediate(() => this.emit());
  }
  emit(): void {
    if (this.state !== 'streaming' || !this.onFrame) return;
    const data = this.frames[this.counters.frames % this.frames.length]!;
    this.onFrame({ data, width: this.width, height: this.height, channels: 3, ts: Date.now(), mono: performance.now(), index: this.counters.frames++ });
  }
  async stop(): Promise<void> {
    this.state = 'stopped';
  }
  pause(): void {}
  resume(): void {}
}

const YOLO = new URL('../bench/models/yolov8n-random-640.onnx', import.meta.url).pathname;

async function pipelineRatio(seconds: number, file: string, label: string, frames: Uint8Array[]): Promise<void> {
  header(`agent pipeline: ${label}, 640x480 frames, 1 intra-op thread`);
  const model = await loadModel(file, { providers: ['cpu'], intraOpThreads: 1 });
  // Bare inference: session.run on one prepared tensor, same model and threads.
  const plain = new Detector(model);
  await plain.preprocess({ data: frames[0]!, width: 640, height: 480, channels: 3 }, plain.slots[0]!);
  const feeds = { [model.inputName]: plain.slots[0]!.inputTensor! };
  const bare = await measure(seconds / 5, () => model.session.run(feeds));
  const dir = await mkdtemp(join(tmpdir(), 'driftline-bench-'));
  const db = openDatabase(join(dir, 'agent.db'));
  const id = Number(db.prepare("INSERT INTO cameras (name) VALUES ('replay')").run().lastInsertRowid);
  const detector = await Detector.open(model);
  const writer = new FrameWriter(db, { flushMs: 500 });
  const replay = new ReplaySource(frames, 640, 480);
  const pipeline = new Pipeline(detector, writer, [{ id, source: replay }]);
  pipeline.onFrameDone = () => replay.emit();
  await new Promise((r) => setTimeout(r, 300));
  pipeline.start();
  await new Promise((r) => setTimeout(r, 1000)); // warm up
  const p0 = pipeline.counters[0]!.processed;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, (seconds / 3) * 1000));
  const fps = (pipeline.counters[0]!.processed - p0) / ((performance.now() - t0) / 1000);
  const where = detector.inferenceThread;
  await pipeline.stop();
  await detector.close();
  line('bare inference (session.run)', `${bare.perSecond.toFixed(0)} frames/s`);
  line(`full pipeline (inference in the ${where} thread, telemetry, SQLite)`, `${fps.toFixed(0)} frames/s`);
  ratio('ratio full pipeline / bare inference', fps / bare.perSecond, 0.95);
  db.close();
}

export async function bench(seconds: number): Promise<void> {
  const cam = new LineCamera(640, 480, 5);
  const frames = Array.from({ length: 8 }, () => Uint8Array.from(cam.next(DEFAULT_CONDITIONS).data));
  await pipelineRatio(seconds, MODEL, 'shipped line-detector (0.9 ms)', frames);
  await pipelineRatio(seconds, YOLO, 'YOLOv8n-sized (45 ms)', frames);
  const model = await loadModel(MODEL, { providers: ['cpu'], intraOpThreads: 1 });
  const plain = new Detector(model);
  await plain.preprocess({ data: frames[0]!, width: 640, height: 480, channels: 3 }, plain.slots[0]!);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-bench-'));
  const db = openDatabase(join(dir, 'agent.db'));
  const id = Number(db.prepare("INSERT INTO cameras (name) VALUES ('rows')").run().lastInsertRowid);

  header('telemetry per 1920x1080 frame');
  const big = new LineCamera(1920, 1080, 6).next(DEFAULT_CONDITIONS).data;
  const fs = new FrameStats();
  const fsr = await measure(seconds / 10, () => fs.compute(big, 1920, 1080));
  const ds = new DetectionStats(4);
  const slot = plain.slots[0]!;
  await plain.infer(slot);
  plain.postprocess(slot);
  const dsr = await measure(seconds / 10, () => ds.compute(slot.candidates, slot.detections, 1920, 1080, slot.letterbox));
  line('input statistics (12 features)', `${fsr.msEach.toFixed(3)} ms`);
  line('detection telemetry + confidence histograms', `${dsr.msEach.toFixed(4)} ms`);
  ratio('telemetry ms per 1080p frame', fsr.msEach + dsr.msEach, 1, false);

  await oodScoring(seconds, model);

  header('SQLite per-frame rows');
  const stats = new Float64Array(12).fill(0.5);
  const det = new Float64Array(DETECTION_FEATURES.length).fill(1);
  const rec = recordOver(stats, { values: det, classCounts: new Uint32Array(0), confHist: new Uint32Array(0) });
  rec.stageMs.fill(1);
  const w2 = new FrameWriter(db, { flushMs: 3_600_000, capacity: 10_000 });
  let k = 0;
  const batched = await measure(seconds / 10, () => {
    for (let i = 0; i < 1000; i++) {
      rec.ts = Date.now();
      rec.index = k++;
      w2.add(id, rec);
    }
    w2.flush();
  });
  const one = new FrameWriter(db, { flushMs: 3_600_000, capacity: 10 });
  const single = await measure(seconds / 10, () => {
    rec.ts = Date.now();
    rec.index = k++;
    one.add(id, rec);
    one.flush();
  });
  w2.close();
  one.close();
  line('baseline: one transaction per row', `${single.perSecond.toFixed(0)} rows/s`);
  line('batched: 1000 rows per transaction', `${(batched.perSecond * 1000).toFixed(0)} rows/s`);
  line('batching speed-up', `${((batched.perSecond * 1000) / single.perSecond).toFixed(1)}x`);
  db.close();

  header('agent memory with 4 synthetic cameras (640x480, 10 fps each)');
  const rss0 = process.memoryUsage().rss;
  const db4 = openDatabase(join(dir, 'four.db'));
  const det4 = await Detector.open(model);
  const w4 = new FrameWriter(db4);
  const cams = [0, 1, 2, 3].map((i) => ({
    id: Number(db4.prepare('INSERT INTO cameras (name) VALUES (?)').run(`cam${i}`).lastInsertRowid),
    source: new SyntheticSource({ name: `cam${i}`, width: 640, height: 480, fps: 10, seed: i }),
  }));
  const p4 = new Pipeline(det4, w4, cams);
  p4.start();
  let peak = 0;
  const until = Date.now() + (seconds / 4) * 1000;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  await p4.stop();
  await det4.close();
  const processed = p4.counters.reduce((a, c) => a + c.processed, 0);
  const dropped = p4.counters.reduce((a, c) => a + c.dropped, 0);
  db4.close();
  line('process RSS before the 4 cameras (this benchmark process)', `${(rss0 / 2 ** 20).toFixed(0)} MiB`);
  line('peak RSS with 4 cameras running', `${(peak / 2 ** 20).toFixed(0)} MiB (+${((peak - rss0) / 2 ** 20).toFixed(0)} MiB)`);
  line('frames processed / dropped', `${processed} / ${dropped}`);
}

/** CPU milliseconds per call of `fn` (this process's user + system time): the cost itself, not the wait for a busy core. */
function cpuMsEach(calls: number, fn: () => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / calls;
}

/**
 * Detection-level OOD scoring as Detector.postprocess runs it for each kept detection: the
 * embedding row at its anchor, the 48 appearance statistics of its box (45 px, the size of a part
 * in the input), standardisation and the triangular solve against a reference fitted here on the
 * shipped model, like driftline baseline fits one.
 */
export async function oodScoring(seconds: number, model: Awaited<ReturnType<typeof loadModel>>): Promise<void> {
  header('detection-level OOD scoring (agent/ood)');
  const e = model.embedding!;
  const cam = new LineCamera(640, 480, 8);
  const stills = Array.from({ length: 80 }, () => ({ data: Uint8Array.from(cam.still(DEFAULT_CONDITIONS).data), width: 640, height: 480, channels: 3 as const }));
  const fitter = new Detector(model, { embedding: true });
  const builder = new OodReferenceBuilder({ embeddingDim: e.dim, appearance: true }, model.names.length, e.anchors, model.inputW, model.inputH);
  await fitter.run(stills, (s) => builder.add({ ...s.detections, count: s.detections.count, inputBoxes: s.inputBoxes, embed: s.embed, input: s.input }));
  const reference = builder.finish().reference;
  const slot = fitter.slots[0]!;
  await fitter.preprocess(stills[0]!, slot);
  await fitter.infer(slot);
  const boxes = new Float32Array(80);
  for (let i = 0; i < 20; i++) {
    const x = 10 + (i % 5) * 48;
    const y = 10 + Math.floor(i / 5) * 44;
    boxes.set([x, y, x + 45, y + 45], i * 4);
  }
  const scorer = new DetectionOodScorer(reference).bind(e.anchors, model.inputW, model.inputH);
  const vector = Float64Array.from(new DetectionFeatures(reference.features, e.anchors, model.inputW, model.inputH).build(slot.embed, 5, slot.input, boxes, 0));
  const stats = new Float64Array(48);
  const hist = new Float64Array(42);
  let sink = 0;
  const frame = (): void => {
    for (let i = 0; i < 20; i++) sink += scorer.score(i % 4, slot.embed, (i * 9) % e.anchors, slot.input, boxes, i * 4);
  };
  const appearance = (): void => {
    for (let i = 0; i < 20; i++) {
      appearanceFeatures(slot.input, model.inputW, model.inputH, boxes[i * 4]!, boxes[i * 4 + 1]!, boxes[i * 4 + 2]!, boxes[i * 4 + 3]!, stats, 0, hist);
      sink += stats[0]!;
    }
  };
  const solve = (): void => {
    for (let i = 0; i < 20; i++) sink += scorer.scoreVector(i % 4, vector);
  };
  const embedCopy = new Float32Array(slot.embed.length);
  const r = await measure(seconds / 10, frame, 50);
  const calls = Math.max(50, r.iterations);
  const cpu = cpuMsEach(calls, frame);
  const cpuAppearance = cpuMsEach(calls, appearance);
  const cpuSolve = cpuMsEach(calls, solve);
  const cpuCopy = cpuMsEach(calls * 20, () => embedCopy.set(slot.embed));
  line(`dim ${scorer.dim} (embed0 ${reference.features.embeddingDim} + 48 appearance), 45 px boxes`, `${(JSON.stringify(reference).length / 1024).toFixed(0)} KB reference`);
  line('  quadratic form engine (agent/ood/packed-quadform.ts)', scorer.engine);
  line('  appearance statistics, 20 boxes (CPU)', `${cpuAppearance.toFixed(4)} ms`);
  line('  standardise + quadratic form, 20 (CPU)', `${cpuSolve.toFixed(4)} ms`);
  line(`  embed0 copy out of the worker (${((slot.embed.length * 4) / 1024).toFixed(0)} KB, CPU)`, `${cpuCopy.toFixed(4)} ms`);
  line('  wall time per frame (however busy the machine)', `${r.msEach.toFixed(4)} ms`);
  ratio('detection-level OOD ms/frame at 20 detections', cpu, 0.2, false);
  if (sink === 0) line('checksum', '0');
}
