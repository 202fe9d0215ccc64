/**
 * The payloads of wire contract v1 (docs/mqtt.md): one JSON Schema per message kind, the matching
 * TypeScript types, and the validators the collector runs on every message. Fields may be added
 * within a version (consumers ignore fields they do not know); anything else is a new version.
 */
import { _, Ajv, str, type CodeKeywordDefinition, type ErrorObject, type KeywordCxt, type ValidateFunction } from 'ajv';
import { SEGMENT_PATTERN } from './topics.js';

export const SCHEMAS = {
  status: 'driftline.status/1',
  summary: 'driftline.summary/1',
  event: 'driftline.event/1',
  alert: 'driftline.alert/1',
} as const;

/**
 * The values of a summary message's `status` field: the window's verdict. `unscored` (no reference
 * profile) exists on the wire only; the agent's judge has its own, wider `JudgeVerdict`.
 */
export const SUMMARY_STATUSES = ['ok', 'warn', 'alert', 'insufficient', 'unscored'] as const;
/**
 * Why a window is `insufficient`: too few frames, or a window longer than the reference profile can
 * judge. An optional field beside the status, not a new status, so collectors older than it still
 * accept the summary.
 */
const INSUFFICIENT_CAUSES = ['frames', 'reference'] as const;
/** A window's verdict (docs/design.md, vocabulary), sent as the summary message's `status`. */
export type Verdict = (typeof SUMMARY_STATUSES)[number];
/** An alert's severity (docs/design.md, vocabulary): `info` for notices such as a model change. */
const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
const EVENT_KINDS = ['stalled', 'resumed', 'sourceError', 'providerFallback', 'modelChanged', 'clockStep', 'storageFull', 'storageRecovered', 'geometryMismatch'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

const segment = { type: 'string', pattern: SEGMENT_PATTERN } as const;
const ms = { type: 'integer', minimum: 0, maximum: 8.64e15 } as const;
const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
/** A window's frames: a column of 32-bit integers in the collector's stores (a day at 1,000 fps is 86.4 million). */
const frameCount = { type: 'integer', minimum: 0, maximum: 2_147_483_647 } as const;
const seq = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const;
const num = { type: 'number' } as const;
const numOrNull = { type: ['number', 'null'] } as const;
const name = { type: 'string', minLength: 1, maxLength: 128 } as const;
const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const model = {
  type: 'object',
  required: ['name', 'sha256'],
  properties: { name: { type: 'string', maxLength: 256 }, sha256 },
} as const;
const map = (value: object, max = 256): object => ({ type: 'object', maxProperties: max, propertyNames: { maxLength: 128 }, additionalProperties: value });

export const STATUS_SCHEMA = {
  $id: SCHEMAS.status,
  type: 'object',
  required: ['schema', 'site', 'device', 'state', 'ts'],
  properties: {
    schema: { const: SCHEMAS.status },
    site: segment,
    device: segment,
    state: { enum: ['online', 'offline'] },
    ts: ms,
    agent: { type: 'object', required: ['version'], properties: { version: { type: 'string', maxLength: 64 } } },
    model,
    provider: { type: 'string', maxLength: 32 },
    providers: { type: 'array', maxItems: 8, items: { type: 'string', maxLength: 32 } },
    fallbackFrom: { type: 'string', maxLength: 32 },
    stopReason: { type: 'string', minLength: 1, maxLength: 64 },
    cameras: { type: 'array', maxItems: 256, items: segment },
    windowSeconds: { type: 'number', exclusiveMinimum: 0 },
    reviewUrl: { type: 'string', maxLength: 1024 },
    epoch: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    seq,
  },
  if: { properties: { state: { const: 'online' } } },
  then: { required: ['agent', 'model', 'provider', 'providers', 'cameras', 'windowSeconds'] },
} as const;

export const SUMMARY_SCHEMA = {
  $id: SCHEMAS.summary,
  type: 'object',
  required: ['schema', 'site', 'device', 'camera', 'seq', 'start', 'end', 'frames', 'dropped', 'errors', 'model', 'provider', 'status', 'features', 'classCounts', 'confHist', 'latencyMs'],
  properties: {
    schema: { const: SCHEMAS.summary },
    site: segment,
    device: segment,
    camera: segment,
    seq,
    start: ms,
    end: ms,
    frames: frameCount,
    dropped: count,
    errors: count,
    model,
    provider: { type: 'string', maxLength: 32 },
    status: { enum: SUMMARY_STATUSES },
    insufficient: { enum: INSUFFICIENT_CAUSES },
    thresholds: { enum: ['calibrated', 'fixed'] },
    features: map({ type: 'object', required: ['mean', 'std', 'min', 'max'], properties: { mean: num, std: num, min: num, max: num, z: numOrNull, ref: numOrNull } }, 64),
    drivers: {
      type: 'array',
      maxItems: 16,
      items: {
        type: 'object',
        required: ['key', 'value', 'warn', 'alert', 'level'],
        properties: { key: name, value: num, warn: numOrNull, alert: numOrNull, level: { enum: ['warn', 'alert'] }, features: { type: 'array', maxItems: 64, items: name } },
      },
    },
    scores: map(numOrNull, 1024),
    familyScores: map(num, 16),
    rates: { type: 'object', required: ['uncertain', 'ood'], properties: { uncertain: { type: 'number', minimum: 0, maximum: 1 }, ood: { type: 'number', minimum: 0, maximum: 1 }, oodDetection: { type: 'number', minimum: 0, maximum: 1 } } },
    oodFeatures: map({ type: 'number', minimum: 0, maximum: 1 }, 64),
    sequential: map({ type: 'object', required: ['statistic', 'alarm'], properties: { statistic: num, alarm: { type: 'boolean' } } }, 16),
    classCounts: map({ type: 'number', minimum: 0 }),
    confHist: map({ type: 'array', maxItems: 128, items: { type: 'number', minimum: 0 } }),
    latencyMs: map({ type: 'object', required: ['p50', 'p95', 'p99', 'max'], properties: { p50: num, p95: num, p99: num, max: num } }, 16),
    review: {
      type: 'array',
      maxItems: 64,
      items: { type: 'object', required: ['file', 'ts', 'reason'], properties: { file: { type: 'string', maxLength: 512 }, ts: ms, reason: { type: 'string', maxLength: 32 } } },
    },
  },
} as const;

export const EVENT_SCHEMA = {
  $id: SCHEMAS.event,
  type: 'object',
  required: ['schema', 'site', 'device', 'camera', 'seq', 'ts', 'kind', 'message'],
  properties: {
    schema: { const: SCHEMAS.event },
    site: segment,
    device: segment,
    camera: segment,
    seq,
    ts: ms,
    kind: { enum: EVENT_KINDS },
    message: { type: 'string', maxLength: 1024 },
    detail: { type: 'object', maxProperties: 32 },
  },
  // The fields of `detail` that the collector reads are constrained per kind; others pass as evidence.
  allOf: [
    {
      if: { properties: { kind: { const: 'modelChanged' } } },
      then: {
        required: ['detail'],
        properties: {
          detail: {
            type: 'object',
            required: ['current'],
            properties: { current: sha256, previous: { type: 'string', pattern: '^([0-9a-f]{64})?$' }, file: { type: 'string', maxLength: 256 } },
          },
        },
      },
    },
    {
      if: { properties: { kind: { const: 'geometryMismatch' } } },
      then: {
        required: ['detail'],
        properties: {
          detail: {
            type: 'object',
            required: ['width', 'height', 'profileWidth', 'profileHeight', 'comparable'],
            properties: { width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 }, profileWidth: { type: 'integer', minimum: 1 }, profileHeight: { type: 'integer', minimum: 1 }, comparable: { type: 'boolean' } },
          },
        },
      },
    },
    {
      if: { properties: { kind: { const: 'clockStep' } } },
      then: { required: ['detail'], properties: { detail: { type: 'object', required: ['stepMs'], properties: { stepMs: { type: 'number', minimum: -1e13, maximum: 1e13 }, steps: { type: 'integer', minimum: 1 } } } } },
    },
    {
      if: { properties: { kind: { const: 'providerFallback' } } },
      then: {
        properties: {
          detail: {
            type: 'object',
            properties: {
              preferred: { type: 'string', maxLength: 32 },
              provider: { type: 'string', maxLength: 32 },
              attempts: {
                type: 'array',
                maxItems: 8,
                items: { type: 'object', required: ['provider', 'ok'], properties: { provider: { type: 'string', maxLength: 32 }, ok: { type: 'boolean' }, reason: { type: 'string', maxLength: 512 } } },
              },
            },
          },
        },
      },
    },
  ],
} as const;

