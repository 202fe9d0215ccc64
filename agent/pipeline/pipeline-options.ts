/**
 * What the agent's Pipeline is given (its cameras and options) and what it reports through them:
 * the contract between the frame loop and the composition root that wires it.
 */
import type { Clock } from '../../lib/clock.js';
import type { CameraDrift } from '../drift/camera-drift.js';
import type { DriftResult } from '../drift/types.js';
import type { OverlapStage } from '../infer/overlap.js';
import type { ReviewSampler } from '../review/sampler.js';
import type { FrameSource } from '../source/source.js';
import type { UncertaintyOptions } from '../telemetry/detection-stats.js';
import type { WindowAggregate } from '../telemetry/window.js';

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
  write(cameraId: number, w: WindowAggregate, dropped: number, errors: number, drift?: DriftResult): unknown;
}

/**
 * Where a frame failed: a step of the detector (letterbox, model, decode), `telemetry` (detection
 * statistics, the clock-step check, the window and its closing, the drift state), `store` (its row
 * to the frame writer) or `review` (handing it to the review sampler).
 */
export type FrameStage = OverlapStage | 'telemetry' | 'store' | 'review';

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
  readonly onWindow?: (camera: string, w: WindowAggregate, drift: DriftResult | undefined, losses: { readonly cameraId: number; readonly dropped: number; readonly errors: number }) => void;
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
  /** A frame failed at `stage` (it is counted in the camera's errors either way). */
  readonly onFrameError?: (camera: string, stage: FrameStage, error: unknown) => void;
  /**
   * How long a frame may wait for the other cameras' frames, to run with them in one burst
   * (agent/infer/burst.ts), in ms; 0 or absent: one frame at a time (agent/infer/overlap.ts). A burst
   * takes each camera's frame as it arrives and starts once every streaming camera has a frame in
   * it, or once its oldest has waited this long; it holds at most as many frames as the detector has
   * slots.
   */
  readonly gatherMs?: number;
  /** The clock whose monotonic time stamps a camera's waiting frame and its last finished one (default the system's). */
  readonly clock?: Clock;
}
