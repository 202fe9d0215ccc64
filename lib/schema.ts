/**
 * A small declarative config schema: one description per key with its type, default, bounds and
 * documentation. validate() applies defaults, rejects unknown keys, and throws DRIFTLINE_ERR_CONFIG
 * naming the key path, the value and what was expected; the result is deeply frozen. The same
 * description drives environment overrides and the configuration reference.
 */
import { driftlineError } from './errors.js';

export type Field =
  | { kind: 'string'; default?: string; doc: string; oneOf?: readonly string[]; pattern?: RegExp }
  | { kind: 'number'; default?: number; doc: string; min?: number; max?: number; integer?: boolean }
  | { kind: 'boolean'; default?: boolean; doc: string }
  | { kind: 'list'; of: 'string'; default?: readonly string[]; doc: string; oneOf?: readonly string[]; nonEmpty?: boolean }
  | { kind: 'map'; of: 'number'; default?: Readonly<Record<string, number>>; doc: string; min?: number; max?: number }
  | { kind: 'object'; fields: Schema; doc: string; optional?: boolean }
  | { kind: 'array'; item: Schema | ((v: unknown, path: string) => unknown); doc: string; minItems?: number };

export type Schema = Readonly<Record<string, Field>>;

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

function fail(key: string, value: unknown, expected: string): never {
  throw driftlineError('DRIFTLINE_ERR_CONFIG', { key, value: show(value), expected });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function validate(schema: Schema, input: unknown, path = ''): Record<string, unknown> {
  const obj = input === undefined || input === null ? {} : input;
  if (!isPlainObject(obj)) fail(path || '(root)', input, 'a mapping of keys to values');
  for (const k of Object.keys(obj)) {
    if (!(k in schema)) fail(path ? `${path}.${k}` : k, obj[k], `a known key here: one of ${Object.keys(schema).join(', ')}`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(schema)) {
    const key = path ? `${path}.${k}` : k;
    const v = obj[k];
    out[k] = field(f, v, key);
  }
  return Object.freeze(out);
}

function field(f: Field, v: unknown, key: string): unknown {
  if (v === undefined) {
    if (f.kind === 'object') return f.optional ? undefined : validate(f.fields, {}, key);
    if (f.kind === 'array') {
      if ((f.minItems ?? 0) > 0) fail(key, v, `a list of at least ${f.minItems} item(s)`);
      return Object.freeze([]);
    }
    if (f.default === undefined) fail(key, v, `a value (${f.doc})`);
    return typeof f.default === 'object' ? Object.freeze(Array.isArray(f.default) ? [...f.default] : { ...f.default }) : f.default;
  }
  switch (f.kind) {
    case 'string':
      if (typeof v !== 'string' || v.length === 0) fail(key, v, 'a non-empty string');
      if (f.oneOf && !f.oneOf.includes(v)) fail(key, v, `one of ${f.oneOf.join(', ')}`);
      if (f.pattern && !f.pattern.test(v)) fail(key, v, `a string matching ${f.pattern}`);
      return v;
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(key, v, 'a number');
      if (f.integer && !Number.isInteger(v)) fail(key, v, 'a whole number');
      if ((f.min !== undefined && v < f.min) || (f.max !== undefined && v > f.max)) fail(key, v, `a number in [${f.min ?? '-inf'}, ${f.max ?? 'inf'}]`);
      return v;
    }
    case 'boolean':
      if (typeof v !== 'boolean') fail(key, v, 'true or false');
      return v;
    case 'list': {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(key, v, 'a list of strings');
      if (f.nonEmpty && v.length === 0) fail(key, v, 'a non-empty list');
      for (const x of v as string[]) if (f.oneOf && !f.oneOf.includes(x)) fail(key, x, `one of ${f.oneOf.join(', ')}`);
      return Object.freeze([...(v as string[])]);
    }
    case 'map': {
      if (!isPlainObject(v)) fail(key, v, 'a mapping of names to numbers');
      for (const [mk, mv] of Object.entries(v)) {
        if (typeof mv !== 'number' || (f.min !== undefined && mv < f.min) || (f.max !== undefined && mv > f.max)) fail(`${key}.${mk}`, mv, `a number in [${f.min ?? '-inf'}, ${f.max ?? 'inf'}]`);
      }
      return Object.freeze({ ...v });
    }
    case 'object':
      return validate(f.fields, v, key);
    case 'array': {
      if (!Array.isArray(v)) fail(key, v, 'a list');
      if (v.length < (f.minItems ?? 0)) fail(key, v, `a list of at least ${f.minItems} item(s)`);
      return Object.freeze(v.map((x, i) => (typeof f.item === 'function' ? f.item(x, `${key}[${i}]`) : validate(f.item, x, `${key}[${i}]`))));
    }
  }
}

/** DRIFTLINE_STORE__MAX_BYTES for store.maxBytes. */
export function envName(prefix: string, path: readonly string[]): string {
  return `${prefix}_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__')}`;
}

/**
 * Applies environment overrides for scalar and list keys (not inside arrays) onto a raw config
 * object, parsing each by its field's type. Returns the names of the variables used.
 */
export function applyEnv(schema: Schema, raw: Record<string, unknown>, env: NodeJS.ProcessEnv, prefix: string, path: string[] = []): string[] {
  const used: string[] = [];
  for (const [k, f] of Object.entries(schema)) {
    const p = [...path, k];
    if (f.kind === 'object') {
      const sub = isPlainObject(raw[k]) ? (raw[k] as Record<string, unknown>) : {};
      const u = applyEnv(f.fields, sub, env, prefix, p);
      if (u.length) raw[k] = sub;
      used.push(...u);
      continue;
    }
    if (f.kind === 'array' || f.kind === 'map') continue;
    const name = envName(prefix, p);
    const s = env[name];
    if (s === undefined) continue;
    used.push(name);
    if (f.kind === 'number') {
      const n = Number(s);
      if (s.trim() === '' || !Number.isFinite(n)) fail(`${p.join('.')} (from ${name})`, s, 'a number');
      raw[k] = n;
    } else if (f.kind === 'boolean') {
      if (!/^(true|false|1|0)$/i.test(s)) fail(`${p.join('.')} (from ${name})`, s, 'true or false');
      raw[k] = /^(true|1)$/i.test(s);
    } else if (f.kind === 'list') {
      raw[k] = s.split(',').map((x) => x.trim()).filter(Boolean);
    } else raw[k] = s;
  }
  return used;
}

/** Rows for the configuration reference: key path, type, default, doc. */
export function describe(schema: Schema, path = ''): { key: string; type: string; default: string; doc: string }[] {
  const rows: { key: string; type: string; default: string; doc: string }[] = [];
  for (const [k, f] of Object.entries(schema)) {
    const key = path ? `${path}.${k}` : k;
    if (f.kind === 'object') {
      rows.push({ key, type: 'mapping', default: '', doc: f.doc });
      rows.push(...describe(f.fields, key));
      continue;
    }
    if (f.kind === 'array') {
      rows.push({ key, type: 'list', default: '', doc: f.doc });
      if (typeof f.item !== 'function') rows.push(...describe(f.item, `${key}[]`));
      continue;
    }
    const type = f.kind === 'string' && f.oneOf ? f.oneOf.join(' \\| ') : f.kind === 'list' ? 'list of strings' : f.kind;
    rows.push({ key, type, default: f.default === undefined ? 'required' : JSON.stringify(f.default), doc: f.doc });
  }
  return rows;
}
