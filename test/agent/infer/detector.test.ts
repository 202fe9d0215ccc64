import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BoxSet, iouAt } from '../../../agent/decode/boxes.js';
import { AUTO_MAIN_MAX_LOAD, Detector } from '../../../agent/infer/detector.js';
import { loadModel } from '../../../agent/infer/model.js';
import { OodReferenceBuilder } from '../../../agent/ood/reference-builder.js';
import type { RawFrame } from '../../../agent/preprocess/letterbox.js';
import { datasetMetrics, type ScoredBox } from '../../../agent/readiness/metrics.js';
import { LineCamera } from '../../../agent/synth/camera.js';
import { MODEL_CLASS_COUNT } from '../../../agent/synth/classes.js';
import { DEFAULT_CONDITIONS } from '../../../agent/synth/conditions.js';
import { constantModel } from '../../helpers/onnx-writer.js';
import { releaser } from '../../helpers/ports.js';

const SHIPPED = new URL('../../../models/line-detector.onnx', import.meta.url).pathname;
/** Never used for training (training uses seed 1001): a fresh, held-out set. */
const HELD_OUT_SEED = 20261128;

function blank(width: number, height: number): RawFrame {
  return { data: new Uint8Array(width * height * 3), width, height, channels: 3 };
}

async function constant(dims: number[], data: number[], metadata: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-det-'));
  const f = join(dir, 'm.onnx');
  const full = new Float32Array(dims.reduce((a, b) => a * b, 1));
  full.set(data);
  await writeFile(f, constantModel({ inputShape: [1, 3, 64, 64], outputDims: dims, outputData: full, metadata }));
  return f;
}

test('yolov8 output through ONNX Runtime: NMS, then boxes mapped back to a 128x96 frame', async () => {
  // 64x64 input; a 128x96 frame letterboxes at scale 0.5 with 8 px of padding on top.
  const n = 4;
  const out = [
    /* cx */ 20, 21, 40, 50,
    /* cy */ 20, 20, 40, 50,
    /* w  */ 10, 10, 8, 4,
    /* h  */ 10, 10, 8, 4,
    /* a  */ 0.9, 0.8, 0.1, 0.05,
    /* b  */ 0.1, 0.1, 0.7, 0.1,
  ];
  const m = await loadModel(await constant([1, 6, n], out, { names: "{0: 'a', 1: 'b'}" }), { providers: ['cpu'] });
  const d = new Detector(m, { conf: 0.25, iou: 0.45 });
  const slot = await d.detect(blank(128, 96));
  assert.deepEqual(d.toObjects(slot), [
    { class: 'a', classId: 0, score: 0.9, box: [30, 14, 50, 34] },
    { class: 'b', classId: 1, score: 0.7, box: [72, 56, 88, 72] },
  ]);
  // Candidates above the floor are kept for confidence histograms, before NMS.
  const low = new Detector(m, { conf: 0.25, candidateFloor: 0.05 });
  const s2 = await low.detect(blank(128, 96));
  assert.equal(s2.candidates.count, 4);
  assert.equal(s2.detections.count, 2);
});

test('yolov5 and end-to-end outputs through ONNX Runtime', async () => {
  const v5 = await loadModel(await constant([1, 2, 7], [32, 32, 16, 8, 0.9, 0.2, 0.8, 5, 5, 2, 2, 0.1, 0.9, 0.1], { names: "{0: 'x', 1: 'y'}" }), { providers: ['cpu'] });
  const d5 = new Detector(v5);
  assert.deepEqual(d5.toObjects(await d5.detect(blank(64, 64))), [{ class: 'y', classId: 1, score: 0.72, box: [24, 28, 40, 36] }]);
  const e2e = await loadModel(await constant([1, 3, 6], [4, 4, 20, 20, 0.95, 2, 4, 4, 20, 20, 0.9, 2], { names: "{0: 'a', 1: 'b', 2: 'c'}", end2end: 'True' }), { providers: ['cpu'] });
  const de = new Detector(e2e);
  // NMS inside the model is trusted: the two overlapping boxes both stay.
  assert.deepEqual(de.toObjects(await de.detect(blank(64, 64))).map((o) => [o.class, o.score]), [['c', 0.95], ['c', 0.9]]);
});

test('unknown class names in per-class thresholds are refused', async () => {
  const m = await loadModel(SHIPPED, { providers: ['cpu'] });
  assert.throws(() => new Detector(m, { classConf: { wheel: 0.5 } }), /wheel.*washer, bracket/);
});

