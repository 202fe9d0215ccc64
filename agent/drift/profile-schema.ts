/**
 * The format of reference profiles (driftline.profile/1), in one place: the JSON Schema a profile
 * file is checked against before any code reads it, what the schema cannot say, and how a profile
 * written before a feature existed is brought up to date. A truncated or hand-edited profile must
 * fail with a message naming the field, not with a TypeError deep inside the drift code.
 *
 * The schema follows the TypeScript types (types.ts) at compile time: `object<T>()` takes exactly T's
 * keys and exactly T's optional ones, so adding a field to Profile (or FeatureProfile, Calibration, …)
 * without describing it here fails the typecheck. Unknown extra keys are allowed (fields may be added
 * within v1). What JSON Schema cannot say (edges that do not decrease, one count per bin, window
 * lengths in increasing order, an entry per class) is checked in `consistencyProblems`.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { driftlineError } from '../../lib/errors.js';
import { featureDim, type DetectionOodReference, type OodFeatureSpec } from '../ood/detection-ood.js';
import type { ResizeMode } from '../preprocess/letterbox.js';
import { CONF_BINS } from '../telemetry/detection-stats.js';
import { RECORD_FEATURES } from '../telemetry/frame-stats.js';
import type { Calibration, FeatureProfile, Profile, WindowMoments } from './types.js';

/** letterbox.ts's RESIZE_MODES, spelled out: that module loads sharp, and this one loads nothing. */
const PROFILE_RESIZE_MODES: readonly ResizeMode[] = ['auto', 'bilinear', 'area', 'sharp'];

const unit = { type: 'number', minimum: 0, maximum: 1 };
const OPERATING_POINT = {
  type: 'object',
  additionalProperties: false,
  required: ['conf', 'classConf', 'agnostic', 'agnosticIou', 'classPriority'],
  properties: {
    conf: unit,
    classConf: { type: 'object', additionalProperties: unit },
    agnostic: { type: 'boolean' },
    agnosticIou: unit,
    classPriority: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
  },
};

export const PROFILE_SCHEMA: Profile['schema'] = 'driftline.profile/1';
/** The features a profile holds: every per-frame feature (protocol/features.ts), input statistics first. */
export const PROFILE_FEATURES: readonly string[] = RECORD_FEATURES;
/** At most this many problems are named in one error. */
const SHOWN_PROBLEMS = 3;

type OptionalKeys<T> = { [K in keyof T]-?: Record<never, never> extends Pick<T, K> ? K : never }[keyof T];

/** An object schema with a property for every key of T, requiring all but T's optional keys. */
function object<T>(properties: { readonly [K in keyof T]-?: object }, optional: { readonly [K in OptionalKeys<T>]-?: true }, more: object = {}): object {
  const required = Object.keys(properties).filter((k) => !(k in optional));
  return { type: 'object', properties, required, ...more };
}

/** A JSON object used as a map: any keys, every value matching `value`. */
const map = (value: object, more: object = {}): object => ({ type: 'object', additionalProperties: value, ...more });

const number = { type: 'number' } as const;
const nonNegative = { type: 'number', minimum: 0 } as const;
const count = { type: 'integer', minimum: 0 } as const;
const string = { type: 'string' } as const;
const numbers = (more: object = {}): object => ({ type: 'array', items: number, ...more });
const counts = (more: object = {}): object => ({ type: 'array', items: nonNegative, ...more });

const feature = object<FeatureProfile>(
  {
    edges: numbers({ minItems: 2 }),
    counts: counts({ minItems: 3 }),
    mean: number,
    std: nonNegative,
  },
  {},
);

/** [mean, variance, u, excess, power] of a score's no-drift distribution (types.ts NullDistribution); power is absent in older profiles. */
const nullDistribution = { type: 'array', items: number, minItems: 4, maxItems: 5 } as const;

const window = object<WindowMoments>({ frames: { type: 'integer', minimum: 2 }, block: { type: 'integer', minimum: 1 }, moments: map(nullDistribution) }, {});

const calibration = object<Calibration>(
  {
    method: string,
    referenceFrames: count,
    replicates: count,
    correlationFrames: map(nonNegative),
    blockFrames: count,
    oodMargin: nonNegative,
    support: map(numbers({ minItems: 2, maxItems: 2 })),
    windows: { type: 'array', items: window },
    runs: { type: 'integer', minimum: 1 },
  },
  { runs: true },
);

