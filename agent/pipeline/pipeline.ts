/**
 * The agent's per-frame loop. Each camera's source feeds a latest-frame-wins queue; one loop (the
 * detector's overlap scheduler, agent/infer/overlap.ts) serves the cameras round-robin through the
 * shared detector (one ONNX Runtime session for all), computes the input statistics while inference
 * runs (in the worker thread, when there is one) and the detection telemetry after it, and hands the
 * frame's one record (telemetry/frame-record.ts) to the batched SQLite writer, the window, the drift
 * state and the review sampler. A frame that fails is counted, and its stage and reason go to
 * onFrameError. stop() stops the sources, lets the frame in flight finish, and flushes the store.
 *
 * With several live cameras it gathers (gatherMs): a burst takes each camera's frame as it arrives
 * (letterboxed and summarised then, so the camera's next frame waits instead of replacing it), and
 * starts once every streaming camera has a frame in it, or once its oldest frame has waited
 * gatherMs; then it runs them all through the model back to back (agent/infer/burst.ts), which costs
 * less CPU per frame than runs spread out with the thread asleep between them.
 *
 * What it is asked about from outside (/metrics, /healthz) it keeps as plain numbers as it goes:
 * counts per camera, stage timings in fixed buckets (stage-timings.ts) and, per camera, since when a
 * frame has been waiting and when the last one finished (liveness.ts), read only when asked.
 */
import { systemClock, type Clock } from '../../lib/clock.js';
import type { CameraDrift } from '../drift/camera-drift.js';
import type { Detector, Slot } from '../infer/detector.js';
import { burst } from '../infer/burst.js';
import { overlap, type OverlapStage } from '../infer/overlap.js';
import { reviewFrame } from '../review/review-frame.js';
import { reviewReason } from '../review/sampler.js';
import type { FrameWriter } from '../store/frame-writer.js';
import { DETECTION_FEATURES, DetectionStats } from '../telemetry/detection-stats.js';
import { recordOver, setStageMs, type FrameRecord } from '../telemetry/frame-record.js';
import { FRAME_FEATURES, FrameStats } from '../telemetry/frame-stats.js';
import { WindowAggregator } from '../telemetry/window.js';
import { cameraMemory } from './camera-memory.js';
import { ClockSteps } from './clock-steps.js';
import { LatestFrame, type QueuedFrame } from './latest-frame.js';
import type { CameraProgress } from './liveness.js';
import type { CameraCounters, FrameStage, PipelineCamera, PipelineOptions } from './pipeline-options.js';
import { STAGES, StageTimings } from './stage-timings.js';

const UNCERTAIN = DETECTION_FEATURES.indexOf('uncertain');
const OOD_DETECTIONS = DETECTION_FEATURES.indexOf('oodDetections');
const [PREPROCESS, INFERENCE, POSTPROCESS, TELEMETRY] = STAGES.map((_, i) => i) as [number, number, number, number];

interface Runtime {
  readonly cam: PipelineCamera;
  /** Its index among the cameras. */
  readonly index: number;
  readonly window: WindowAggregator;
  /** Dropped and error counts at the start of the current window. */
  droppedAtStart: number;
  errorsAtStart: number;
  readonly queue: LatestFrame;
  readonly frameStats: FrameStats;
  readonly drift: CameraDrift | undefined;
  readonly counters: CameraCounters;
  readonly clock: ClockSteps;
  /** Monotonic ms since a frame of this camera has been waiting or in flight; NaN while none is. */
  waitingSince: number;
  /** Monotonic ms when the frame waiting in its queue arrived (a newer frame replaces it); what gathering times a wait from. */
  arrived: number;
  /** Monotonic ms when its last frame finished (written or failed); NaN before the first. */
  lastDone: number;
  /** Gathering: the burst its last frame was taken into (Pipeline.burstId). */
  burst: number;
}

/** A detector slot's frame between its letterbox and its record's consumers. */
interface Flight {
  /** The camera it came from. */
  owner: Runtime | undefined;
  /** Its monotonic stamp. */
  mono: number;
  /** Ms spent on its input statistics. */
  statsMs: number;
  readonly detStats: DetectionStats;
  /** Its input statistics are kept here (the same camera's next frame may be summarised before this one is written). */
  readonly record: FrameRecord;
}