test('unknown or repeated class names in classPriority are refused', async () => {
  const m = await loadModel(SHIPPED, { providers: ['cpu'] });
  assert.throws(() => new Detector(m, { agnostic: true, classPriority: ['scratch', 'wheel'] }), /classPriority.*"wheel".*washer, bracket, scratch, missing_notch/);
  assert.throws(() => new Detector(m, { agnostic: true, classPriority: ['scratch', 'scratch'] }), /twice/);
  assert.throws(() => new Detector(m, { agnostic: true, agnosticIou: 1.5 }), /agnosticIou/);
  const d = new Detector(m, { agnostic: true, classPriority: ['scratch', 'missing_notch', 'washer', 'bracket'] });
  assert.deepEqual(Array.from(d.nmsOptions.classPriority!), [2, 1, 4, 3]);
  assert.equal(d.nmsOptions.agnosticIou, 0.7);
  assert.equal(new Detector(m).nmsOptions.agnostic, undefined, 'off by default');
});

test('the shipped model with agnostic NMS and a class priority: no cross-class pair overlaps by more than 0.7', async (t) => {
  const m = await loadModel(SHIPPED, { providers: ['cpu'], intraOpThreads: 1 });
  const priority = ['scratch', 'missing_notch', 'washer', 'bracket'];
  const aware = new Detector(m, { conf: 0.01, slots: 1 });
  const agnostic = new Detector(m, { conf: 0.01, slots: 1, agnostic: true, agnosticIou: 0.7, classPriority: priority });
  const cam = new LineCamera(640, 480, HELD_OUT_SEED + 2);
  /** Cross-class pairs of the slot's detections with IoU > 0.7, and the detections as rows. */
  const read = (d: BoxSet): { pairs: number; rows: string[] } => {
    let pairs = 0;
    for (let i = 0; i < d.count; i++) for (let j = i + 1; j < d.count; j++) if (d.classes[i] !== d.classes[j] && iouAt(d.boxes, i, d.boxes, j) > 0.7) pairs++;
    const rows = Array.from({ length: d.count }, (_, i) => `${d.classes[i]} ${d.scores[i]} ${d.boxes.subarray(i * 4, i * 4 + 4).join(',')}`);
    return { pairs, rows };
  };
  let before = 0;
  let kept = 0;
  for (let i = 0; i < 150; i++) {
    const f = cam.still({ ...DEFAULT_CONDITIONS, defectRate: 0.3 });
    const frame = { data: f.data, width: 640, height: 480, channels: 3 } as const;
    const all = read((await aware.detect(frame)).detections);
    const some = read((await agnostic.detect(frame)).detections);
    before += all.pairs;
    assert.equal(some.pairs, 0, `frame ${i}`);
    // Agnostic suppression only removes: every box it keeps, class-aware NMS keeps too.
    const allRows = new Set(all.rows);
    for (const r of some.rows) assert.ok(allRows.has(r), `frame ${i}: ${r}`);
    kept += some.rows.length;
  }
  t.diagnostic(`${before} cross-class duplicate pairs (IoU > 0.7) with class-aware NMS in 150 frames at conf 0.01; none with agnostic NMS (${kept} detections kept)`);
  assert.ok(before > 0, 'the frames have cross-class duplicates to remove');
});

test('the shipped model finds the parts of a held-out rendered set: precision and recall >= 0.9 at IoU 0.5', async () => {
  const m = await loadModel(SHIPPED, { providers: ['cpu'], intraOpThreads: 1 });
  const det = new Detector(m, { conf: 0.25, iou: 0.45 });
  const cam = new LineCamera(640, 480, HELD_OUT_SEED);
  const images: { gts: ScoredBox[]; dets: ScoredBox[] }[] = [];
  for (let i = 0; i < 200; i++) {
    const frame = cam.still(DEFAULT_CONDITIONS);
    const gts = frame.objects.map((o) => ({ classId: o.classId, x1: o.x1, y1: o.y1, x2: o.x2, y2: o.y2, score: 1 }));
    const slot = await det.detect({ data: frame.data, width: 640, height: 480, channels: 3 });
    const dets = det.toObjects(slot).map((o) => ({ classId: o.classId, score: o.score, x1: o.box[0], y1: o.box[1], x2: o.box[2], y2: o.box[3] }));
    images.push({ gts, dets });
  }
  const r = datasetMetrics(images, MODEL_CLASS_COUNT, 0.25, 0.5);
  const gtCount = r.tp + r.fn;
  assert.ok(gtCount > 500, `${gtCount} parts in the held-out set`);
  assert.ok(r.recall >= 0.9, `recall ${r.recall.toFixed(3)} (tp ${r.tp}, fn ${r.fn})`);
  assert.ok(r.precision >= 0.9, `precision ${r.precision.toFixed(3)} (tp ${r.tp}, fp ${r.fp})`);
});

