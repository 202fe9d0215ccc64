/**
 * The detector: letterbox -> ONNX Runtime -> decode -> NMS -> source-frame boxes. All buffers are
 * allocated at construction. Work happens in slots (input tensor, output tensor, candidate and
 * detection sets); two slots let the preprocessing of one frame overlap the inference of another.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { driftlineError } from '../../lib/errors.js';
import { BoxSet } from '../decode/boxes.js';
import { DEFAULT_AGNOSTIC_IOU, Nms, type NmsOptions } from '../decode/nms.js';
import { Letterboxer, unletterboxBoxes, type Letterbox, type RawFrame, type ResizeMode } from '../preprocess/letterbox.js';
import { DetectionOodScorer, type DetectionOodReference } from '../ood/detection-ood.js';
import { InferenceRunError, InferenceThread, type LentBuffers } from './inference-thread.js';
import { overlap, type OverlapJob } from './overlap.js';
import type { LoadedModel } from './model.js';

export interface DetectorOptions {
  /** Operating confidence threshold (default 0.25). */
  readonly conf?: number;
  /** NMS IoU threshold (default 0.45). */
  readonly iou?: number;
  readonly maxDet?: number;
  /** Per-class thresholds by class name; others use `conf`. */
  readonly classConf?: Readonly<Record<string, number>>;
  /**
   * Suppress across classes too (default false): of two kept boxes of different classes that overlap
   * with IoU above `agnosticIou`, one part reported twice, only the one of higher `classPriority`
   * survives (on equal priority, the higher score). Same-class suppression keeps using `iou`.
   */
  readonly agnostic?: boolean;
  /** IoU above which two boxes of different classes are one part (default 0.7; agnostic only). */
  readonly agnosticIou?: number;
  /** Class names, highest priority first; classes not listed come after, all equal (agnostic only). */
  readonly classPriority?: readonly string[];
  /**
   * Candidates scoring at least this are kept in `Slot.candidates` before thresholding, for
   * confidence histograms. Defaults to the lowest threshold in use.
   */
  readonly candidateFloor?: number;
  /** Number of slots (frames in flight); 2 lets preprocessing overlap inference. */
  readonly slots?: number;
  /** How frames are resized into the model input (default `auto`: bilinear, as Ultralytics does, up to 3x the input; antialiased beyond). */
  readonly resize?: ResizeMode;
  /**
   * Where ONNX Runtime runs. `main` (the constructor's only choice): on the JavaScript thread, which
   * it blocks for the whole inference. `worker`: in a worker thread, so letterboxing, decoding,
   * reading the cameras and everything else in the process carry on meanwhile. `auto`
   * (Detector.open's default): the main thread when ONNX Runtime's intra-op threads leave no core
   * free (a worker would only add contention), or when the model is fast (its fastest warm-up run
   * under `autoWorkerFromMs`) and the frames expected (`expectedFps`) keep inference under
   * AUTO_MAIN_MAX_LOAD of a core: then the hand-off to a worker (messages, wake-ups) costs more CPU
   * than the overlap saves, and the main thread is blocked only briefly and seldom. Otherwise a
   * worker. Measured in docs/performance.md.
   */
  readonly thread?: 'main' | 'worker' | 'auto';
  /** `auto` runs on the main thread only a model faster than this, ms per inference (default AUTO_WORKER_FROM_MS). */
  readonly autoWorkerFromMs?: number;
  /**
   * Frames a second the detector is expected to see, every camera together; `auto` reads it.
   * Unknown (a batch run as fast as it goes): `auto` keeps a worker when a core is free.
   */
  readonly expectedFps?: number;
  /**
   * Detection-level OOD scoring (agent/ood/detection-ood.ts): with a fitted reference (a profile's
   * `detectionOod`) and a model with an embedding output, every kept detection is scored into
   * `Slot.oodScores`; `Detector.oodThreshold` (the reference's p99) says which are out of
   * distribution. Ignored for models without an embedding.
   */
  readonly detectionOod?: DetectionOodReference;
  /**
   * Fetch the model's embedding output into `Slot.embed` (and keep the kept boxes in input pixels
   * in `Slot.inputBoxes`) even without a reference, to build feature vectors (`driftline baseline`).
   * Implied by `detectionOod`.
   */
  readonly embedding?: boolean;
}