const detectionOod = object<DetectionOodReference>(
  {
    schema: { const: 'driftline.detection-ood/1' },
    method: { const: 'mahalanobis-shared-shrinkage' },
    features: object<OodFeatureSpec>({ embeddingDim: count, appearance: { type: 'boolean' } }, {}),
    classes: { type: 'integer', minimum: 1 },
    shrinkage: { type: 'number', minimum: 0, maximum: 1 },
    counts: { type: 'array', items: count },
    mean: numbers({ minItems: 1 }),
    scale: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 1 },
    classMeans: { type: 'array', items: numbers() },
    whitener: numbers({ minItems: 1 }),
    quantiles: object<DetectionOodReference['quantiles']>({ p50: nonNegative, p90: nonNegative, p99: nonNegative }, {}),
  },
  {},
);

export const PROFILE_JSON_SCHEMA = object<Profile>(
  {
    schema: { const: PROFILE_SCHEMA },
    createdAt: string,
    model: object<Profile['model']>(
      {
        file: string,
        sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        names: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, uniqueItems: true },
      },
      {},
    ),
    data: object<Profile['data']>(
      { source: string, description: string, images: count, skipped: count, runs: { type: 'integer', minimum: 1 }, width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 }, resize: { type: 'string', enum: PROFILE_RESIZE_MODES }, operatingPoint: OPERATING_POINT },
      { description: true, runs: true, width: true, height: true, resize: true, operatingPoint: true },
    ),
    frames: count,
    features: map(feature, { required: [...PROFILE_FEATURES] }),
    classMix: map(nonNegative),
    confHist: map(counts({ minItems: CONF_BINS, maxItems: CONF_BINS })),
    calibration,
    detectionOod,
  },
  { calibration: true, detectionOod: true },
  { $id: PROFILE_SCHEMA },
);

const validate = new Ajv({ allErrors: true }).compile(PROFILE_JSON_SCHEMA);

/** `/features/brightness/edges/3` as `features.brightness.edges[3]`. */
export function pathOf(pointer: string, child?: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  return parts.reduce((out, p) => (/^\d+$/.test(p) ? `${out}[${p}]` : out ? `${out}.${p}` : p), '') || '(root)';
}

/** Ajv's errors as `path: problem`, one line per path: the keys missing from an object named together. */
function describe(errors: readonly ErrorObject[]): string[] {
  const lacks = new Map<string, string[]>();
  const wrong = new Map<string, string[]>();
  for (const e of errors) {
    const [group, item] = e.keyword === 'required' ? [lacks, (e.params as { missingProperty: string }).missingProperty] : [wrong, e.message ?? 'is invalid'];
    const list = group.get(e.instancePath) ?? [];
    group.set(e.instancePath, [...list, item]);
  }
  const out: string[] = [];
  for (const [at, keys] of lacks) {
    if (keys.length === 1) out.push(`${pathOf(at, keys[0])}: is missing`);
    else out.push(`${at ? `${pathOf(at)}: ` : 'it '}lacks ${keys.join(', ')}`);
  }
  for (const [at, messages] of wrong) out.push(`${pathOf(at)}: ${messages.join(', ')}`);
  return out;
}