test('pipelined run() gives the same detections as one-at-a-time detect()', async () => {
  const m = await loadModel(SHIPPED, { providers: ['cpu'], intraOpThreads: 1 });
  const cam = new LineCamera(640, 480, HELD_OUT_SEED + 1);
  const frames: RawFrame[] = [];
  for (let i = 0; i < 12; i++) frames.push({ data: Uint8Array.from(cam.next({ ...DEFAULT_CONDITIONS, defectRate: 0.3 }).data), width: 640, height: 480, channels: 3 });
  const one = new Detector(m);
  const sequential: string[] = [];
  for (const f of frames) sequential.push(JSON.stringify(one.toObjects(await one.detect(f))));
  const two = new Detector(m, { slots: 2 });
  const piped: string[] = [];
  const order: number[] = [];
  const count = await two.run(frames, (slot, i) => {
    order.push(i);
    piped.push(JSON.stringify(two.toObjects(slot)));
  });
  assert.equal(count, 12);
  assert.deepEqual(order, [...Array(12).keys()]);
  assert.deepEqual(piped, sequential);
  assert.ok(sequential.some((s) => s !== '[]'), 'the frames have detections');
});

test('inference in a worker thread gives the same detections as on the main thread', async (t) => {
  const release = releaser(t);
  const m = await loadModel(SHIPPED, { providers: ['cpu'], intraOpThreads: 1 });
  const cam = new LineCamera(640, 480, HELD_OUT_SEED + 2);
  const frames: RawFrame[] = [];
  for (let i = 0; i < 10; i++) frames.push({ data: Uint8Array.from(cam.next({ ...DEFAULT_CONDITIONS, defectRate: 0.3 }).data), width: 640, height: 480, channels: 3 });
  const main = new Detector(m);
  const expected: string[] = [];
  for (const f of frames) expected.push(JSON.stringify(main.toObjects(await main.detect(f))));
  const worker = await Detector.open(m, { thread: 'worker' });
  const closeWorker = release('worker detector', () => worker.close());
  assert.equal(worker.inferenceThread, 'worker');
  const got: string[] = [];
  await worker.run(frames, (slot) => got.push(JSON.stringify(worker.toObjects(slot))));
  assert.deepEqual(got, expected);
  // One-at-a-time detect() works through the worker too.
  assert.equal(JSON.stringify(worker.toObjects(await worker.detect(frames[3]!))), expected[3]);
  await closeWorker();
  // auto: one intra-op thread on a machine with more cores leaves a core free -> a worker, unless
  // the model is fast and the frames expected keep inference light: then the main thread, where the
  // hand-off would cost more than it saves. Intra-op 0 (every core) -> main thread.
  assert.ok(m.runMs > 0 && m.runMs <= m.warmupMs, `fastest warm-up run ${m.runMs} ms, mean ${m.warmupMs} ms`);
  const cores = availableParallelism() > 1;
  // The load at which auto leaves the main thread: exactly AUTO_MAIN_MAX_LOAD of a core.
  const limitFps = (AUTO_MAIN_MAX_LOAD * 1000) / m.runMs;
  const cases = [
    { o: { autoWorkerFromMs: m.runMs * 10, expectedFps: 1 }, want: 'main', why: 'fast model, light load' },
    { o: { autoWorkerFromMs: m.runMs * 10, expectedFps: limitFps * 0.999 }, want: 'main', why: 'fast model, just under a quarter of a core' },
    { o: { autoWorkerFromMs: m.runMs * 10, expectedFps: limitFps * 1.01 }, want: cores ? 'worker' : 'main', why: 'fast model, just over a quarter of a core' },
    { o: { autoWorkerFromMs: m.runMs / 10, expectedFps: 1 }, want: cores ? 'worker' : 'main', why: 'slow model, light load' },
    { o: { autoWorkerFromMs: m.runMs * 10 }, want: cores ? 'worker' : 'main', why: 'fast model, load unknown' },
    { o: { autoWorkerFromMs: m.runMs * 10, thread: 'worker' }, want: 'worker', why: 'worker asked for' },
  ] as const;
  for (const c of cases) {
    const d = await Detector.open(m, c.o);
    const close = release(`auto detector: ${c.why}`, () => d.close());
    assert.equal(d.inferenceThread, c.want, c.why);
    await close();
  }
  const all = await Detector.open(await loadModel(SHIPPED, { providers: ['cpu'], intraOpThreads: 0 }));
  release('all-cores detector', () => all.close());
  assert.equal(all.inferenceThread, 'main');
});