export const ALERT_SCHEMA = {
  $id: SCHEMAS.alert,
  type: 'object',
  required: ['schema', 'id', 'rule', 'state', 'severity', 'labels', 'annotations', 'startsAt'],
  properties: {
    schema: { const: SCHEMAS.alert },
    id: { type: 'string', maxLength: 128 },
    rule: { type: 'string', maxLength: 64 },
    state: { enum: ['firing', 'resolved'] },
    severity: { enum: SEVERITIES },
    labels: map({ type: 'string' }, 32),
    annotations: map({ type: 'string' }, 32),
    startsAt: { type: 'string' },
    endsAt: { type: 'string' },
    evidence: { type: 'object' },
  },
} as const;

export interface FeatureStats {
  mean: number;
  std: number;
  min: number;
  max: number;
  /** (window mean - reference mean) / reference std; null without a reference. */
  z?: number | null;
  /** The reference mean, for the size of a change in the feature's own units; absent without a reference. */
  ref?: number | null;
}

export interface StatusMessage {
  schema: typeof SCHEMAS.status;
  site: string;
  device: string;
  state: 'online' | 'offline';
  ts: number;
  agent?: { version: string };
  model?: { name: string; sha256: string };
  provider?: string;
  providers?: string[];
  /**
   * The provider the device should run on when it runs on a worse one ('' when it does not: then
   * no fallback alert); absent from agents before it existed, whose fallback is provider ≠ providers[0].
   */
  fallbackFrom?: string;
  /** On an offline status from a clean stop: why (DRIFTLINE_STOP_REASON, default `stopping`); absent from the Last Will. */
  stopReason?: string;
  cameras?: string[];
  windowSeconds?: number;
  reviewUrl?: string;
  /** The agent's sequence epoch: a new one means its seqs started again at 1 (docs/mqtt.md). */
  epoch?: string;
  /**
   * The status sequence within the epoch: one per connection, shared by that connection's Last
   * Will, birth and clean-stop offline, so the collector orders a device's statuses without
   * anyone's clock (docs/mqtt.md). Absent from agents before it.
   */
  seq?: number;
}