/**
 * Per-class-index priorities from class names listed highest first: the first of k names gets k,
 * the last 1, classes not listed 0.
 */
export function classPriorities(names: readonly string[], order: readonly string[]): Float32Array {
  const p = new Float32Array(names.length);
  order.forEach((name, k) => {
    const idx = names.indexOf(name);
    if (idx < 0) throw new Error(`classPriority names unknown class ${JSON.stringify(name)}; the model has ${names.join(', ')}`);
    if (order.indexOf(name) !== k) throw new Error(`classPriority lists class ${JSON.stringify(name)} twice`);
    p[idx] = order.length - k;
  });
  return p;
}

/**
 * `auto` may run a model faster than this (ms per inference, warm) on the main thread. With the
 * shipped model (about 2 ms) and 4 cameras at 10 fps, the worker's hand-off cost 0.7-0.8 ms of CPU a
 * frame (docs/performance.md); a 5 ms stall of the event loop is too short to matter to MQTT
 * keep-alives, HTTP health checks or the watchdogs.
 */
export const AUTO_WORKER_FROM_MS = 5;
/**
 * ...and only while the expected frames keep inference under this share of one core. The main
 * thread reads the cameras only between inferences: a frame loop near saturation would then slow
 * the cameras' readers (ffmpeg blocks on a full pipe) instead of dropping and counting frames.
 */
export const AUTO_MAIN_MAX_LOAD = 0.25;

export interface StageTimes {
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
}

/**
 * One frame's working set. Its contents are valid until the slot is used again; its `input`, when
 * it stays in a letterbox kernel's tensor (Detector.readInputInPlace), only until that kernel's next
 * frame, which for a kernel in a camera's memory is the camera's next frame, in whichever slot.
 */
export class Slot {
  readonly letterboxer: Letterboxer;
  /** Tensors for main-thread inference; undefined when a worker thread runs the model. */
  readonly inputTensor: ort.Tensor | undefined;
  readonly outputTensor: ort.Tensor | undefined;
  readonly candidates: BoxSet;
  /** Final detections in source-frame pixels, each with its anchor (`detections.anchors`). */
  readonly detections: BoxSet;
  /**
   * The model's embedding output of this frame ([1, D, anchors]) when the detector fetches it
   * (detection-level OOD scoring, or the `embedding` option); empty otherwise.
   */
  embed: Float32Array = new Float32Array(0);
  /** The kept boxes in model-input pixels (x1, y1, x2, y2), before un-letterboxing; only when the embedding is fetched. */
  readonly inputBoxes: Float32Array;
  /** OOD score of each kept detection (squared Mahalanobis distance, agent/ood); NaN when not scored. */
  readonly oodScores: Float64Array;
  private readonly embedTensor: ort.Tensor | undefined;
  /**
   * Tensors over the letterbox kernels' own memory (Detector.readInputInPlace), by buffer; weakly
   * held, so a kernel the letterboxer lets go of (a frame size dropped from its layouts) takes its
   * memory with it.
   */
  private readonly inPlaceTensors = new WeakMap<Float32Array, ort.Tensor>();
  letterbox: Letterbox | undefined;
  readonly times: StageTimes = { preprocessMs: 0, inferenceMs: 0, postprocessMs: 0 };
  output: Float32Array = new Float32Array(0);
  private _input: Float32Array;
  /**
   * Worker runs only: the output buffer. Each run lends the worker the input, output and embedding
   * buffers (transferred, not copied: lend() and giveBack()).
   */
  private out: Float32Array | undefined;

