/**
 * The agent's per-frame loop. Each camera's source feeds a latest-frame-wins queue; one loop serves
 * the cameras round-robin through the shared detector (one ONNX Runtime session for all), computes
 * the input statistics while inference runs (in the worker thread, when there is one) and the
 * detection telemetry after it, and hands one row per frame to the batched SQLite writer.
 * stop() stops the sources, lets the frame in flight finish, and flushes the store.
 */
import type { Detector } from '../infer/detector.js';
import type { FrameSource } from '../source/source.js';
import type { FrameWriter } from '../store/frame-writer.js';
import { DetectionStats } from '../telemetry/detection-stats.js';
import { FrameStats } from '../telemetry/frame-stats.js';
import { LatestFrame } from './latest-frame.js';

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

interface Runtime {
  readonly cam: PipelineCamera;
  readonly queue: LatestFrame;
  readonly frameStats: FrameStats;
  readonly detStats: DetectionStats;
  readonly counters: CameraCounters;
}

export class Pipeline {
  private readonly runtimes: Runtime[];
  private running = false;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private next = 0;

  constructor(
    private readonly detector: Detector,
    private readonly writer: FrameWriter,
    cameras: readonly PipelineCamera[],
  ) {
    this.runtimes = cameras.map((cam) => ({
      cam,
      queue: new LatestFrame(cam.source.width, cam.source.height),
      frameStats: new FrameStats(),
      detStats: new DetectionStats(detector.model.names.length),
      counters: { name: cam.source.name, offered: 0, processed: 0, dropped: 0, errors: 0 },
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

  start(): void {
    this.running = true;
    for (const r of this.runtimes) {
      r.cam.source.start((f) => {
        r.queue.offer(f);
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

  private async loop(): Promise<void> {
    const det = this.detector;
    while (this.running) {
      const r = this.pick();
      if (!r) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      const frame = r.queue.take()!;
      try {
        const slot = det.nextSlot();
        await det.preprocess(frame, slot);
        const inference = det.infer(slot);
        // Input statistics while the model runs.
        const fs = r.frameStats.compute(frame.data, frame.width, frame.height);
        await inference;
        det.postprocess(slot);
        const ds = r.detStats.compute(slot.candidates, slot.detections, frame.width, frame.height);
        this.writer.add(r.cam.id, frame.ts, frame.index, fs, ds, slot.times.preprocessMs, slot.times.inferenceMs, slot.times.postprocessMs);
        r.counters.processed++;
      } catch {
        r.counters.errors++;
      } finally {
        r.queue.release();
      }
    }
  }

  /** Stops the sources, finishes the frame in flight, and flushes every row to the store. */
  async stop(): Promise<void> {
    await Promise.all(this.runtimes.map((r) => r.cam.source.stop()));
    this.running = false;
    this.wake?.();
    await this.loopDone;
    this.writer.flush();
  }
}
