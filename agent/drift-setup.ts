/**
 * Drift scoring as the agent's config and model set it up: the judge for the reference profile
 * that the start-up checks read, the profile's detection-level OOD reference for the detector, and
 * what the agent says once, at start, about the limits of both. Kept out of the composition root,
 * which only wires.
 */
import { driftlineError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { profileMismatch, type AgentChecks } from './checks.js';
import type { AgentConfig } from './config.js';
import { Judge, REFERENCE_REACH } from './drift/judge.js';
import { operatingPointMismatch, resizeMismatch } from './drift/profile.js';
import { ScoringReference } from './drift/scores.js';
import type { Profile } from './drift/types.js';
import type { Detector } from './infer/detector.js';
import type { LoadedModel } from './infer/model.js';
import type { DetectionOodReference } from './ood/detection-ood.js';

export interface DriftSetup {
  readonly file: string;
  readonly judge: Judge;
  readonly profile: Profile;
}

/** The judge for the reference profile that checkAgent read (none: scoring off); checked against the model. */
export function loadDrift(config: AgentConfig, read: AgentChecks['profile'], sha256: string): DriftSetup | undefined {
  const d = config.drift;
  if (!d.enabled || !read) return undefined;
  const { file, profile } = read;
  if (profile.model.sha256 !== sha256) throw profileMismatch(file, profile.model.sha256, sha256);
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

/** The profile's detection-level OOD reference, when drift runs against it and it was made for this model. */
export function detectionOodOf(config: AgentConfig, read: AgentChecks['profile'], model: LoadedModel): { detectionOod?: DetectionOodReference } {
  const ref = read?.profile.detectionOod;
  return config.drift.enabled && ref && model.embedding && read.profile.model.sha256 === model.sha256 ? { detectionOod: ref } : {};
}

/** Says once, at start, which out-of-distribution scoring applies, and why not the detection-level one. */
export function logOodMode(log: Logger, model: LoadedModel, detector: Detector, read: AgentChecks['profile']): void {
  if (detector.scoresDetections) {
    log.info({ ood: 'embedding', output: model.embedding!.output, dim: model.embedding!.dim, threshold: +detector.oodThreshold.toFixed(2) }, 'OOD scoring: detection-level, on the model embedding and box appearance');
  } else if (model.embedding) {
    log.info({ ood: 'confidence', output: model.embedding.output, profile: read?.file }, 'OOD scoring: confidence-based; the model has an embedding but the profile has no detectionOod (rebuild it with driftline baseline to score detections)');
  } else {
    log.info({ ood: 'confidence' }, 'OOD scoring: confidence-based (the model has no embedding output)');
  }
}

/** Says at start which of the judge's limits the config's windows meet: scores that cannot warn, a profile made at another resize or operating point, windows longer than it can judge. */
export function warnDriftLimits(config: AgentConfig, drift: DriftSetup, log: Logger): void {
  // Windows hold about fps x windowSeconds frames; the synthetic and recorded sources say their rate.
  const fps = Math.max(...config.cameras.map((c) => ('fps' in c.source && c.source.fps > 0 ? c.source.fps : 10)));
  const frames = Math.round(fps * config.telemetry.windowSeconds);
  const dead = drift.judge.powerless(frames);
  if (dead.length) log.warn({ frames, scores: dead }, `${dead.length} of the profile's scores cannot cross their warn threshold in windows of ~${frames} frames (the reference reaches their bound); drift rests on the others`);
  const resampled = resizeMismatch(drift.profile, config.model.resize);
  if (resampled) log.warn({ resize: config.model.resize, profileResize: drift.profile.data.resize }, resampled);
  const m = config.model;
  const counted = operatingPointMismatch(drift.profile, { conf: m.conf, classConf: m.classConf, agnostic: m.agnosticNms, agnosticIou: m.agnosticIou, classPriority: m.classPriority });
  if (counted) log.warn({ profileOperatingPoint: drift.profile.data.operatingPoint }, counted);
  if (!drift.judge.covers(frames)) {
    const longest = drift.judge.longestCalibrated();
    log.warn({ frames, longestCalibrated: longest }, `windows of ~${frames} frames are longer than the reference profile can judge (at most ${REFERENCE_REACH * longest}): they will be insufficient-reference; shorten telemetry.windowSeconds or rebuild the profile from a longer recording`);
  }
}
