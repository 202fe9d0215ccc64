/**
 * The agent's composition root: the only place that wires stages together. Opens the store, loads
 * the model once for all cameras, builds the sources from config, runs the pipeline, enforces
 * retention on a timer, and on stop drains the pipeline and flushes everything to SQLite.
 */
import { existsSync } from 'node:fs';
import { driftlineError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { AgentConfig } from './config.js';
import { CameraDrift } from './drift/camera-drift.js';
import { Judge } from './drift/judge.js';
import { profilePathFor, readProfile } from './drift/profile.js';
import { ScoringReference } from './drift/scores.js';
import { Detector } from './infer/detector.js';
import { loadModel } from './infer/model.js';
import { Pipeline, type CameraCounters } from './pipeline/pipeline.js';
import { ReviewSampler, reviewDirFor } from './review/sampler.js';
import { FfmpegSource } from './source/ffmpeg.js';
import { GstreamerSource } from './source/gstreamer.js';
import { ImageDirSource } from './source/image-dir.js';
import type { FrameSource } from './source/source.js';
import { SyntheticSource } from './source/synthetic.js';
import { openDatabase } from './store/database.js';
import { FrameWriter } from './store/frame-writer.js';
import { Retention } from './store/retention.js';
import { WindowWriter } from './store/window-writer.js';

const DAY = 86_400_000;

export interface RunningAgent {
  readonly pipeline: Pipeline;
  /** The profile windows are scored against; undefined when drift scoring is off. */
  readonly profile: string | undefined;
  readonly review: ReviewSampler | undefined;
  readonly provider: string;
  readonly inferenceThread: 'main' | 'worker';
  stop(): Promise<readonly CameraCounters[]>;
}

function buildSource(name: string, s: AgentConfig['cameras'][number]['source']): FrameSource {
  if (s.kind === 'synthetic') {
    const schedule = s.schedule.map(({ at, ...conditions }) => ({ at, conditions }));
    return new SyntheticSource({ name, width: s.width, height: s.height, fps: s.fps, seed: s.seed, schedule });
  }
  if (s.kind === 'images') return new ImageDirSource({ name, path: s.path, width: s.width, height: s.height, fps: s.fps, loop: s.loop });
  if (s.kind === 'gstreamer') {
    const source =
      s.preset === 'jetson-csi'
        ? { preset: s.preset, sensorId: s.sensorId, captureWidth: s.captureWidth, captureHeight: s.captureHeight, fps: s.captureFps }
        : s.preset === 'rtsp-nvdec'
          ? { preset: s.preset, url: s.url, latencyMs: s.latencyMs }
          : { preset: s.preset, pipeline: s.pipeline };
    return new GstreamerSource({ name, width: s.width, height: s.height, finite: s.finite, stallMs: s.stallSeconds * 1000, source });
  }
  return new FfmpegSource({
    name,
    url: s.url,
    width: s.width,
    height: s.height,
    ...(s.fps > 0 ? { fps: s.fps } : {}),
    loop: s.loop,
    realtime: s.realtime,
    stallMs: s.stallSeconds * 1000,
  });
}

/** The reference profile the config names, or the one beside the model; checked against the model. */
async function loadDrift(config: AgentConfig, sha256: string, log: Logger): Promise<{ file: string; judge: Judge; profile: Awaited<ReturnType<typeof readProfile>> } | undefined> {
  const d = config.drift;
  if (!d.enabled) return undefined;
  const file = d.profile || profilePathFor(config.model.path);
  if (!d.profile && !existsSync(file)) {
    log.warn({ expected: file }, 'no reference profile beside the model: windows are stored unscored (make one with driftline baseline)');
    return undefined;
  }
  const profile = await readProfile(file);
  if (profile.model.sha256 !== sha256) {
    throw driftlineError('DRIFTLINE_ERR_PROFILE', { file, reason: `it was made for model ${profile.model.sha256.slice(0, 12)}, but the agent runs ${sha256.slice(0, 12)}: rebuild it with driftline baseline` });
  }
  let judge: Judge;
  try {
    judge = new Judge(new ScoringReference(profile), profile.calibration, {
      windowSeconds: config.telemetry.windowSeconds,
      warnEveryHours: d.warnEveryHours,
      alertEveryHours: d.alertEveryHours,
      thresholds: d.thresholds,
      psiWarn: d.psiWarn,
      psiAlert: d.psiAlert,
      minFrames: d.minFrames,
    });
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_PROFILE', { file, reason: (e as Error).message }, { cause: e });
  }
  return { file, judge, profile };
}

export async function startAgent(config: AgentConfig, log: Logger): Promise<RunningAgent> {
  const db = openDatabase(config.store.path, { synchronous: config.store.synchronous });
  const upsert = db.prepare('INSERT INTO cameras (name) VALUES (?) ON CONFLICT(name) DO UPDATE SET name = excluded.name RETURNING id');
  const model = await loadModel(config.model.path, { providers: config.model.providers, intraOpThreads: config.model.threads, log });
  const detector = await Detector.open(model, {
    conf: config.model.conf,
    iou: config.model.iou,
    maxDet: config.model.maxDet,
    classConf: config.model.classConf,
    candidateFloor: config.model.candidateFloor,
    resize: config.model.resize,
    thread: config.model.inferenceThread,
  });
  const writer = new FrameWriter(db, {
    flushMs: config.store.flushMs,
    onFlush: (_n, e) => e && log.warn({ err: e.message, pending: writer.pending }, 'telemetry flush failed; rows kept for retry'),
  });
  const retention = new Retention(db, {
    frameMaxAgeMs: config.store.frameRetentionDays * DAY,
    windowMaxAgeMs: config.store.windowRetentionDays * DAY,
    maxBytes: config.store.maxBytes,
  });
  const retentionTimer = setInterval(() => {
    try {
      const r = retention.enforce();
      if (r.framesDeleted + r.windowsDeleted > 0) log.info(r, 'retention');
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'retention failed');
    }
  }, config.store.retentionIntervalSeconds * 1000);
  retentionTimer.unref();
  const cameras = config.cameras.map((c) => {
    const source = buildSource(c.name, c.source);
    source.onEvent = (e) => {
      if (e.type === 'state') log.info({ camera: c.name, state: e.state }, `camera ${c.name} ${e.state}`);
      else log.warn({ camera: c.name, reason: e.reason }, `camera ${c.name} error`);
    };
    return { id: (upsert.get(c.name) as { id: number }).id, source };
  });
  const drift = await loadDrift(config, model.sha256, log);
  const review = config.review.enabled
    ? new ReviewSampler(db, {
        dir: config.review.dir || reviewDirFor(config.store.path),
        maxPerHour: config.review.maxPerHour,
        maxBytes: config.review.maxBytes,
        jpegQuality: config.review.jpegQuality,
      })
    : undefined;
  const last = new Map<string, string>();
  const pipeline = new Pipeline(detector, writer, cameras, {
    windowMs: config.telemetry.windowSeconds * 1000,
    windows: new WindowWriter(db),
    ...(drift ? { drift: cameras.map(() => new CameraDrift(drift.judge, drift.profile.calibration, { h: config.drift.cusumH })) } : {}),
    ...(review ? { review } : {}),
    uncertainty: { uncertainBelow: config.drift.uncertainBelow, rivalMin: config.drift.rivalMin },
    onWindow: (camera, w, result) => {
      if (!result) return;
      const fields = { camera, frames: w.frames, severity: result.severity, drivers: result.drivers.slice(0, 3).map((d) => `${d.key}=${d.value.toPrecision(3)}`) };
      // A change of verdict is news; a steady one is debug detail.
      if (last.get(camera) !== result.severity) log.info(fields, `camera ${camera} drift ${result.severity}`);
      else log.debug(fields, 'window scored');
      last.set(camera, result.severity);
    },
  });
  pipeline.start();
  log.info({ cameras: config.cameras.map((c) => c.name), provider: model.provider, inferenceThread: detector.inferenceThread, store: config.store.path, profile: drift?.file, thresholds: drift?.judge.mode }, 'agent started');
  return {
    pipeline,
    profile: drift?.file,
    review,
    provider: model.provider,
    inferenceThread: detector.inferenceThread,
    async stop() {
      clearInterval(retentionTimer);
      await pipeline.stop();
      writer.close();
      await detector.close();
      db.close();
      return pipeline.counters;
    },
  };
}
