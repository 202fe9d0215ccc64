/**
 * The synthetic line camera through the real model and the agent's per-frame telemetry, for drift
 * tests: frames rendered in order under conditions chosen per frame, inference pipelined through a
 * worker thread. One detector per process, opened on first use.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { countedAt, pointOptions } from '../../agent/drift/profile.js';
import type { Profile } from '../../agent/drift/types.js';
import { Detector } from '../../agent/infer/detector.js';
import { loadModel } from '../../agent/infer/model.js';
import { runSequence, type FrameTelemetry } from '../../agent/pipeline/sequence.js';
import type { RawFrame } from '../../agent/preprocess/letterbox.js';
import { LineCamera } from '../../agent/synth/camera.js';
import { DEFAULT_CONDITIONS, type Conditions } from '../../agent/synth/conditions.js';
import type { GroundTruth } from '../../agent/synth/scene.js';
import { MODEL, ROOT } from './cli.js';

let detector: Promise<Detector> | undefined;

/**
 * The shipped model at the operating point the shipped profile was counted at, scoring each
 * detection against the profile's detection-level OOD reference, as the agent does when its profile
 * has one.
 */
export function lineDetector(): Promise<Detector> {
  detector ??= Promise.all([loadModel(MODEL, { providers: ['cpu'], intraOpThreads: 1 }), readFile(join(ROOT, 'models', 'line-detector.profile.json'), 'utf8')]).then(([m, text]) => {
    const profile = JSON.parse(text) as Profile;
    const { detectionOod } = profile;
    return Detector.open(m, { ...pointOptions(countedAt(profile)), candidateFloor: 0.05, ...(detectionOod ? { detectionOod } : {}) });
  });
  return detector;
}

/** Closes the detector (and its worker thread), if one was opened; for a file's `after` hook. */
export async function closeLineDetector(): Promise<void> {
  const d = detector;
  detector = undefined; // a second call closes nothing: Detector.close() must not run twice at once
  const opened = await d?.catch(() => undefined); // one that failed to open has nothing to close
  await opened?.close();
}

export interface LineRun {
  readonly seed: number;
  readonly frames: number;
  readonly width?: number;
  readonly height?: number;
  /** Conditions of frame i (default: nominal). */
  readonly conditions?: (i: number) => Partial<Conditions>;
}

/** Runs the camera; `onFrame` gets each frame's telemetry and ground truth, in order. */
export async function runLine(run: LineRun, onFrame: (t: FrameTelemetry, truth: readonly GroundTruth[]) => void): Promise<void> {
  const det = await lineDetector();
  const camera = new LineCamera(run.width ?? 320, run.height ?? 240, run.seed);
  const truths: GroundTruth[][] = Array.from({ length: 8 }, () => []);
  let i = 0;
  function* frames(): Generator<RawFrame> {
    for (; i < run.frames; i++) {
      const f = camera.next({ ...DEFAULT_CONDITIONS, ...run.conditions?.(i) });
      truths[i % 8] = f.objects;
      yield { data: f.data, width: f.width, height: f.height, channels: 3 };
    }
  }
  await runSequence(det, frames(), (t) => onFrame(t, truths[t.index % 8]!));
}
