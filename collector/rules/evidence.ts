/**
 * What an alert carries so on-call can act on it without opening a dashboard: the scores that moved
 * most against their thresholds, the input features furthest from the reference, links to the
 * review frames of the window, and a first guess at the cause. The cause decides who goes: a camera
 * fault needs a technician at the line, input drift or model uncertainty needs the data scientist.
 */
import { familyOf, interpretability } from '../../protocol/families.js';
import type { FeatureFamily } from '../../protocol/features.js';
import { inputFeatures } from '../../protocol/features.js';
import type { SummaryMessage, SummaryDriver } from '../../protocol/messages.js';

export type CauseClass = 'camera-fault' | 'input-drift' | 'model-uncertainty' | 'unknown';

export interface Cause {
  readonly class: CauseClass;
  /** For camera faults: frozen, dark, overexposed, defocused or moved. */
  readonly fault?: 'frozen' | 'dark' | 'overexposed' | 'defocused' | 'moved';
  readonly reason: string;
  readonly action: string;
}

/** The input statistics (protocol/features.ts): what the camera delivered, as against the model's output. */
const INPUT_FEATURES: ReadonlySet<string> = new Set(inputFeatures().map((d) => d.name));
const TECHNICIAN = 'send a technician to the camera: check lens, mounting, lighting and cabling';
const DATA = 'data science: look at the review frames; the scene changed away from the training data';
const MODEL = 'data science: the model is unsure on inputs that look normal; label the review frames and retrain';
const NEW_OBJECT = 'quality and data science: look at the review frames (reason oodDetection); a part or defect the model was never trained on is on the line';

/** The feature a score key is about: `psi:brightness` -> brightness, `js:conf.scratch` -> conf.scratch. */
export function featureOf(key: string): string {
  const i = key.indexOf(':');
  return i < 0 ? key : key.slice(i + 1);
}

/** Drivers ordered by how far past their alert threshold they are. */
export function rankDrivers(d: readonly SummaryDriver[] | undefined): SummaryDriver[] {
  // Past its alert threshold, or (with none, as for a sequential detector) its warn threshold.
  const ratio = (x: SummaryDriver): number => {
    const t = x.alert ?? x.warn;
    return t !== null && t > 0 ? x.value / t : x.value;
  };
  return [...(d ?? [])].sort((a, b) => ratio(b) - ratio(a));
}

export function classify(s: SummaryMessage): Cause {
  const f = s.features;
  const z = (k: string): number => f[k]?.z ?? 0;
  const mean = (k: string): number => f[k]?.mean ?? Number.NaN;
  const still = ['brightness', 'contrast', 'entropy', 'sharpness'].every((k) => f[k] && f[k].max - f[k].min <= 1e-6 * Math.max(1, Math.abs(f[k].mean)));
  if (s.frames >= 10 && still) return { class: 'camera-fault', fault: 'frozen', reason: `every one of ${s.frames} frames is identical: the image is frozen`, action: TECHNICIAN };
  if (mean('brightness') < 25 || mean('underExposed') > 0.5) {
    return { class: 'camera-fault', fault: 'dark', reason: `the image is dark: mean brightness ${mean('brightness').toFixed(0)}/255, ${(mean('underExposed') * 100).toFixed(0)}% of pixels black`, action: TECHNICIAN };
  }
  if (mean('overExposed') > 0.5) return { class: 'camera-fault', fault: 'overexposed', reason: `${(mean('overExposed') * 100).toFixed(0)}% of pixels are clipped`, action: TECHNICIAN };
  const lightSteady = Math.abs(z('brightness')) < 2 && Math.abs(z('contrast')) < 2;
  if (lightSteady && z('sharpness') < -3) return { class: 'camera-fault', fault: 'defocused', reason: `sharpness fell ${(-z('sharpness')).toFixed(1)} reference SDs while brightness and contrast held: the lens is out of focus or dirty`, action: TECHNICIAN };
  if (lightSteady && (Math.abs(z('meanBoxArea')) > 3 || Math.abs(z('meanAspect')) > 3)) {
    return { class: 'camera-fault', fault: 'moved', reason: `object size and shape on the image changed (box area z ${z('meanBoxArea').toFixed(1)}, aspect z ${z('meanAspect').toFixed(1)}) while the light held: the camera moved or was re-zoomed`, action: TECHNICIAN };
  }
  const drivers = rankDrivers(s.drivers);
  const inputDrivers = drivers.filter((d) => INPUT_FEATURES.has(featureOf(d.key)) || d.key === 'rate:ood');
  const shifted = [...INPUT_FEATURES].filter((k) => Math.abs(z(k)) > 3).sort((a, b) => Math.abs(z(b)) - Math.abs(z(a)));
  if (inputDrivers.length || shifted.length) {
    const what = inputDrivers.length ? inputDrivers.slice(0, 3).map((d) => `${d.key} ${d.value.toPrecision(3)}`).join(', ') : shifted.slice(0, 3).map((k) => `${k} z ${z(k).toFixed(1)}`).join(', ');
    return { class: 'input-drift', reason: `the input moved away from the reference: ${what}`, action: DATA };
  }
  const alarms = Object.entries(s.sequential ?? {}).filter(([, v]) => v.alarm).map(([k]) => k);
  const novel = drivers.find((d) => d.key === 'rate:oodDetection');
  if (novel) {
    return {
      class: 'model-uncertainty',
      reason: `${(novel.value * 100).toFixed(0)}% of frames hold a detection unlike its class's reference (detection-level OOD): a new kind of part or defect, which the model names as a known class`,
      action: NEW_OBJECT,
    };
  }
  if (drivers.length || alarms.length) {
    const what = [...drivers.slice(0, 3).map((d) => `${d.key} ${d.value.toPrecision(3)}`), ...alarms.map((k) => `sustained shift in ${k}`)].join(', ');
    return { class: 'model-uncertainty', reason: `inputs look like the reference but the model's output changed: ${what}`, action: MODEL };
  }
  return { class: 'unknown', reason: 'no single score stands out', action: 'look at the drift timeline of this camera' };
}