/** What the schema cannot express; `p` has passed the schema. */
function consistencyProblems(p: Profile): string[] {
  const out: string[] = [];
  for (const [name, f] of Object.entries(p.features)) {
    const at = `features.${name}`;
    const i = f.edges.findIndex((e, j) => j > 0 && e < f.edges[j - 1]!);
    if (i > 0) out.push(`${at}.edges: must not decrease, but edges[${i}] = ${f.edges[i]} < edges[${i - 1}] = ${f.edges[i - 1]}`);
    if (f.counts.length !== f.edges.length + 1) out.push(`${at}.counts: must have one count per bin, edges.length + 1 = ${f.edges.length + 1}, not ${f.counts.length}`);
  }
  for (const name of p.model.names) {
    if (!Object.hasOwn(p.classMix, name)) out.push(`classMix.${name}: is missing (model.names lists the class)`);
    if (!Object.hasOwn(p.confHist, name)) out.push(`confHist.${name}: is missing (model.names lists the class)`);
  }
  const o = p.detectionOod;
  if (o) {
    const d = featureDim(o.features);
    const want = (what: string, n: number, expected: number, why: string): void => {
      if (n !== expected) out.push(`detectionOod.${what}: must have ${expected} entries (${why}), not ${n}`);
    };
    if (d === 0) out.push('detectionOod.features: uses neither the embedding nor the appearance statistics');
    if (o.classes !== p.model.names.length) out.push(`detectionOod.classes: is ${o.classes}, but model.names lists ${p.model.names.length} classes`);
    want('mean', o.mean.length, d, 'one per feature');
    want('scale', o.scale.length, d, 'one per feature');
    want('whitener', o.whitener.length, (d * (d + 1)) / 2, 'the lower triangle of a square matrix of the feature count');
    want('counts', o.counts.length, o.classes, 'one per class');
    want('classMeans', o.classMeans.length, o.classes, 'one per class');
    o.classMeans.forEach((m, i) => {
      if (m.length !== d && m.length !== 0) out.push(`detectionOod.classMeans[${i}]: must have ${d} entries (one per feature), or none for a class never seen, not ${m.length}`);
    });
    if (o.classMeans.every((m) => m.length === 0)) out.push('detectionOod.classMeans: no class has a mean');
  }
  const c = p.calibration;
  if (c) {
    const i = c.windows.findIndex((w, j) => j > 0 && w.frames <= c.windows[j - 1]!.frames);
    if (i > 0) out.push(`calibration.windows[${i}].frames: window lengths must increase (${c.windows.map((w) => w.frames).join(', ')}): rebuild with --windows in increasing order`);
    for (const [name, [lo, hi]] of Object.entries(c.support)) if (lo > hi) out.push(`calibration.support.${name}: the low end ${lo} is above the high end ${hi}`);
  }
  return out;
}

/** A wrong `schema` value for a message: a string or number as JSON, anything else by its kind. */
function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : 'an object';
}

/**
 * Everything wrong with a parsed profile, most telling first (empty: it is a valid profile). A wrong
 * `schema` is reported alone: another version is not a pile of field errors.
 */
export function profileProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [`it is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}, not a JSON object`];
  }
  const schema = (value as { schema?: unknown }).schema;
  if (schema === undefined) return [`schema is missing; expected ${JSON.stringify(PROFILE_SCHEMA)}`];
  if (schema !== PROFILE_SCHEMA) return [`schema is ${shown(schema)}, expected ${JSON.stringify(PROFILE_SCHEMA)}`];
  if (!validate(value)) return describe(validate.errors ?? []);
  return consistencyProblems(value as Profile);
}

/**
 * Fills in what a profile written before a feature existed lacks, where its value is known: a
 * profile without `features.oodDetections` predates detection-level OOD scoring and has no
 * `detectionOod`, so the agent scores no detection against it and the feature is 0 in every frame
 * of both the reference and the windows; it gets that all-zero feature. In place; anything else is
 * left for the schema check.
 */
function upgradeProfile(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  const p = value as { features?: unknown; frames?: unknown; detectionOod?: unknown };
  if (typeof p.features !== 'object' || p.features === null || Array.isArray(p.features) || p.detectionOod !== undefined) return;
  const features = p.features as Record<string, unknown>;
  if (features.oodDetections !== undefined) return;
  // A bad frame count is the schema check's to report; the feature it fills in stays valid.
  const frames = Number.isInteger(p.frames) && (p.frames as number) >= 0 ? (p.frames as number) : 0;
  features.oodDetections = { edges: [0, 0], counts: [0, frames, 0], mean: 0, std: 0 } satisfies FeatureProfile;
}

/**
 * Checks a parsed profile against the schema and returns it typed, or throws DRIFTLINE_ERR_PROFILE
 * naming the first few problems by path.
 */
export function checkProfile(value: unknown, file: string): Profile {
  upgradeProfile(value);
  const problems = profileProblems(value);
  if (problems.length === 0) return value as Profile;
  const more = problems.length > SHOWN_PROBLEMS ? ` (and ${problems.length - SHOWN_PROBLEMS} more)` : '';
  throw driftlineError('DRIFTLINE_ERR_PROFILE', { file, reason: problems.slice(0, SHOWN_PROBLEMS).join('; ') + more });
}
