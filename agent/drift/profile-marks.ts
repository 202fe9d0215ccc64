/**
 * `driftline drift A B`'s marks: which features of profile B drifted from profile A, judged with
 * the profiles' own calibrations, each side judging the other. Shared by the CLI, the folder-pairs
 * measurement and the readiness report's provenance check (agent/readiness/provenance.ts), so all
 * three say the same thing about two samples.
 */
import { compareProfiles, type FeatureDrift } from './compare.js';
import { Judge } from './judge.js';
import { PROFILE_FEATURES } from './profile-schema.js';
import { ScoringReference } from './scores.js';
import type { Profile } from './types.js';

export type Mark = 'warn' | 'alert' | 'insufficient-reference';
type Level = 'warn' | 'alert';

/** The calibrated judge of profile `p` (fixed thresholds when it has no calibration). */
export function judgeOf(p: Profile): Judge {
  const calibrated = (p.calibration?.windows.length ?? 0) > 0;
  return new Judge(new ScoringReference(p), p.calibration, { windowSeconds: 36, warnEveryHours: 1, alertEveryHours: 10, thresholds: calibrated ? 'calibrated' : 'fixed' });
}

/** Per feature, the level at which `ref`'s calibration puts `window` judged as one window of its length. */
function levels(ref: Profile, window: Profile, judge: Judge): Map<string, Level> {
  const out = new Map<string, Level>();
  const { warn, alert } = judge.thresholdsFor(window.frames);
  const keys = judge.ref.keys;
  for (const r of compareProfiles(ref, window)) {
    const f = window.features[r.feature]!;
    if (!judge.featureMoved(PROFILE_FEATURES.indexOf(r.feature), f.mean, f.std)) continue;
    let level: Level | undefined;
    for (const [score, v] of [['psi', r.psi], ['js', r.js], ['ks', r.ks]] as const) {
      const k = keys.indexOf(`${score}:${r.feature}`);
      if (v > alert[k]!) level = 'alert';
      else if (v > warn[k]! && !level) level = 'warn';
    }
    if (level) out.set(r.feature, level);
  }
  return out;
}

/**
 * warn/alert per row. Both profiles are samples, so each judges the other: A's calibration judges B
 * as one window of B's length, and, where B's calibration reaches A's length, B's judges A. A row is
 * marked at the lower of the two levels: a folder of 80 images whose frames hold 0 or 1 uncertain
 * detections cannot know that 2 happens too, so B's frames with 2 fall past A's range, while B's own
 * calibration has seen them and finds A unremarkable. A real shift (a darker folder) is past each
 * side's range from the other. Both profiles have passed readProfile's schema check, so nothing here
 * meets a missing field.
 */
export function marks(a: Profile, b: Profile, rows: readonly FeatureDrift[]): Map<string, Mark> {
  const out = new Map<string, Mark>();
  const judgeA = judgeOf(a);
  if (!judgeA.covers(b.frames)) {
    for (const r of rows) out.set(r.feature, 'insufficient-reference');
    return out;
  }
  const forward = levels(a, b, judgeA);
  const judgeB = judgeOf(b);
  const backward = judgeB.mode === 'calibrated' && judgeB.covers(a.frames) ? levels(b, a, judgeB) : undefined;
  for (const [feature, level] of forward) {
    if (!backward) out.set(feature, level);
    else if (backward.has(feature)) out.set(feature, level === 'alert' && backward.get(feature) === 'alert' ? 'alert' : 'warn');
  }
  return out;
}