  constructor(
    m: LoadedModel,
    maxDet: number,
    resize: ResizeMode,
    worker: boolean,
    /** Position among the detector's slots. */
    readonly index: number,
    /** Whether the embedding output is fetched (the model has one and it is wanted). */
    embedding = false,
  ) {
    const inSize = 3 * m.inputW * m.inputH;
    const outSize = m.outputDims.reduce((a, b) => a * b, 1);
    const e = embedding ? m.embedding : undefined;
    const embedSize = e ? e.dim * e.anchors : 0;
    this._input = new Float32Array(inSize);
    if (worker) {
      this.out = new Float32Array(outSize);
      if (e) this.embed = new Float32Array(embedSize);
      this.inputTensor = undefined;
      this.outputTensor = undefined;
      this.embedTensor = undefined;
    } else {
      this.inputTensor = new ort.Tensor('float32', this._input, [1, 3, m.inputH, m.inputW]);
      this.outputTensor = m.staticOutput ? new ort.Tensor('float32', new Float32Array(outSize), m.outputDims as number[]) : undefined;
      this.embedTensor = e && m.staticOutput ? new ort.Tensor('float32', new Float32Array(embedSize), [1, e.dim, e.anchors]) : undefined;
      if (this.embedTensor) this.embed = this.embedTensor.data as Float32Array;
    }
    this.letterboxer = new Letterboxer(this._input, m.inputW, m.inputH, resize);
    this.candidates = new BoxSet(m.staticOutput ? Math.max(m.decoder.anchors, 1) : Math.max(m.decoder.anchors, 4096));
    this.detections = new BoxSet(maxDet);
    this.inputBoxes = new Float32Array(e ? maxDet * 4 : 0);
    this.oodScores = new Float64Array(maxDet).fill(Number.NaN);
  }

  /**
   * The model input (CHW float32, letterboxed): what the model read, for OOD scoring and review
   * frames. The slot's own buffer, or with Detector.readInputInPlace the letterbox kernel's tensor
   * the frame stayed in.
   */
  get input(): Float32Array {
    return this.letterboxer.input;
  }

  /**
   * The tensor over `input` for a main-thread run, made once per buffer: the slot's own, or a
   * kernel's (one per camera, and one per frame size the slot's letterboxer keeps a kernel for).
   */
  feedTensor(m: LoadedModel): ort.Tensor {
    const input = this.letterboxer.input;
    if (input === this._input) return this.inputTensor!;
    let t = this.inPlaceTensors.get(input);
    if (!t) {
      t = new ort.Tensor('float32', input, [1, 3, m.inputH, m.inputW]);
      this.inPlaceTensors.set(input, t);
    }
    return t;
  }

  /** The buffers a worker run fills; unusable here until giveBack(). */
  lend(): LentBuffers {
    const input = this._input.buffer as ArrayBuffer;
    const output = this.out!.buffer as ArrayBuffer;
    return this.embed.length ? { input, output, embed: this.embed.buffer as ArrayBuffer } : { input, output };
  }

  /**
   * Takes back what lend() gave (the run's outputs in them), or, when the worker died with them
   * (`undefined`), fresh buffers of the same sizes.
   */
  giveBack(b: LentBuffers | undefined, sizes: { input: number; output: number; embed: number }): void {
    this._input = b ? new Float32Array(b.input) : new Float32Array(sizes.input);
    this.letterboxer.retarget(this._input, b !== undefined);
    this.out = b ? new Float32Array(b.output) : new Float32Array(sizes.output);
    this.output = this.out;
    if (sizes.embed) this.embed = b?.embed ? new Float32Array(b.embed) : new Float32Array(sizes.embed);
  }

  /** Fetches for a main-thread run: the preallocated output tensors, or the output names. */
  fetches(m: LoadedModel): Record<string, ort.Tensor> | string[] {
    const embedding = this.inputBoxes.length > 0 ? m.embedding?.output : undefined;
    if (!this.outputTensor) return embedding ? [m.outputName, embedding] : [m.outputName];
    return embedding && this.embedTensor ? { [m.outputName]: this.outputTensor, [embedding]: this.embedTensor } : { [m.outputName]: this.outputTensor };
  }
}