export interface SummaryDriver {
  key: string;
  value: number;
  /** Thresholds; null where a score has none (a sequential detector has no alert level). */
  warn: number | null;
  alert: number | null;
  level: 'warn' | 'alert';
  features?: string[];
}

export interface SummaryMessage {
  schema: typeof SCHEMAS.summary;
  site: string;
  device: string;
  camera: string;
  seq: number;
  start: number;
  end: number;
  frames: number;
  dropped: number;
  errors: number;
  model: { name: string; sha256: string };
  provider: string;
  status: Verdict;
  insufficient?: (typeof INSUFFICIENT_CAUSES)[number];
  thresholds?: 'calibrated' | 'fixed';
  features: Record<string, FeatureStats>;
  drivers?: SummaryDriver[];
  scores?: Record<string, number | null>;
  /** Per feature family, its largest score on the threshold scale (warn = 1, alert = 2: protocol/levels.ts); judged windows only. */
  familyScores?: Record<string, number>;
  rates?: { uncertain: number; ood: number; oodDetection?: number };
  oodFeatures?: Record<string, number>;
  sequential?: Record<string, { statistic: number; alarm: boolean }>;
  classCounts: Record<string, number>;
  confHist: Record<string, number[]>;
  latencyMs: Record<string, { p50: number; p95: number; p99: number; max: number }>;
  review?: { file: string; ts: number; reason: string }[];
}

export interface EventMessage {
  schema: typeof SCHEMAS.event;
  site: string;
  device: string;
  camera: string;
  seq: number;
  ts: number;
  kind: EventKind;
  message: string;
  detail?: Record<string, unknown>;
}

export interface AlertMessage {
  schema: typeof SCHEMAS.alert;
  id: string;
  rule: string;
  state: 'firing' | 'resolved';
  severity: Severity;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  evidence?: Record<string, unknown>;
}