test('detection-level OOD: finite scores for every kept detection, burnt parts flagged far more often than nominal ones', async (t) => {
  const release = releaser(t);
  const m = await loadModel(SHIPPED, { providers: ['cpu'], intraOpThreads: 1 });
  const e = m.embedding!;
  // Stills: independent scenes (consecutive frames of the belt show the same few parts again and again).
  const render = (seed: number, n: number, conditions: object, still = false): RawFrame[] => {
    const cam = new LineCamera(320, 240, seed);
    const c = { ...DEFAULT_CONDITIONS, ...conditions };
    return Array.from({ length: n }, () => ({ data: Uint8Array.from((still ? cam.still(c) : cam.next(c)).data), width: 320, height: 240, channels: 3 }));
  };
  // The reference: the nominal line, fitted as driftline baseline does (embedding fetched, no reference yet).
  const collect = await Detector.open(m, { thread: 'main', embedding: true });
  assert.equal(collect.scoresDetections, false);
  assert.ok(Number.isNaN(collect.oodThreshold));
  const builder = new OodReferenceBuilder({ embeddingDim: e.dim, appearance: true }, m.names.length, e.anchors, m.inputW, m.inputH);
  await collect.run(render(HELD_OUT_SEED + 3, 160, {}, true), (slot) => {
    // Without a reference nothing is scored.
    for (let i = 0; i < slot.detections.count; i++) assert.ok(Number.isNaN(slot.oodScores[i]!));
    builder.add({ ...slot.detections, count: slot.detections.count, inputBoxes: slot.inputBoxes, embed: slot.embed, input: slot.input });
  });
  const { reference } = builder.finish();
  const flagged = async (d: Detector, frames: RawFrame[]): Promise<{ over: number; kept: number; scores: number[] }> => {
    let over = 0;
    let kept = 0;
    const scores: number[] = [];
    await d.run(frames, (slot) => {
      for (let i = 0; i < slot.detections.count; i++) {
        const v = slot.oodScores[i]!;
        assert.ok(Number.isFinite(v) && v >= 0, `score ${v}`);
        scores.push(v);
        kept++;
        if (v > d.oodThreshold) over++;
      }
    });
    return { over, kept, scores };
  };
  const main = await Detector.open(m, { thread: 'main', detectionOod: reference });
  assert.equal(main.scoresDetections, true);
  assert.equal(main.oodThreshold, reference.quantiles.p99);
  const burnt = render(HELD_OUT_SEED + 4, 50, { heldOutRate: 0.3 }, true);
  const nominal = render(HELD_OUT_SEED + 5, 50, {}, true);
  const b = await flagged(main, burnt);
  const n = await flagged(main, nominal);
  const rate = (r: { over: number; kept: number }): number => r.over / r.kept;
  assert.ok(b.kept > 50 && n.kept > 50, `${b.kept} and ${n.kept} detections`);
  assert.ok(rate(b) > 0.15 && rate(b) > 4 * rate(n), `burnt line: ${b.over}/${b.kept} over the threshold; nominal: ${n.over}/${n.kept}`);
  // In a worker thread the embedding comes back with the slot's buffers (transferred): the same scores.
  const worker = await Detector.open(m, { thread: 'worker', detectionOod: reference });
  const closeWorker = release('worker detector', () => worker.close());
  assert.deepEqual((await flagged(worker, burnt)).scores, b.scores);
  await closeWorker();
  // A model without an embedding ignores the reference: confidence mode, nothing scored.
  const other = await loadModel(new URL('../../../bench/models/yolov8n-random-640.onnx', import.meta.url).pathname, { providers: ['cpu'], warmup: 1 });
  const plain = new Detector(other, { detectionOod: reference });
  assert.equal(plain.oodMode, 'confidence');
  assert.equal(plain.scoresDetections, false);
});
