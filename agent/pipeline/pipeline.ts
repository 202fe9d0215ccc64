/**
 * The agent's per-frame loop. Each camera's source feeds a latest-frame-wins queue; one loop serves
 * the cameras round-robin through the shared detector (one ONNX Runtime session for all), computes
 * the input statistics while inference runs (in the worker thread, when there is one) and the
 * detection telemetry after it, and hands one row per frame to the batched SQLite writer.
 * stop() stops the sources, lets the frame in flight finish, and flushes the store.
 *
 * What it is asked about from outside (/metrics, /healthz) it keeps as plain numbers as it goes:
 * counts per camera, stage timings in fixed buckets (stage-timings.ts) and, per camera, since when a
 * frame has been waiting and when the last one finished (liveness.ts), read only when asked.
 */
import { systemClock, type Clock } from '../../lib/clock.js';
import type { CameraDrift, DriftResult } from '../drift/camera-drift.js';
import type { Detector, Slot } from '../infer/detector.js';
import { reviewReason, type ReviewReason, type ReviewSampler } from '../review/sampler.js';
import type { FrameSource } from '../source/source.js';
import type { FrameWriter } from '../store/frame-writer.js';
import { DETECTION_FEATURES, DetectionStats, type UncertaintyOptions } from '../telemetry/detection-stats.js';
import { FRAME_FEATURES, FrameStats } from '../telemetry/frame-stats.js';
import { WindowAggregator, type WindowSummary } from '../telemetry/window.js';
import { ClockSteps } from './clock-steps.js';
import { LatestFrame, type QueuedFrame } from './latest-frame.js';
import type { CameraProgress } from './liveness.js';
import { STAGES, StageTimings } from './stage-timings.js';

export interface PipelineCamera {
  /** Row id in the store's cameras table. */
  readonly id: number;
  readonly source: FrameSource;
}

export interface CameraCounters {
  readonly name: string;
  offered: number;
  processed: number;
  dropped: number;
  errors: number;
}

export interface WindowSink {
  write(cameraId: number, w: WindowSummary, dropped: number, errors: number, drift?: DriftResult): unknown;
}

const UNCERTAIN = DETECTION_FEATURES.indexOf('uncertain');
const OOD_DETECTIONS = DETECTION_FEATURES.indexOf('oodDetections');
const [PREPROCESS, INFERENCE, POSTPROCESS, TELEMETRY] = STAGES.map((_, i) => i) as [number, number, number, number];

export interface PipelineOptions {
  /** Length of a telemetry window in ms (default 60 s). */
  readonly windowMs?: number;
  /** Where closed windows go (the store); none: windows are not aggregated. */
  readonly windows?: WindowSink;
  /** Drift state per camera (same order as the cameras); none: windows are not scored. */
  readonly drift?: readonly CameraDrift[];
  /** Where hard frames go for human review. */
  readonly review?: ReviewSampler;
  /** What makes a detection uncertain. */
  readonly uncertainty?: UncertaintyOptions;
  /** Called after each window is written, with the camera's name and the window's frame losses. */
  readonly onWindow?: (camera: string, w: WindowSummary, drift: DriftResult | undefined, losses: { readonly cameraId: number; readonly dropped: number; readonly errors: number }) => void;
  /** A change of the wall clock against the monotonic one, between two frames, beyond which it is a step (default 2000 ms). */
  readonly clockStepMs?: number;
  /**
   * Called when a camera's frames show that the wall clock stepped by `stepMs` (positive: forward);
   * its window was cut just before the frame stamped `ts`.
   */
  readonly onClockStep?: (camera: string, stepMs: number, ts: number) => void;
  /**
   * Writing a window to the store failed: returns true when the write is worth one retry (space was
   * made). Either way the window still goes to onWindow: its summary matters more than the local copy.
   */
  readonly onStoreError?: (e: unknown) => boolean;
  /** The clock whose monotonic time stamps a camera's waiting frame and its last finished one (default the system's). */
  readonly clock?: Clock;
}

interface Runtime {
  readonly cam: PipelineCamera;
  readonly window: WindowAggregator;
  /** Dropped and error counts at the start of the current window. */
  droppedAtStart: number;
  errorsAtStart: number;
  readonly queue: LatestFrame;
  readonly frameStats: FrameStats;
  readonly detStats: DetectionStats;
  readonly drift: CameraDrift | undefined;
  readonly counters: CameraCounters;
  readonly clock: ClockSteps;
  /** Monotonic ms since a frame of this camera has been waiting or in flight; NaN while none is. */
  waitingSince: number;
  /** Monotonic ms when its last frame finished (written or failed); NaN before the first. */
  lastDone: number;
}

export class Pipeline {
  private readonly runtimes: Runtime[];
  private running = false;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private next = 0;
  private readonly slotStats: Map<Slot, Float64Array>;
  private readonly mono: Clock;
  /** Per-stage durations of the frames processed (stage-timings.ts). */
  readonly timings = new StageTimings();
  /** Called after each frame is written (or failed), with the camera's index in the config. */
  onFrameDone: ((camera: number) => void) | undefined;

