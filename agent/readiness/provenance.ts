/**
 * Provenance and drift readiness, the two checklist rows that look past the model's own output.
 *
 * - Provenance: is the evaluation set production data, or a held-out slice of the training data?
 *   The set's images are profiled as `driftline baseline --data` profiles a folder (the agent's own
 *   statistics, the profile's operating point, its detection-level OOD reference), calibrated, and
 *   compared with the training profile by the same marks as `driftline drift A B`. A set that no
 *   feature tells apart from training is what a held-out slice looks like. A set rendered by
 *   `driftline synth` is synthetic whatever it looks like.
 * - Drift readiness: a calibrated reference profile exists for this exact model (its sha256), so
 *   the agent can watch inputs and confidence after deployment.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { calibrate } from '../drift/calibrate.js';
import { compareProfiles } from '../drift/compare.js';
import { marks } from '../drift/profile-marks.js';
import { ProfileBuilder, readProfile } from '../drift/profile.js';
import type { Profile } from '../drift/types.js';
import { Detector } from '../infer/detector.js';
import type { LoadedModel } from '../infer/model.js';
import { runSequence } from '../pipeline/sequence.js';
import { decodeImage, type RawFrame } from '../preprocess/letterbox.js';

export interface ProfileCheck {
  readonly file: string;
  /** Whether the profile was made for this model file (sha256). */
  readonly sameModel: boolean;
  readonly calibrated: boolean;
  readonly frames: number;
  readonly detectionOod: boolean;
  /** Why the profile could not be used, when it could not. */
  readonly problem?: string;
}

export interface ProvenanceResult {
  readonly synthetic: boolean;
  /** Features the evaluation set drifted on against the training profile, with their mark. */
  readonly drifted: readonly { readonly feature: string; readonly mark: string }[];
  /** True when no feature is marked: the set looks like the training data. */
  readonly indistinguishable: boolean;
  /** True when the training profile is too small a sample to judge a set this large (every feature marked so). */
  readonly insufficient: boolean;
  readonly frames: number;
}

/** Reads and checks a profile for the model; never throws for a bad profile, says why instead. */
export async function checkProfile(file: string, model: LoadedModel): Promise<{ check: ProfileCheck; profile?: Profile }> {
  try {
    const profile = await readProfile(file);
    return {
      check: {
        file,
        sameModel: profile.model.sha256 === model.sha256,
        calibrated: (profile.calibration?.windows.length ?? 0) > 0,
        frames: profile.frames,
        detectionOod: profile.detectionOod !== undefined,
      },
      profile,
    };
  } catch (e) {
    return { check: { file, sameModel: false, calibrated: false, frames: 0, detectionOod: false, problem: (e as Error).message } };
  }
}

/** Whether an evaluation set was rendered by `driftline synth` (its data.yaml says so, or a manifest sits beside it). */
export function isSynthetic(root: string): boolean {
  const yaml = join(root, 'data.yaml');
  if (existsSync(yaml) && readFileSync(yaml, 'utf8').includes('Written by `driftline synth`')) return true;
  return existsSync(join(root, 'manifest.jsonl'));
}

/**
 * Profiles the images (in order) at the training profile's operating point and marks the features
 * on which they differ from it.
 */
export async function compareWithTraining(
  model: LoadedModel,
  training: Profile,
  files: readonly string[],
  root: string,
  progress?: (done: number, total: number) => void,
): Promise<ProvenanceResult> {
  const detector = await Detector.open(model, {
    conf: 0.25,
    candidateFloor: 0.05,
    resize: training.data.resize ?? 'auto',
    ...(training.detectionOod ? { detectionOod: training.detectionOod } : {}),
  });
  const builder = new ProfileBuilder(model.names);
  let done = 0;
  async function* frames(): AsyncGenerator<RawFrame> {
    for (const f of files) yield await decodeImage(f);
  }
  try {
    await runSequence(detector, frames(), (t) => {
      builder.add(t);
      progress?.(++done, files.length);
    });
  } finally {
    await detector.close();
  }
  const built = builder.build({ file: model.file, sha256: model.sha256, names: model.names }, { source: root, images: files.length, skipped: 0 });
  const profile: Profile = { ...built, calibration: calibrate(built, builder.series(), {}) };
  const rows = compareProfiles(training, profile);
  const marked = marks(training, profile, rows);
  const drifted = [...marked].map(([feature, mark]) => ({ feature, mark }));
  return {
    synthetic: isSynthetic(root),
    drifted,
    indistinguishable: drifted.length === 0,
    insufficient: drifted.some((d) => d.mark === 'insufficient-reference'),
    frames: files.length,
  };
}