/** The driver that best names the alert's feature: the first one of the kind the cause points at. */
export function leadDriver(s: SummaryMessage, cause: Cause): SummaryDriver | undefined {
  const ranked = rankDrivers(s.drivers);
  const isInput = (d: SummaryDriver): boolean => INPUT_FEATURES.has(featureOf(d.key)) || d.key === 'rate:ood';
  const preferred = cause.class === 'input-drift' || cause.class === 'camera-fault' ? ranked.find(isInput) : ranked.find((d) => !isInput(d));
  return preferred ?? ranked[0];
}

export interface Headline {
  /** The family that moved (protocol/families.ts): the alert's `feature` label. */
  readonly family: FeatureFamily;
  /** Its leading feature, or the score key when no feature's shift is known. */
  readonly feature: string;
  /** e.g. `illumination: brightness −41% (z = −23.0)`, or `model: cusum:classMix 18.4`. */
  readonly text: string;
}

const signed = (x: number, digits: number): string => `${x < 0 ? '\u2212' : '+'}${Math.abs(x).toFixed(digits)}`;

/**
 * What to put first in an alert, in an engineer's words. For input drift and camera faults: among
 * the input features the drivers name (a score's feature, the features that left the support for
 * `rate:ood`) and those shifted by more than 3 reference SDs, the family of the one that moved most
 * in reference SDs, led by the family's most interpretable feature that moved at least half as much;
 * with its change in its own units (percent of the reference mean) and its z. Raw PSI is not used to
 * rank: it saturates near 15 for any two disjoint samples. Otherwise the top driver, by family.
 */
export function headline(s: SummaryMessage, cause: Cause): Headline | undefined {
  const ranked = rankDrivers(s.drivers);
  const z = (f: string): number => {
    const v = s.features[f]?.z;
    return typeof v === 'number' && Number.isFinite(v) ? v : 0;
  };
  if (cause.class === 'input-drift' || cause.class === 'camera-fault') {
    const named = new Set<string>();
    for (const d of ranked) {
      if (d.key === 'rate:ood') for (const f of d.features ?? []) named.add(f);
      else if (INPUT_FEATURES.has(featureOf(d.key))) named.add(featureOf(d.key));
    }
    for (const f of INPUT_FEATURES) if (Math.abs(z(f)) > 3) named.add(f);
    const moved = [...named].filter((f) => z(f) !== 0);
    if (moved.length) {
      const top = moved.reduce((a, b) => (Math.abs(z(b)) > Math.abs(z(a)) ? b : a));
      const family = familyOf(top);
      const peers = moved.filter((f) => familyOf(f) === family && Math.abs(z(f)) >= Math.abs(z(top)) / 2);
      const feature = peers.reduce((a, b) => (interpretability(b) < interpretability(a) ? b : a));
      const f = s.features[feature]!;
      const ref = typeof f.ref === 'number' && Number.isFinite(f.ref) ? f.ref : undefined;
      const size = ref !== undefined && Math.abs(ref) > 1e-9 ? `${signed(((f.mean - ref) / Math.abs(ref)) * 100, 0)}%` : `mean ${f.mean.toPrecision(3)}`;
      return { family, feature, text: `${family}: ${feature} ${size} (z = ${signed(z(feature), 1)})` };
    }
  }
  const top = leadDriver(s, cause);
  if (!top) return undefined;
  const family = top.key === 'rate:ood' && top.features?.[0] ? familyOf(top.features[0]) : familyOf(top.key);
  return { family, feature: top.key, text: `${family}: ${top.key} ${top.value.toPrecision(3)}` };
}

/**
 * The feature family of the window's leading driver, named as the drift alert's `feature` label
 * names it (the headline's family); undefined for a window without drivers.
 */
export function leadFamily(s: SummaryMessage): FeatureFamily | undefined {
  return s.drivers?.length ? headline(s, classify(s))?.family : undefined;
}

export interface Evidence {
  readonly window: { seq: number; start: string; end: string; frames: number; status: string };
  readonly drivers: SummaryDriver[];
  readonly shifts: { feature: string; z: number; mean: number }[];
  readonly reviewFrames: string[];
  readonly cause: Cause;
}

export function evidenceOf(s: SummaryMessage, reviewUrl: string | undefined): Evidence {
  const shifts = Object.entries(s.features)
    .filter(([, v]) => v.z !== null && v.z !== undefined && Number.isFinite(v.z))
    .map(([k, v]) => ({ feature: k, z: +(v.z as number).toFixed(2), mean: +v.mean.toPrecision(4) }))
    .sort((a, b) => Math.abs(b.z) - Math.abs(a.z))
    .slice(0, 5);
  const base = reviewUrl ? reviewUrl.replace(/\/+$/, '') : undefined;
  return {
    window: { seq: s.seq, start: new Date(s.start).toISOString(), end: new Date(s.end).toISOString(), frames: s.frames, status: s.status },
    drivers: rankDrivers(s.drivers).slice(0, 5),
    shifts,
    reviewFrames: (s.review ?? []).slice(0, 10).map((r) => (base ? `${base}/${r.file}` : `${s.device}:${r.file}`)),
    cause: classify(s),
  };
}