/** Characters as JSON Schema counts them (code points: a surrogate pair is one), as Ajv's own ucs2length. */
function codePoints(s: string): number {
  const n = s.length;
  let length = 0;
  for (let i = 0; i < n; i++) {
    length++;
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
  }
  return length;
}

/**
 * maxLength and minLength as Ajv's own (same results, same error), but counting code points only
 * when the UTF-16 length cannot decide: a string has at most as many code points as UTF-16 units
 * and at least half as many. Ajv counts every string's code points, and a summary has a few hundred
 * names under `maxLength: 128` (every map key): that count was 70% of validating one.
 */
const limitLength: CodeKeywordDefinition = {
  keyword: ['maxLength', 'minLength'],
  type: 'string',
  schemaType: 'number',
  $data: true,
  error: {
    message: ({ keyword, schemaCode }) => str`must NOT have ${keyword === 'maxLength' ? 'more' : 'fewer'} than ${schemaCode} characters`,
    params: ({ schemaCode }) => _`{limit: ${schemaCode}}`,
  },
  code(cxt: KeywordCxt) {
    const { keyword, data, schemaCode, gen } = cxt;
    const count = gen.scopeValue('func', { ref: codePoints });
    cxt.fail$data(
      keyword === 'maxLength'
        ? _`${data}.length > ${schemaCode} && ${count}(${data}) > ${schemaCode}`
        : _`${data}.length < ${schemaCode} || (${data}.length < 2 * ${schemaCode} && ${count}(${data}) < ${schemaCode})`,
    );
  },
};

const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true });
{
  // Replaced in place: a string's keywords run in Ajv's order (lengths, then pattern), so a string
  // that fails two of them is reported as before.
  const pattern = ajv.RULES.all.pattern;
  if (typeof pattern !== 'object') throw new Error("Ajv has no 'pattern' keyword to keep in order");
  ajv.removeKeyword('maxLength').removeKeyword('minLength').removeKeyword('pattern');
  ajv.addKeyword(limitLength).addKeyword(pattern.definition);
}
const compiled: Record<string, ValidateFunction> = {
  [SCHEMAS.status]: ajv.compile(STATUS_SCHEMA),
  [SCHEMAS.summary]: ajv.compile(SUMMARY_SCHEMA),
  [SCHEMAS.event]: ajv.compile(EVENT_SCHEMA),
  [SCHEMAS.alert]: ajv.compile(ALERT_SCHEMA),
};

/** What `check` makes of a payload: the message, or why it is not one. */
export type Parsed<T> = { ok: true; message: T } | { ok: false; reason: string };

const where = (e: ErrorObject): string => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`;

/** Payloads nest at most this deep: SQLite's JSON functions stop at 1000, and no message needs more than 6. */
export const MAX_DEPTH = 32;

/**
 * True when the JSON text nests objects and arrays deeper than `max` (brackets inside strings do not
 * count). Given the UTF-8 bytes, it reads them as they are, with the same answer as for the decoded
 * text: the characters it looks at (brackets, quotes, backslash) are ASCII, and UTF-8 never uses
 * ASCII bytes inside a multi-byte character (a decoder keeps an ASCII byte as it is even after an
 * invalid sequence). Reading bytes is about twice as fast as reading the string (the collector's ingest).
 */
export function nestedDeeperThan(text: string | Uint8Array, max = MAX_DEPTH): boolean {
  return typeof text === 'string' ? deeperText(text, max) : deeperBytes(text, max);
}

function deeperText(text: string, max: number): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // a string: on to its closing quote, past escaped characters
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 34) break;
      }
    } else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

function deeperBytes(b: Uint8Array, max: number): boolean {
  let depth = 0;
  const n = b.length;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === 34) {
      for (i++; i < n; i++) {
        const d = b[i]!;
        if (d === 92) i++;
        else if (d === 34) break;
      }
    } else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/** Validates a parsed payload against the schema it names, which must be `expected`. */
export function check<T>(value: unknown, expected: string): Parsed<T> {
  const schema = (value as { schema?: unknown } | null)?.schema;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'payload is not a JSON object' };
  if (schema !== expected) return { ok: false, reason: `schema is ${JSON.stringify(schema)}, expected ${expected}` };
  const v = compiled[expected]!;
  return v(value) ? { ok: true, message: value as T } : { ok: false, reason: where(v.errors![0]!) };
}