  constructor(
    private readonly detector: Detector,
    private readonly writer: FrameWriter,
    cameras: readonly PipelineCamera[],
    private readonly o: PipelineOptions = {},
  ) {
    this.slotStats = new Map(detector.slots.map((sl) => [sl, new Float64Array(FRAME_FEATURES.length)]));
    this.mono = o.clock ?? systemClock;
    this.runtimes = cameras.map((cam, i) => ({
      cam,
      queue: new LatestFrame(cam.source.width, cam.source.height),
      frameStats: new FrameStats(),
      detStats: new DetectionStats(detector.model.names.length, o.uncertainty),
      drift: o.drift?.[i],
      counters: { name: cam.source.name, offered: 0, processed: 0, dropped: 0, errors: 0 },
      window: new WindowAggregator(detector.model.names, o.windowMs ?? 60_000),
      droppedAtStart: 0,
      errorsAtStart: 0,
      clock: new ClockSteps(o.clockStepMs ?? 2000),
      waitingSince: Number.NaN,
      lastDone: Number.NaN,
    }));
  }

  /** Per-camera counts: offered = processed + dropped (+ at most one frame in flight). */
  get counters(): readonly CameraCounters[] {
    for (const r of this.runtimes) {
      r.counters.offered = r.queue.offered;
      r.counters.dropped = r.queue.dropped;
    }
    return this.runtimes.map((r) => r.counters);
  }

  /** Per camera, what the liveness check reads (liveness.ts pipelineWedged). */
  get progress(): CameraProgress[] {
    return this.runtimes.map((r) => ({ camera: r.cam.source.name, streaming: r.cam.source.state === 'streaming', waitingSince: r.waitingSince, lastDone: r.lastDone }));
  }

  /** A frame of `r` finished (or failed): nothing waits now, unless a newer frame arrived meanwhile. */
  private done(r: Runtime): void {
    const now = this.mono.monotonic();
    r.lastDone = now;
    r.waitingSince = r.queue.hasFrame ? now : Number.NaN;
  }

  start(): void {
    this.running = true;
    for (const r of this.runtimes) {
      const src = r.cam.source;
      src.start((f) => {
        if (Number.isNaN(r.waitingSince)) r.waitingSince = this.mono.monotonic();
        r.queue.offer(f);
        if (src.paced) src.pause(); // until the loop takes this frame: a recorded file loses none
        this.wake?.();
      });
    }
    this.loopDone = this.loop();
  }

  private pick(): Runtime | undefined {
    const n = this.runtimes.length;
    for (let k = 0; k < n; k++) {
      const r = this.runtimes[(this.next + k) % n]!;
      if (r.queue.hasFrame) {
        this.next = (this.next + k + 1) % n;
        return r;
      }
    }
    return undefined;
  }