export class Pipeline {
  private readonly runtimes: Runtime[];
  private running = false;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private next = 0;
  /** Per detector slot (by Slot.index), the frame in it. */
  private readonly flights: Flight[];
  /** The camera whose frame was taken last: the one being letterboxed. */
  private taken: Runtime | undefined;
  private readonly mono: Clock;
  /** How long a frame may wait for the other cameras' to run with them in a burst (ms; 0: one frame at a time). */
  private readonly gatherMs: number;
  /** Gathering: the burst being gathered, counted from 1 (a camera's `burst` says whether its frame is in it). */
  private burstId = 0;
  /** Gathering: monotonic ms when the oldest frame of the burst being gathered arrived. */
  private burstOldest = Number.POSITIVE_INFINITY;
  /** Per-stage durations of the frames processed (stage-timings.ts). */
  readonly timings = new StageTimings();
  /** Bursts run (gathering only: see gatherMs) and the frames they ran together: frames / runs is a burst's mean size. */
  readonly bursts = { runs: 0, frames: 0 };
  /** Called after each frame is written (or failed), with the camera's index in the config. */
  onFrameDone: ((camera: number) => void) | undefined;

  constructor(
    private readonly detector: Detector,
    private readonly writer: FrameWriter,
    cameras: readonly PipelineCamera[],
    private readonly o: PipelineOptions = {},
  ) {
    this.flights = detector.slots.map(() => {
      const detStats = new DetectionStats(detector.model.names.length, o.uncertainty);
      return { owner: undefined, mono: 0, statsMs: 0, detStats, record: recordOver(new Float64Array(FRAME_FEATURES.length), detStats) };
    });
    this.mono = o.clock ?? systemClock;
    this.gatherMs = cameras.length > 1 && detector.slots.length > 1 ? (o.gatherMs ?? 0) : 0;
    // A burst decodes each camera's frame before that camera's next one is letterboxed: its frames
    // may stay where the letterbox kernels wrote them. One at a time, the next frame's letterbox
    // overlaps this one's run, so each is copied into its slot.
    detector.readInputInPlace(this.gatherMs > 0);
    const { inputW, inputH } = detector.model;
    const memoryOf = (w: number, h: number) => cameraMemory(w, h, inputW, inputH, detector.slots[0]?.letterboxer.resamplerFor(w, h));
    this.runtimes = cameras.map((cam, index) => ({
      cam,
      index,
      queue: new LatestFrame(cam.source.width, cam.source.height, memoryOf(cam.source.width, cam.source.height)),
      frameStats: new FrameStats(),
      drift: o.drift?.[index],
      counters: { name: cam.source.name, offered: 0, processed: 0, dropped: 0, errors: 0 },
      window: new WindowAggregator(detector.model.names, o.windowMs ?? 60_000),
      droppedAtStart: 0,
      errorsAtStart: 0,
      clock: new ClockSteps(o.clockStepMs ?? 2000),
      waitingSince: Number.NaN,
      arrived: 0,
      lastDone: Number.NaN,
      burst: 0,
    }));
  }

