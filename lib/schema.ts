/**
 * A small declarative config schema: one description per key with its type, default, bounds and
 * documentation. validate() applies defaults, rejects unknown keys, resolves relative paths against
 * the config file's folder, and reports every problem at once in one DRIFTLINE_ERR_CONFIG, each
 * naming the key path, the value and what was expected; the result is deeply frozen. The same
 * description drives environment overrides and the configuration reference.
 */
import { isAbsolute, resolve } from 'node:path';
import { driftlineError, type DriftlineError } from './errors.js';
import { redactEntry } from './redact.js';

export type Field =
  /** path: a file or folder (or an ffmpeg URL); a relative one is resolved against the config file's folder. */
  | { kind: 'string'; default?: string; doc: string; oneOf?: readonly string[]; pattern?: RegExp; path?: true }
  | { kind: 'number'; default?: number; doc: string; min?: number; max?: number; integer?: boolean }
  | { kind: 'boolean'; default?: boolean; doc: string }
  | { kind: 'list'; of: 'string'; default?: readonly string[]; doc: string; oneOf?: readonly string[]; nonEmpty?: boolean }
  | { kind: 'map'; of: 'number'; default?: Readonly<Record<string, number>>; doc: string; min?: number; max?: number }
  | { kind: 'object'; fields: Schema; doc: string; optional?: boolean }
  | { kind: 'array'; item: Schema | ((v: unknown, path: string, ctx: Ctx) => unknown); doc: string; minItems?: number };

export type Schema = Readonly<Record<string, Field>>;

/**
 * The value a schema validates to, derived from the schema's own type: declare a schema
 * `as const satisfies Schema` so its kinds and oneOf lists keep their literal types.
 */
export type Config<S extends Schema> = { readonly [K in keyof S]: FieldValue<S[K]> };

/** The value one field validates to. An array's custom item validator gives its own type, less the undefined it returns on a problem. */
export type FieldValue<F extends Field> = F extends { kind: 'string' }
  ? StringValue<F>
  : F extends { kind: 'number' }
    ? number
    : F extends { kind: 'boolean' }
      ? boolean
      : F extends { kind: 'list' }
        ? readonly StringValue<F>[]
        : F extends { kind: 'map' }
          ? Readonly<Record<string, number>>
          : F extends { kind: 'object'; fields: infer S extends Schema }
            ? Config<S> | (F extends { optional: true } ? undefined : never)
            : F extends { kind: 'array'; item: (...args: never[]) => infer R }
              ? readonly Exclude<R, undefined>[]
              : F extends { kind: 'array'; item: infer S extends Schema }
                ? readonly Config<S>[]
                : never;

/** One of `oneOf` (or the empty string, when that is the default: see field()), else any string. */
type StringValue<F> = F extends { oneOf: readonly (infer O extends string)[] } ? O | (F extends { default: '' } ? '' : never) : string;

/** The same type spelled out key by key, for editors' hover text. */
export type Expand<T> = T extends (...args: never[]) => unknown ? T : T extends object ? { [K in keyof T]: Expand<T[K]> } : T;

export interface Problem {
  readonly key: string;
  readonly value: string;
  readonly expected: string;
}

/** What one validation collects: every problem found, and the folder relative paths start from. */
export interface Ctx {
  readonly problems: Problem[];
  readonly baseDir?: string;
  /** Keys set from the environment, and the variable each came from: their problems name it (applyEnv fills it). */
  readonly envSources?: Map<string, string>;
}

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

/**
 * Records a problem; returns undefined so a caller can use it as the field's (missing) value. The
 * value is shown as lib/redact.ts would print it: a secret key's hidden, a URL's password masked.
 */
export function problem(ctx: Ctx, key: string, value: unknown, expected: string): undefined {
  const from = ctx.envSources?.get(key);
  const named = from ? `${key} (from ${from})` : key;
  ctx.problems.push({ key: named, value: show(redactEntry(key, value)), expected });
  return undefined;
}