  /**
   * Two frames in flight: while frame i infers (in the worker thread, when there is one), frame i+1
   * is letterboxed into the other slot, and frame i-1's detections are decoded and written. A
   * frame's pixels are released to its camera's queue as soon as they have been letterboxed and
   * summarised, so a camera may deliver again while its frame is still being inferred.
   */
  private async loop(): Promise<void> {
    const det = this.detector;
    let inflight: { r: Runtime; slot: Slot; ts: number; mono: number; index: number; fs: Float64Array; fsMs: number; inference: Promise<void> } | undefined;
    while (this.running || inflight) {
      const r = this.running ? this.pick() : undefined;
      let next: { r: Runtime; slot: Slot; frame: QueuedFrame } | undefined;
      if (r) {
        const frame = r.queue.take()!;
        if (r.cam.source.paced) r.cam.source.resume();
        const slot = det.nextSlot();
        try {
          await det.preprocess(frame, slot);
          next = { r, slot, frame };
        } catch {
          r.counters.errors++;
          r.queue.release();
          this.done(r);
        }
      }
      // Wait for the frame in inference, start the next one at once, then decode the finished one
      // while the next runs.
      const finished = inflight;
      let failed = false;
      inflight = undefined;
      if (finished) {
        try {
          await finished.inference;
        } catch {
          failed = true;
        }
      }
      if (next) {
        const { r: nr, slot, frame } = next;
        const inference = det.infer(slot);
        inference.catch(() => undefined); // observed when awaited above; never unhandled
        // Input statistics while the model runs; then the pixels go back to the camera's queue.
        // Copied per slot: the same camera's next frame may be summarised before this one is written.
        const fs = this.slotStats.get(slot)!;
        const t0 = performance.now();
        fs.set(nr.frameStats.compute(frame.data, frame.width, frame.height));
        inflight = { r: nr, slot, ts: frame.ts, mono: frame.mono, index: frame.index, fs, fsMs: performance.now() - t0, inference };
        nr.queue.release();
      }
      if (finished) {
        const f = finished;
        try {
          if (failed) throw new Error('inference failed');
          det.postprocess(f.slot);
          const t0 = performance.now();
          const ds = f.r.detStats.compute(f.slot.candidates, f.slot.detections, f.slot.letterbox!.srcW, f.slot.letterbox!.srcH, f.slot.letterbox, f.slot.oodScores, det.oodThreshold);
          const t = f.slot.times;
          this.writer.add(f.r.cam.id, f.ts, f.index, f.fs, ds, t.preprocessMs, t.inferenceMs, t.postprocessMs);
          f.r.counters.processed++;
          const step = f.r.clock.check(f.ts, f.mono);
          if (step !== 0) {
            if (this.o.windows && f.r.window.count > 0) this.closeWindow(f.r);
            this.o.onClockStep?.(f.r.cam.source.name, step, f.ts);
          }
          if (this.o.windows) {
            if (f.r.window.due(f.ts)) this.closeWindow(f.r);
            f.r.window.add(f.ts, f.fs, ds, f.r.detStats.classCounts, f.r.detStats.confHist, [t.preprocessMs, t.inferenceMs, t.postprocessMs]);
          }
          const ood = f.r.drift ? f.r.drift.add(f.fs, ds, f.r.detStats.classCounts, f.r.detStats.confHist) : false;
          const reason = reviewReason(ds[UNCERTAIN]! > 0, ood, ds[OOD_DETECTIONS]! > 0);
          if (reason && this.o.review?.take(f.r.cam.id)) this.review(f.r, f.slot, f.ts, f.index, f.fs, ds, reason);
          const tm = this.timings;
          tm.observe(PREPROCESS, t.preprocessMs);
          tm.observe(INFERENCE, t.inferenceMs);
          tm.observe(POSTPROCESS, t.postprocessMs);
          tm.observe(TELEMETRY, f.fsMs + performance.now() - t0);
        } catch {
          f.r.counters.errors++;
        }
        this.done(f.r);
        this.onFrameDone?.(this.runtimes.indexOf(f.r));
      }
      if (inflight) continue;
      if (!inflight && this.running) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          if (this.runtimes.some((x) => x.queue.hasFrame) || !this.running) resolve();
        });
        this.wake = undefined;
      }
    }
  }

  /** Hands a hard frame to the review sampler: the model's input, detections in its pixels. */
  private review(r: Runtime, slot: Slot, ts: number, index: number, fs: Float64Array, ds: Float64Array, reason: ReviewReason): void {
    const lb = slot.letterbox!;
    const k = lb.newW / lb.srcW;
    const stats: Record<string, number> = {};
    FRAME_FEATURES.forEach((name, i) => (stats[name] = fs[i]!));
    DETECTION_FEATURES.forEach((name, i) => (stats[name] = ds[i]!));
    const detections = this.detector.toObjects(slot).map((d, i) => ({
      class: d.class,
      score: d.score,
      box: [d.box[0] * k + lb.left, d.box[1] * k + lb.top, d.box[2] * k + lb.left, d.box[3] * k + lb.top] as [number, number, number, number],
      // Its OOD score and whether it is over the threshold, where detections are scored.
      ...(Number.isNaN(slot.oodScores[i]!) ? {} : { oodScore: +slot.oodScores[i]!.toFixed(2), oodDetection: slot.oodScores[i]! > this.detector.oodThreshold }),
    }));
    this.o.review!.save({ cameraId: r.cam.id, cameraName: r.cam.source.name, ts, frame: index, reason, input: slot.input, width: lb.dstW, height: lb.dstH, detections, stats });
  }

  private closeWindow(r: Runtime): void {
    const dropped = r.queue.dropped - r.droppedAtStart;
    const errors = r.counters.errors - r.errorsAtStart;
    const summary = r.window.summary();
    const drift = r.drift?.close();
    try {
      this.o.windows?.write(r.cam.id, summary, dropped, errors, drift);
    } catch (e) {
      if (this.o.onStoreError?.(e)) {
        try {
          this.o.windows?.write(r.cam.id, summary, dropped, errors, drift);
        } catch {
          // Kept only upstream: onWindow below still queues its summary.
        }
      }
    }
    this.o.onWindow?.(r.cam.source.name, summary, drift, { cameraId: r.cam.id, dropped, errors });
    r.droppedAtStart = r.queue.dropped;
    r.errorsAtStart = r.counters.errors;
    r.window.reset(0);
  }

  /**
   * Stops the sources, finishes the frame in flight, writes each camera's partial window, and
   * flushes every row to the store.
   */
  async stop(): Promise<void> {
    await Promise.all(this.runtimes.map((r) => r.cam.source.stop()));
    this.running = false;
    this.wake?.();
    await this.loopDone;
    if (this.o.windows) for (const r of this.runtimes) if (r.window.count > 0) this.closeWindow(r);
    this.writer.flush();
    await this.o.review?.flush();
  }
}