export class Detector {
  readonly slots: readonly Slot[];
  readonly nmsOptions: NmsOptions;
  readonly candidateFloor: number;
  /**
   * A kept detection is out of distribution when its OOD score exceeds this: the detection-level
   * reference's 99th percentile of its own samples' scores (`quantiles.p99`). NaN when detections
   * are not scored (no reference, or a model without an embedding): no score exceeds it.
   */
  readonly oodThreshold: number;
  /** Which OOD scoring applies: `embedding` (each detection scored) or `confidence` (frame-level scores only). */
  readonly oodMode: 'embedding' | 'confidence';
  private readonly scorer: DetectionOodScorer | undefined;
  /** Whether the embedding output is fetched into the slots. */
  private readonly fetchEmbedding: boolean;
  private readonly nms: Nms;
  /** The current frame's image area in model-input pixels, for agnostic NMS (set per frame). */
  private readonly clip = new Float32Array([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
  private readonly feeds: Record<string, ort.Tensor>[];
  private readonly fetches: (Record<string, ort.Tensor> | string[])[];
  private thread: InferenceThread | undefined;
  private next = 0;
  /** When the last run ended (performance.now()). */
  private lastRunEnd = 0;
  /** Float counts of a slot's input, output and embedding (0: not fetched). */
  private readonly sizes: { input: number; output: number; embed: number };

  /**
   * A detector whose inference runs where `thread` says (default `auto`). Models whose output shape
   * varies always run on the main thread. Call close() when done.
   */
  static async open(model: LoadedModel, o: DetectorOptions = {}): Promise<Detector> {
    const want = o.thread ?? 'auto';
    const intra = model.tuning.intraOpThreads;
    const spareCore = intra > 0 && intra < availableParallelism();
    const light = model.runMs < (o.autoWorkerFromMs ?? AUTO_WORKER_FROM_MS) && o.expectedFps !== undefined && (model.runMs * o.expectedFps) / 1000 <= AUTO_MAIN_MAX_LOAD;
    const worker = model.staticOutput && (want === 'worker' || (want === 'auto' && spareCore && !light));
    const d = new Detector(model, o, worker);
    if (worker) d.thread = await InferenceThread.start(model, model.modelBytes, d.fetchEmbedding, model.tuning);
    return d;
  }

  /** Where inference runs. */
  get inferenceThread(): 'main' | 'worker' {
    return this.thread ? 'worker' : 'main';
  }

  constructor(
    readonly model: LoadedModel,
    o: DetectorOptions = {},
    /** Inference runs in a worker thread (Detector.open decides). */
    worker = false,
  ) {
    const conf = o.conf ?? 0.25;
    const classConf = new Float32Array(model.names.length).fill(Number.NaN);
    for (const [name, v] of Object.entries(o.classConf ?? {})) {
      const idx = model.names.indexOf(name);
      if (idx < 0) throw new Error(`classConf names unknown class ${JSON.stringify(name)}; the model has ${model.names.join(', ')}`);
      classConf[idx] = v;
    }
    const lowest = Math.min(conf, ...Object.values(o.classConf ?? {}));
    this.candidateFloor = Math.min(o.candidateFloor ?? lowest, lowest);
    const agnosticIou = o.agnosticIou ?? DEFAULT_AGNOSTIC_IOU;
    const classPriority = classPriorities(model.names, o.classPriority ?? []); // validated even when unused
    if (!(agnosticIou >= 0 && agnosticIou <= 1)) throw new Error(`agnosticIou must be in [0, 1], got ${agnosticIou}`);
    this.nmsOptions = {
      conf,
      iou: o.iou ?? 0.45,
      maxDet: o.maxDet ?? 300,
      classConf,
      ...(o.agnostic ? { agnostic: true, agnosticIou, classPriority, clip: this.clip } : {}),
    };
    const maxDet = this.nmsOptions.maxDet;
    const e = model.embedding;
    const ref = e ? o.detectionOod : undefined;
    if (e && ref) {
      const reason =
        ref.features.embeddingDim > e.dim
          ? `the detection OOD reference reads ${ref.features.embeddingDim} embedding features, the model has ${e.dim}`
          : ref.classes !== model.names.length
            ? `the detection OOD reference has ${ref.classes} classes, the model ${model.names.length}`
            : undefined;
      if (reason) throw driftlineError('DRIFTLINE_ERR_MODEL_EMBEDDING', { file: model.file, output: e.output, reason: `${reason}: rebuild the profile with driftline baseline` });
    }
    this.scorer = e && ref ? new DetectionOodScorer(ref).bind(e.anchors, model.inputW, model.inputH) : undefined;
    this.oodThreshold = this.scorer && ref ? ref.quantiles.p99 : Number.NaN;
    this.oodMode = e ? 'embedding' : 'confidence';
    this.fetchEmbedding = e !== undefined && (this.scorer !== undefined || o.embedding === true);
    this.slots = Array.from({ length: Math.max(1, o.slots ?? 2) }, (_, i) => new Slot(model, maxDet, o.resize ?? 'auto', worker, i, this.fetchEmbedding));
    this.sizes = { input: 3 * model.inputW * model.inputH, output: model.outputDims.reduce((a, b) => a * b, 1), embed: this.fetchEmbedding && e ? e.dim * e.anchors : 0 };
    this.nms = new Nms(this.slots[0]!.candidates.capacity);
    this.feeds = this.slots.map((s) => (s.inputTensor ? { [model.inputName]: s.inputTensor } : {}));
    this.fetches = this.slots.map((s) => s.fetches(model));
  }

  /** Why inference cannot run any more (the worker thread died), or undefined while it can. */
  get inferenceFailure(): string | undefined {
    return this.thread?.failure?.message;
  }

  /** Whether kept detections get an OOD score (a reference was given and the model has an embedding). */
  get scoresDetections(): boolean {
    return this.scorer !== undefined;
  }

  /**
   * Lets each frame's letterbox stay in the WebAssembly kernel's tensor that resampled it, and the
   * model read it there (Letterboxer.readInPlace), instead of copying it into the slot's own: only
   * with the model on this thread. For the agent's bursts, where a camera's frame is decoded before
   * its next one is letterboxed (burst.ts). Returns whether it is on.
   */
  readInputInPlace(on: boolean): boolean {
    const ok = on && !this.thread && this.slots.every((s) => s.inputTensor !== undefined);
    for (const s of this.slots) s.letterboxer.readInPlace(ok);
    return ok;
  }

  /** Round-robin slot for the next frame. */
  nextSlot(): Slot {
    const s = this.slots[this.next]!;
    this.next = (this.next + 1) % this.slots.length;
    return s;
  }

  async preprocess(frame: RawFrame, slot: Slot): Promise<void> {
    const t = performance.now();
    slot.letterbox = await slot.letterboxer.run(frame);
    slot.times.preprocessMs = performance.now() - t;
  }

  /**
   * Runs the model on `slot`'s input. Runs started together (a burst, burst.ts) run one after
   * another, so each one's time counts from when the one before it ended.
   */
  async infer(slot: Slot): Promise<void> {
    const start = performance.now();
    const idx = slot.index;
    try {
      if (this.thread) {
        let back: LentBuffers | undefined;
        try {
          back = (await this.thread.run(slot.lend())).buffers;
        } catch (e) {
          slot.giveBack(e instanceof InferenceRunError ? e.buffers : undefined, this.sizes);
          throw e;
        }
        slot.giveBack(back, this.sizes);
      } else {
        const feeds = this.feeds[idx]!;
        feeds[this.model.inputName] = slot.feedTensor(this.model);
        const result = await this.model.session.run(feeds, this.fetches[idx]!);
        slot.output = slot.outputTensor ? (slot.outputTensor.data as Float32Array) : (result[this.model.outputName]!.data as Float32Array);
        // A model whose outputs vary in shape returns a fresh embedding tensor per run.
        if (this.fetchEmbedding && !slot.outputTensor) slot.embed = result[this.model.embedding!.output]!.data as Float32Array;
      }
    } finally {
      // A failed run took its time too.
      const end = performance.now();
      slot.times.inferenceMs = end - Math.max(start, this.lastRunEnd);
      this.lastRunEnd = end;
    }
  }

  /**
   * Decode, threshold, NMS, score each kept detection's OOD (while its box is still in the model
   * input's pixels, on the input the model read) and map back to source pixels. Synchronous and
   * allocation-free.
   */
  postprocess(slot: Slot): void {
    const t = performance.now();
    slot.candidates.clear();
    this.model.decoder.decode(slot.output, this.candidateFloor, slot.candidates);
    const d = slot.detections;
    const lb = slot.letterbox;
    if (lb) {
      // Cross-class overlap is judged on the boxes as reported: clipped to the frame.
      this.clip[0] = lb.left;
      this.clip[1] = lb.top;
      this.clip[2] = lb.left + lb.newW;
      this.clip[3] = lb.top + lb.newH;
    }
    this.nms.run(slot.candidates, this.nmsOptions, d, this.model.decoder.nmsInside);
    const n = d.count;
    if (this.fetchEmbedding) {
      const from = d.boxes;
      const to = slot.inputBoxes;
      for (let i = 0; i < n * 4; i++) to[i] = from[i]!;
    }
    const scorer = this.scorer;
    if (scorer) {
      for (let i = 0; i < n; i++) {
        const a = d.anchors[i]!;
        slot.oodScores[i] = a < 0 ? Number.NaN : scorer.score(d.classes[i]!, slot.embed, a, slot.input, slot.inputBoxes, i * 4);
      }
    } else {
      slot.oodScores.fill(Number.NaN, 0, n);
    }
    if (slot.letterbox) unletterboxBoxes(slot.letterbox, d.boxes, n);
    slot.times.postprocessMs = performance.now() - t;
  }

  /** One frame end to end. The returned slot is reused by later calls: read it before the next. */
  async detect(frame: RawFrame): Promise<Slot> {
    const slot = this.nextSlot();
    await this.preprocess(frame, slot);
    await this.infer(slot);
    this.postprocess(slot);
    return slot;
  }

  /**
   * Runs frames through the detector as a pipeline (overlap.ts): while frame i is in inference,
   * frame i+1 is letterboxed, and frame i-1 is decoded once frame i's inference has been started.
   * `onResult` is called in frame order, synchronously, with a slot that stays valid only until it
   * returns. `onStarted` sees each frame once its inference has started, before the next frame is
   * asked for (its pixels are still the frame's), with the slot whose result will follow. The first
   * error of any frame ends the run and rejects it. Needs at least 2 slots.
   */
  async run(frames: AsyncIterable<RawFrame> | Iterable<RawFrame>, onResult: (slot: Slot, index: number) => void, onStarted?: (frame: RawFrame, slot: Slot) => void): Promise<number> {
    if (this.slots.length < 2) throw new Error('Detector.run needs at least 2 slots');
    /** Per slot, the index of the frame in it. */
    const indices = new Int32Array(this.slots.length);
    let count = 0;
    // Ended: the source is done, or its own next() threw (then it is not asked to close either).
    let ended = false;
    const take = (n: IteratorResult<RawFrame>): RawFrame | undefined => {
      ended = n.done === true;
      return ended ? undefined : n.value;
    };
    const broke = (e: unknown): never => {
      ended = true;
      throw e;
    };
    // A synchronous source's frame is handed over as it is, with no promise per frame.
    const it: { next(): IteratorResult<RawFrame> | Promise<IteratorResult<RawFrame>>; return?(): unknown } = Symbol.asyncIterator in frames ? frames[Symbol.asyncIterator]() : frames[Symbol.iterator]();
    const job: OverlapJob<RawFrame, Slot> = {
      next: () => {
        if (ended) return undefined;
        let n: IteratorResult<RawFrame> | Promise<IteratorResult<RawFrame>>;
        try {
          n = it.next();
        } catch (e) {
          return broke(e);
        }
        return n instanceof Promise ? n.then(take, broke) : take(n);
      },
      started: (frame, slot) => {
        indices[slot.index] = count++;
        onStarted?.(frame, slot);
      },
      finished: (slot) => onResult(slot, indices[slot.index]!),
      failed: (_stage, error) => {
        throw error;
      },
    };
    try {
      await overlap(this, job);
    } catch (e) {
      if (!ended) await it.return?.(); // as a for-await loop would: the source closes
      throw e;
    }
    return count;
  }

  /** Stops the inference worker, if any. */
  async close(): Promise<void> {
    await this.thread?.close();
    this.thread = undefined;
  }

  /** Plain objects for the slot's detections (allocates; for output, not the per-frame path). */
  toObjects(slot: Slot): { class: string; classId: number; score: number; box: [number, number, number, number] }[] {
    const d = slot.detections;
    const out = [];
    for (let i = 0; i < d.count; i++) {
      const b = i * 4;
      const c = d.classes[i]!;
      out.push({
        class: this.model.names[c] ?? `class${c}`,
        classId: c,
        score: +d.scores[i]!.toFixed(4),
        box: [+d.boxes[b]!.toFixed(1), +d.boxes[b + 1]!.toFixed(1), +d.boxes[b + 2]!.toFixed(1), +d.boxes[b + 3]!.toFixed(1)] as [number, number, number, number],
      });
    }
    return out;
  }
}