/** One DRIFTLINE_ERR_CONFIG for all the problems (the first one's key, value and expected on top). */
export function configError(problems: readonly Problem[]): DriftlineError {
  const [first] = problems;
  return driftlineError('DRIFTLINE_ERR_CONFIG', { ...first, ...(problems.length > 1 ? { problems } : {}) });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True for a value with a URL scheme (rtsp://, http://, file:): not a plain path. */
export function hasUrlScheme(v: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(v);
}

/**
 * A relative path's absolute form from `baseDir`, or the value unchanged: absolute paths, URLs,
 * SQLite's `:memory:` and empty values stay as they are; `file:relative` becomes `file:/absolute`.
 */
function resolvePath(baseDir: string, v: string): string {
  if (v.startsWith('file:') && !v.startsWith('file:/')) return `file:${resolve(baseDir, v.slice(5))}`;
  if (v === '' || v.startsWith(':') || isAbsolute(v) || hasUrlScheme(v)) return v;
  return resolve(baseDir, v);
}

/** Validates and throws one error naming every problem; the result is deeply frozen. */
export function validate<S extends Schema>(schema: S, input: unknown, path = '', baseDir?: string): Config<S> {
  const ctx: Ctx = { problems: [], ...(baseDir ? { baseDir } : {}) };
  const out = check(schema, input, path, ctx);
  if (ctx.problems.length) throw configError(ctx.problems);
  return out;
}

/**
 * Validates into `ctx.problems` without throwing. The result has the schema's type only when this
 * call recorded no problem: a failing key is left undefined, and an input that is not a mapping gives {}.
 */
export function check<S extends Schema>(schema: S, input: unknown, path: string, ctx: Ctx): Config<S> {
  const obj = input === undefined || input === null ? {} : input;
  if (!isPlainObject(obj)) {
    problem(ctx, path || '(root)', input, 'a mapping of keys to values');
    return Object.freeze({}) as Config<S>;
  }
  for (const k of Object.keys(obj)) {
    if (!(k in schema)) problem(ctx, path ? `${path}.${k}` : k, obj[k], `a known key here: one of ${Object.keys(schema).join(', ')}`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(schema)) {
    const key = path ? `${path}.${k}` : k;
    out[k] = field(f, obj[k], key, ctx);
  }
  return Object.freeze(out) as Config<S>;
}

function field(f: Field, v: unknown, key: string, ctx: Ctx): unknown {
  if (v === undefined) {
    if (f.kind === 'object') return f.optional ? undefined : check(f.fields, {}, key, ctx);
    if (f.kind === 'array') {
      if ((f.minItems ?? 0) > 0) return problem(ctx, key, v, `a list of at least ${f.minItems} item(s)`);
      return Object.freeze([]);
    }
    if (f.default === undefined) return problem(ctx, key, v, `a value (${f.doc})`);
    return typeof f.default === 'object' ? Object.freeze(Array.isArray(f.default) ? [...f.default] : { ...f.default }) : f.default;
  }
  switch (f.kind) {
    case 'string':
      if (typeof v !== 'string') return problem(ctx, key, v, 'a string');
      // An empty string is what a key whose default is empty means ("none", "do not publish"): written out, it means the same.
      if (v.length === 0) return f.default === '' ? '' : problem(ctx, key, v, 'a non-empty string');
      if (f.oneOf && !f.oneOf.includes(v)) return problem(ctx, key, v, `one of ${f.oneOf.join(', ')}`);
      if (f.pattern && !f.pattern.test(v)) return problem(ctx, key, v, `a string matching ${f.pattern}`);
      return f.path && ctx.baseDir ? resolvePath(ctx.baseDir, v) : v;
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return problem(ctx, key, v, 'a number');
      if (f.integer && !Number.isInteger(v)) return problem(ctx, key, v, 'a whole number');
      if ((f.min !== undefined && v < f.min) || (f.max !== undefined && v > f.max)) return problem(ctx, key, v, `a number in [${f.min ?? '-inf'}, ${f.max ?? 'inf'}]`);
      return v;
    }
    case 'boolean':
      if (typeof v !== 'boolean') return problem(ctx, key, v, 'true or false');
      return v;
    case 'list': {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) return problem(ctx, key, v, 'a list of strings');
      if (f.nonEmpty && v.length === 0) return problem(ctx, key, v, 'a non-empty list');
      const bad = f.oneOf ? (v as string[]).filter((x) => !f.oneOf!.includes(x)) : [];
      for (const x of bad) problem(ctx, key, x, `one of ${f.oneOf!.join(', ')}`);
      return bad.length ? undefined : Object.freeze([...(v as string[])]);
    }
    case 'map': {
      if (!isPlainObject(v)) return problem(ctx, key, v, 'a mapping of names to numbers');
      let ok = true;
      for (const [mk, mv] of Object.entries(v)) {
        if (typeof mv !== 'number' || (f.min !== undefined && mv < f.min) || (f.max !== undefined && mv > f.max)) ok = problem(ctx, `${key}.${mk}`, mv, `a number in [${f.min ?? '-inf'}, ${f.max ?? 'inf'}]`) ?? false;
      }
      return ok ? Object.freeze({ ...v }) : undefined;
    }
    case 'object':
      return check(f.fields, v, key, ctx);
    case 'array': {
      if (!Array.isArray(v)) return problem(ctx, key, v, 'a list');
      if (v.length < (f.minItems ?? 0)) return problem(ctx, key, v, `a list of at least ${f.minItems} item(s)`);
      return Object.freeze(v.map((x, i) => (typeof f.item === 'function' ? f.item(x, `${key}[${i}]`, ctx) : check(f.item, x, `${key}[${i}]`, ctx))));
    }
  }
}

/** DRIFTLINE_STORE__MAX_BYTES for store.maxBytes. */
export function envName(prefix: string, path: readonly string[]): string {
  return `${prefix}_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__')}`;
}

/**
 * Applies environment overrides for scalar and list keys (not inside arrays) onto a raw config
 * object, parsing each by its field's type; a value that does not parse is a problem in `ctx`.
 * Returns the names of the variables used.
 */
export function applyEnv(schema: Schema, raw: Record<string, unknown>, env: NodeJS.ProcessEnv, prefix: string, ctx: Ctx, path: string[] = []): string[] {
  const used: string[] = [];
  for (const [k, f] of Object.entries(schema)) {
    const p = [...path, k];
    if (f.kind === 'object') {
      const sub = isPlainObject(raw[k]) ? (raw[k] as Record<string, unknown>) : {};
      const u = applyEnv(f.fields, sub, env, prefix, ctx, p);
      if (u.length) raw[k] = sub;
      used.push(...u);
      continue;
    }
    if (!fromEnv(f)) continue;
    const name = envName(prefix, p);
    const s = env[name];
    if (s === undefined) continue;
    used.push(name);
    ctx.envSources?.set(p.join('.'), name);
    if (f.kind === 'number') {
      const n = Number(s);
      if (s.trim() === '' || !Number.isFinite(n)) problem(ctx, p.join('.'), s, 'a number');
      else raw[k] = n;
    } else if (f.kind === 'boolean') {
      if (!/^(true|false|1|0)$/i.test(s)) problem(ctx, p.join('.'), s, 'true or false');
      else raw[k] = /^(true|1)$/i.test(s);
    } else if (f.kind === 'list') {
      raw[k] = s.split(',').map((x) => x.trim()).filter(Boolean);
    } else raw[k] = f.kind === 'string' && f.path ? resolvePath(process.cwd(), s) : s; // a path from the environment: from the working directory
  }
  return used;
}

/** A key the environment can set: a scalar or a list, not an array of mappings or a map (applyEnv, envNames). */
function fromEnv(f: Field): boolean {
  return f.kind !== 'array' && f.kind !== 'map' && f.kind !== 'object';
}

/** Every variable applyEnv reads for `schema` (scalar and list keys, not inside arrays or maps). */
export function envNames(schema: Schema, prefix: string, path: string[] = []): string[] {
  const out: string[] = [];
  for (const [k, f] of Object.entries(schema)) {
    if (f.kind === 'object') out.push(...envNames(f.fields, prefix, [...path, k]));
    else if (fromEnv(f)) out.push(envName(prefix, [...path, k]));
  }
  return out;
}

/**
 * A variable that looks like a config override (`<prefix>_SECTION__KEY`) but names no key is refused,
 * as an unknown key in the file is: a misspelt one would otherwise be ignored without a word. Names
 * starting with one of `others` belong to another service (the collector's, beside the agent's).
 */
export function refuseUnknownEnv(schema: Schema, env: NodeJS.ProcessEnv, prefix: string, ctx: Ctx, others: readonly string[] = []): void {
  const known = envNames(schema, prefix);
  const set = new Set(known);
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(`${prefix}_`) || !name.includes('__') || set.has(name) || others.some((o) => name.startsWith(`${o}_`))) continue;
    const near = closest(name, known);
    ctx.problems.push({ key: name, value: '(set in the environment)', expected: `a variable that names a configuration key (docs/configuration.md)${near ? `: did you mean ${near}?` : ''}` });
  }
}

/** The known name nearest `name` by edit distance, when it is near enough to be a typo. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(2, Math.floor(name.length / 6)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
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