  /** Per-camera counts: offered = processed + dropped (+ the frames in flight: one, or gathering, one in the burst and one waiting). */
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
        const now = this.mono.monotonic();
        if (Number.isNaN(r.waitingSince)) r.waitingSince = now;
        r.arrived = now;
        r.queue.offer(f);
        if (src.paced) src.pause(); // until the loop takes this frame: a recorded file loses none
        this.wake?.();
      });
    }
    const job = {
      next: (idle: boolean) => this.nextFrame(idle),
      started: (frame: QueuedFrame, slot: Slot) => this.started(frame, slot),
      finished: (slot: Slot) => this.finished(slot),
      failed: (stage: OverlapStage, error: unknown, slot: Slot) => this.failed(stage, error, slot),
    };
    const counted = (frames: number): void => {
      this.bursts.runs++;
      this.bursts.frames += frames;
    };
    this.loopDone = this.gatherMs > 0 ? burst(this.detector, job, this.detector.slots.length, counted) : overlap(this.detector, job);
  }

  /** The next camera round-robin with a frame waiting, other than those already in burst `skip` (-1: none); `advance`: its turn is taken. */
  private pick(skip = -1, advance = true): Runtime | undefined {
    const n = this.runtimes.length;
    for (let k = 0; k < n; k++) {
      const r = this.runtimes[(this.next + k) % n]!;
      if (r.queue.hasFrame && r.burst !== skip) {
        if (advance) this.next = (this.next + k + 1) % n;
        return r;
      }
    }
    return undefined;
  }

  /**
   * The next camera's waiting frame, round-robin. None waiting: undefined while a frame is in flight
   * (it is finished first), else it waits for one; undefined once stopped.
   */
  private nextFrame(idle: boolean): QueuedFrame | undefined | Promise<QueuedFrame | undefined> {
    if (this.gatherMs > 0) return this.nextGathered(idle);
    const r = this.running ? this.pick() : undefined;
    if (r) return this.take(r);
    if (!idle || !this.running) return undefined;
    return this.waitForFrame();
  }

  private take(r: Runtime): QueuedFrame {
    this.taken = r;
    const frame = r.queue.take()!;
    if (r.cam.source.paced) r.cam.source.resume();
    return frame;
  }

  /**
   * Gathering (burst.ts asks): `idle` begins a burst with the next frame waiting (or the next to
   * arrive); then each further frame is a camera's not yet in the burst, as soon as one is waiting,
   * and undefined once the burst may start (gatherLeft).
   */
  private nextGathered(idle: boolean): QueuedFrame | undefined | Promise<QueuedFrame | undefined> {
    if (!this.running) return undefined;
    if (idle) {
      this.burstId++;
      this.burstOldest = Number.POSITIVE_INFINITY;
    }
    const r = this.pick(this.burstId);
    if (r) {
      r.burst = this.burstId;
      if (r.arrived < this.burstOldest) this.burstOldest = r.arrived;
      return this.take(r);
    }
    if (idle) return this.waitForFrame();
    return this.gatherLeft() > 0 ? this.gatherMore() : undefined;
  }

  /** Nothing in flight and nothing waiting: until a camera delivers (or the pipeline stops), then the next frame. */
  private async waitForFrame(): Promise<QueuedFrame | undefined> {
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      if (this.runtimes.some((x) => x.queue.hasFrame) || !this.running) resolve();
    });
    this.wake = undefined;
    return this.nextFrame(true);
  }

  /** Ms until the burst being gathered may start: 0 once every streaming camera has a frame in it, or once its oldest has waited gatherMs. */
  private gatherLeft(): number {
    let all = true;
    for (const r of this.runtimes) {
      if (r.burst !== this.burstId && r.cam.source.state === 'streaming') {
        all = false;
        break;
      }
    }
    return all ? 0 : Math.max(0, this.burstOldest + this.gatherMs - this.mono.monotonic());
  }

  /** Until a camera not yet in the burst delivers (its frame), the burst may start, or the pipeline stops (undefined). */
  private async gatherMore(): Promise<QueuedFrame | undefined> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (!this.running || this.pick(this.burstId, false)) return resolve();
        const left = this.gatherLeft();
        if (left === 0) resolve();
        else timer ??= setTimeout(resolve, left);
      };
      this.wake = check;
      check();
    });
    clearTimeout(timer);
    this.wake = undefined;
    return this.nextGathered(false);
  }

  /**
   * The frame in `slot` is inferring (gathering: is letterboxed, and runs with its burst): its input
   * statistics now, then its pixels go back to the camera's queue, so a camera may deliver again
   * while its frame is still being inferred.
   */
  private started(frame: QueuedFrame, slot: Slot): void {
    const r = this.taken!;
    const f = this.flights[slot.index]!;
    const rec = f.record;
    f.owner = r;
    f.mono = frame.mono;
    rec.ts = frame.ts;
    rec.index = frame.index;
    rec.width = frame.width;
    rec.height = frame.height;
    const t0 = performance.now();
    rec.frameStats.set(r.frameStats.compute(frame.data, frame.width, frame.height));
    f.statsMs = performance.now() - t0;
    r.queue.release();
  }

  /** The frame in `slot` is decoded: its record, completed, goes to the store, the window, the drift state and review. */
  private finished(slot: Slot): void {
    const f = this.flights[slot.index]!;
    const r = f.owner!;
    const rec = f.record;
    const t = slot.times;
    let stage: FrameStage = 'telemetry';
    try {
      const t0 = performance.now();
      f.detStats.compute(slot.candidates, slot.detections, rec.width, rec.height, slot.letterbox, slot.oodScores, this.detector.oodThreshold);
      setStageMs(rec, t);
      stage = 'store';
      this.writer.add(r.cam.id, rec);
      r.counters.processed++;
      stage = 'telemetry';
      const step = r.clock.check(rec.ts, f.mono);
      if (step !== 0) {
        if (this.o.windows && r.window.count > 0) this.closeWindow(r);
        this.o.onClockStep?.(r.cam.source.name, step, rec.ts);
      }
      if (this.o.windows) {
        if (r.window.due(rec.ts)) this.closeWindow(r);
        r.window.add(rec);
      }
      const ood = r.drift ? r.drift.add(rec) : false;
      stage = 'review';
      const reason = reviewReason(rec.detStats[UNCERTAIN]! > 0, ood, rec.detStats[OOD_DETECTIONS]! > 0);
      if (reason && this.o.review?.take(r.cam.id)) this.o.review.save(reviewFrame(this.detector, slot, rec, { id: r.cam.id, name: r.cam.source.name }, reason));
      const tm = this.timings;
      tm.observe(PREPROCESS, t.preprocessMs);
      tm.observe(INFERENCE, t.inferenceMs);
      tm.observe(POSTPROCESS, t.postprocessMs);
      tm.observe(TELEMETRY, f.statsMs + performance.now() - t0);
    } catch (e) {
      this.frameError(r, stage, e);
    }
    this.settled(r);
  }

  /** A frame failed at `stage`: one that failed its letterbox gives its pixels back, and onFrameDone does not hear of it. */
  private failed(stage: OverlapStage, error: unknown, slot: Slot): void {
    if (stage === 'preprocess') {
      const r = this.taken!;
      this.frameError(r, stage, error);
      r.queue.release();
      this.done(r);
      return;
    }
    const r = this.flights[slot.index]!.owner!;
    this.frameError(r, stage, error);
    this.settled(r);
  }

  private frameError(r: Runtime, stage: FrameStage, error: unknown): void {
    r.counters.errors++;
    this.o.onFrameError?.(r.cam.source.name, stage, error);
  }

  /** A frame of `r` that reached inference finished, written or failed. */
  private settled(r: Runtime): void {
    this.done(r);
    this.onFrameDone?.(r.index);
  }

  private closeWindow(r: Runtime): void {
    const dropped = r.queue.dropped - r.droppedAtStart;
    const errors = r.counters.errors - r.errorsAtStart;
    const aggregate = r.window.aggregate();
    const drift = r.drift?.close();
    try {
      this.o.windows?.write(r.cam.id, aggregate, dropped, errors, drift);
    } catch (e) {
      if (this.o.onStoreError?.(e)) {
        try {
          this.o.windows?.write(r.cam.id, aggregate, dropped, errors, drift);
        } catch {
          // Kept only upstream: onWindow below still queues its summary message.
        }
      }
    }
    this.o.onWindow?.(r.cam.source.name, aggregate, drift, { cameraId: r.cam.id, dropped, errors });
    r.droppedAtStart = r.queue.dropped;
    r.errorsAtStart = r.counters.errors;
    r.window.reset(0);
  }

  /**
   * Stops the sources, finishes the frames in flight, counts a frame still waiting as dropped,
   * writes each camera's partial window, and flushes every row to the store.
   */
  async stop(): Promise<void> {
    await Promise.all(this.runtimes.map((r) => r.cam.source.stop()));
    this.running = false;
    this.wake?.();
    await this.loopDone;
    // A frame that arrived after the last one taken is not run: it counts as dropped, so that every
    // frame offered is processed, dropped or errored, and its window says so.
    for (const r of this.runtimes) r.queue.discard();
    if (this.o.windows) for (const r of this.runtimes) if (r.window.count > 0) this.closeWindow(r);
    this.writer.flush();
    await this.o.review?.flush();
  }
}
