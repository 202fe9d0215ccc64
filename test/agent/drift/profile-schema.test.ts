/**
 * Profile validation (agent/drift/profile-schema.ts through readProfile): every profile the code
 * writes loads, and every malformed one (truncated, hand-edited, fuzzed) fails with
 * DRIFTLINE_ERR_PROFILE naming the field, never a TypeError from the code that reads it later.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { calibrate } from '../../../agent/drift/calibrate.js';
import { CameraDrift } from '../../../agent/drift/camera-drift.js';
import { compareProfiles } from '../../../agent/drift/compare.js';
import { Judge } from '../../../agent/drift/judge.js';
import { PROFILE_FEATURES, PROFILE_JSON_SCHEMA } from '../../../agent/drift/profile-schema.js';
import { ProfileBuilder, readProfile } from '../../../agent/drift/profile.js';
import type { Profile } from '../../../agent/drift/types.js';
import { ScoringReference } from '../../../agent/drift/scores.js';
import { fitDetectionOod } from '../../../agent/ood/detection-ood.js';
import { CONF_BINS } from '../../../agent/telemetry/detection-stats.js';
import { FRAME_FEATURES } from '../../../agent/telemetry/frame-stats.js';
import { isDriftlineError } from '../../../lib/errors.js';
import { marks } from '../../../agent/drift/profile-marks.js';
import { ROOT } from '../../helpers/cli.js';
import { recordOf } from './record-of.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const SHIPPED_FILE = join(ROOT, 'models', 'line-detector.profile.json');
const SHIPPED_TEXT = await readFile(SHIPPED_FILE, 'utf8');
const shipped = (): { [key: string]: Json } => JSON.parse(SHIPPED_TEXT) as { [key: string]: Json };
const dir = await mkdtemp(join(tmpdir(), 'driftline-profile-schema-'));
let written = 0;

async function write(content: string | Json): Promise<string> {
  const file = join(dir, `p${written++}.json`);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** Loads `content` as a profile: the profile, or the DRIFTLINE_ERR_PROFILE reason; anything else fails the test. */
async function load(content: string | Json): Promise<Profile | string> {
  const file = await write(content);
  try {
    return await readProfile(file);
  } catch (e) {
    assert.ok(isDriftlineError(e, 'DRIFTLINE_ERR_PROFILE'), `not a DRIFTLINE_ERR_PROFILE: ${(e as Error).stack}`);
    assert.ok(e.message.startsWith(`${file} is not a Driftline profile: `), e.message);
    return String(e.details.reason);
  }
}

async function rejects(content: string | Json, reason: RegExp): Promise<void> {
  const r = await load(content);
  assert.equal(typeof r, 'string', `loaded, expected ${reason}`);
  assert.match(r as string, reason);
}

type Obj = Record<string, unknown>;
const DELETE = Symbol('delete');
const at = (c: Obj | unknown[], k: string | number): unknown => (Array.isArray(c) ? c[Number(k)] : c[k]);

/**
 * The shipped profile with changes: each a dotted path (array indices as numbers) and its new value,
 * a function of the old value, or DELETE.
 */
function edited(...changes: [path: string, to: unknown][]): Json {
  const p = shipped();
  for (const [path, to] of changes) {
    const keys = path.split('.');
    const parent = keys.slice(0, -1).reduce<unknown>((o, k) => at(o as Obj, k), p) as Obj;
    const last = keys.at(-1)!;
    if (to === DELETE) delete parent[last];
    else parent[last] = typeof to === 'function' ? (to as (old: unknown) => unknown)(parent[last]) : to;
  }
  return p;
}
const reversed = (v: unknown): unknown[] => [...(v as unknown[])].reverse();
const shortened = (v: unknown): unknown[] => (v as unknown[]).slice(0, -1);

/** A small profile built and calibrated the way `driftline baseline` does it. */
function freshProfile(): Profile {
  const names = ['washer', 'scratch'];
  const b = new ProfileBuilder(names);
  let s = 7;
  const r = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const hist = new Array<number>(names.length * CONF_BINS).fill(0);
  for (let i = 0; i < 400; i++) {
    hist[15] = 1 + (i % 3);
    b.add(recordOf(Array.from({ length: FRAME_FEATURES.length }, (_, k) => 50 + k + r() * 10), [3, 0.9, 0.8, 10, 0.05, 1.5, 0, 0].map((v) => v + r() * 0.1), [3, i % 7 === 0 ? 1 : 0], hist));
  }
  // A detection-level OOD reference, fitted as baseline fits one, and the frames' counts over it.
  const samples = Array.from({ length: 300 }, (_, i) => ({ classIndex: i % 2, vector: [r(), r() + (i % 2), r() * 2] }));
  const detectionOod = fitDetectionOod(samples, { features: { embeddingDim: 3, appearance: false }, classes: names.length });
  b.setFeature('oodDetections', Array.from({ length: 400 }, (_, i) => (i % 50 === 0 ? 1 : 0)));
  const built = b.build({ file: 'm.onnx', sha256: 'ab'.repeat(32), names }, { source: 'test', description: 'fresh', images: 400, skipped: 0 });
  return { ...built, calibration: calibrate(built, b.series(), { windows: [30, 60], replicates: 50 }), detectionOod };
}

interface SchemaNode {
  readonly properties?: Record<string, SchemaNode>;
  readonly additionalProperties?: SchemaNode;
  readonly items?: SchemaNode;
}

/** Paths in `value` that the schema does not describe (a field the writer added and the schema missed). */
function undescribed(schema: SchemaNode, value: unknown, path: string): string[] {
  const items = schema.items;
  if (Array.isArray(value)) return items ? value.flatMap((v, i) => undescribed(items, v, `${path}[${i}]`)) : [];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const sub = schema.properties?.[k] ?? schema.additionalProperties;
    return sub ? undescribed(sub, v, `${path}.${k}`) : [`${path}.${k}`];
  });
}

test('the shipped profile and a freshly built one load; the schema describes every field the builder writes', async () => {
  const fresh = freshProfile();
  for (const p of [shipped(), fresh as unknown as Json]) {
    const loaded = await load(p);
    assert.equal(typeof loaded, 'object', String(loaded));
    assert.deepEqual(undescribed(PROFILE_JSON_SCHEMA as SchemaNode, p, '(root)'), []);
  }
  const { calibration: _, ...old } = fresh;
  assert.equal(typeof (await load(old as unknown as Json)), 'object', 'a profile from before calibration loads (fixed thresholds)');
  assert.equal(typeof (await load(edited(['future', { extra: [1, 2] }]))), 'object', 'unknown extra keys are allowed within v1');
});

test('deleting any field the code reads is rejected, naming it', async () => {
  const read = ['createdAt', 'model', 'model.sha256', 'model.names', 'data', 'data.source', 'frames', 'features', 'classMix', 'confHist', 'calibration.support', 'calibration.windows', 'calibration.windows.0.frames', 'calibration.windows.0.moments'];
  // oodDetections is filled in for a profile from before it (next test) unless the profile has a detectionOod.
  for (const f of PROFILE_FEATURES) if (f !== 'oodDetections') read.push(`features.${f}`);
  for (const k of ['edges', 'counts', 'mean', 'std']) read.push(`features.brightness.${k}`);
  for (const path of read) {
    const named = path.replace(/\.(\d+)/g, '[$1]');
    await rejects(edited([path, DELETE]), new RegExp(`^${named.replace(/[.[\]]/g, '\\$&')}: is missing`));
  }
});

test('a truncated profile is rejected as truncated JSON at every offset', async () => {
  const end = SHIPPED_TEXT.trimEnd().length;
  for (let i = 0; i < 40; i++) {
    const at = Math.floor((i * end) / 40) + (i % 7);
    await rejects(SHIPPED_TEXT.slice(0, at), at === 0 ? /^the file is empty$/ : new RegExp(`^truncated JSON at position ${at}: the file ends inside a value$`));
  }
});

test('detectionOod: a fitted reference loads; a malformed one is DRIFTLINE_ERR_PROFILE naming the field; a profile from before it gets oodDetections = 0', async () => {
  const fresh = freshProfile() as unknown as { [key: string]: Json };
  const loaded = await load(fresh);
  assert.equal(typeof loaded, 'object', String(loaded));
  assert.deepEqual((loaded as Profile).detectionOod?.quantiles, (fresh.detectionOod as { quantiles: Json }).quantiles);
  const change = (path: string, to: unknown): Json => {
    const p = JSON.parse(JSON.stringify(fresh)) as Obj;
    const keys = path.split('.');
    const parent = keys.slice(0, -1).reduce<unknown>((o, k) => at(o as Obj, k), p) as Obj;
    if (to === DELETE) delete parent[keys.at(-1)!];
    else parent[keys.at(-1)!] = typeof to === 'function' ? (to as (old: unknown) => unknown)(parent[keys.at(-1)!]) : to;
    return p as Json;
  };
  const cases: [Json, RegExp][] = [
    [change('detectionOod', 'x'), /^detectionOod: must be object$/],
    [change('detectionOod.schema', 'driftline.detection-ood/2'), /^detectionOod\.schema: must be equal to constant$/],
    [change('detectionOod.quantiles.p99', DELETE), /^detectionOod\.quantiles\.p99: is missing$/],
    [change('detectionOod.whitener', shortened), /^detectionOod\.whitener: must have 6 entries \(the lower triangle/],
    [change('detectionOod.mean', shortened), /^detectionOod\.mean: must have 3 entries \(one per feature\), not 2$/],
    [change('detectionOod.scale.0', 0), /^detectionOod\.scale\[0\]: must be > 0$/],
    [change('detectionOod.classes', 3), /^detectionOod\.classes: is 3, but model\.names lists 2 classes/],
    [change('detectionOod.classMeans.1', [1]), /^detectionOod\.classMeans\[1\]: must have 3 entries/],
    [change('detectionOod.features.appearance', 'yes'), /^detectionOod\.features\.appearance: must be boolean$/],
    [change('detectionOod.shrinkage', 2), /^detectionOod\.shrinkage: must be <= 1$/],
    [change('features.oodDetections', DELETE), /^features\.oodDetections: is missing$/],
  ];
  for (const [content, reason] of cases) await rejects(content, reason);
  // Before detection-level OOD a profile had neither: no detection was scored against it, the feature was 0 throughout.
  const { detectionOod: _, ...before } = fresh;
  delete (before.features as Obj).oodDetections;
  const old = await load(before);
  assert.equal(typeof old, 'object', String(old));
  assert.deepEqual((old as Profile).features.oodDetections, { edges: [0, 0], counts: [0, 400, 0], mean: 0, std: 0 });
});

test('malformed profiles: each gets DRIFTLINE_ERR_PROFILE with the path of what is wrong', async () => {
  const cases: [string | Json, RegExp][] = [
    ['', /^the file is empty$/],
    ['nope', /^not JSON: /],
    ['{"schema": "driftline.profile/1",}', /^not JSON: /],
    [{}, /^schema is missing; expected "driftline\.profile\/1"$/],
    [[], /^it is an array, not a JSON object$/],
    [null, /^it is null, not a JSON object$/],
    [42, /^it is a number, not a JSON object$/],
    [{ schema: 'driftline.profile/1' }, /^it lacks createdAt, model, data, frames, features, classMix, confHist$/],
    [{ schema: 'driftline.profile/2' }, /^schema is "driftline\.profile\/2", expected "driftline\.profile\/1"$/],
    [edited(['schema', 1]), /^schema is 1, expected/],
    [edited(['features.brightness.edges', 'x']), /^features\.brightness\.edges: must be array$/],
    [edited(['features.brightness.edges', [1]]), /^features\.brightness\.edges: must NOT have fewer than 2 items/],
    [edited(['features.brightness.edges', reversed]), /^features\.brightness\.edges: must not decrease/],
    [edited(['features.contrast.counts', shortened]), /^features\.contrast\.counts: must have one count per bin, edges\.length \+ 1 = 18, not 17$/],
    [edited(['features.meanR.counts.2', 'NaN']), /^features\.meanR\.counts\[2\]: must be number$/],
    [edited(['features.meanR.counts.2', -1]), /^features\.meanR\.counts\[2\]: must be >= 0$/],
    [edited(['features.meanR.mean', null]), /^features\.meanR\.mean: must be number$/],
    [edited(['features.meanR.std', 'Infinity']), /^features\.meanR\.std: must be number$/],
    [edited(['features', []]), /^features: must be object$/],
    [edited(['features.topScore', DELETE], ['features.uncertain', DELETE]), /^features: lacks topScore, uncertain$/],
    [edited(['calibration', {}]), /^calibration: lacks method, referenceFrames, replicates, correlationFrames, blockFrames, oodMargin, support, windows$/],
    [edited(['calibration', null]), /^calibration: must be object$/],
    [edited(['calibration.windows', reversed]), /^calibration\.windows\[1\]\.frames: window lengths must increase/],
    [edited(['calibration.windows.0.moments.psi:brightness', [1, 2]]), /^calibration\.windows\[0\]\.moments\.psi:brightness: must NOT have fewer than 4 items$/],
    [edited(['calibration.support.brightness', reversed]), /^calibration\.support\.brightness: the low end/],
    [edited(['confHist.washer', 'x']), /^confHist\.washer: must be array$/],
    [edited(['confHist.washer', shortened]), /^confHist\.washer: must NOT have fewer than 20 items$/],
    [edited(['confHist.bracket.0', true]), /^confHist\.bracket\[0\]: must be number$/],
    [edited(['classMix.washer', 'many']), /^classMix\.washer: must be number$/],
    [edited(['classMix.scratch', DELETE]), /^classMix\.scratch: is missing \(model\.names lists the class\)$/],
    [edited(['model.sha256', 42]), /^model\.sha256: must be string$/],
    [edited(['model.sha256', 'abc']), /^model\.sha256: must match pattern/],
    [edited(['model.names', []]), /^model\.names: must NOT have fewer than 1 items$/],
    [edited(['frames', -1]), /^frames: must be >= 0$/],
    [edited(['data.source', {}]), /^data\.source: must be string$/],
    [edited(['weird/key', 1], ['features.a/b~c', {}]), /^features\.a\/b~c: lacks edges, counts, mean, std$/],
    [edited(['features.brightness.counts', (v: unknown) => (v as number[]).map(String)]), /^features\.brightness\.counts\[0\]: must be number; features\.brightness\.counts\[1\]: must be number; features\.brightness\.counts\[2\]: must be number \(and 15 more\)$/],
  ];
  for (const [content, reason] of cases) await rejects(content, reason);
  await assert.rejects(readProfile(join(dir, 'missing.json')), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_PROFILE') && /the file does not exist$/.test(e.message));
  await mkdir(join(dir, 'folder.json'));
  await assert.rejects(readProfile(join(dir, 'folder.json')), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_PROFILE') && /it is a folder, not a file$/.test(e.message));
});

test('deeply nested garbage is rejected (or ignored where unknown keys may be), never a stack overflow', async () => {
  const deep = (n: number, open: string, close: string, inner = '0'): string => open.repeat(n) + inner + close.repeat(n);
  await rejects(deep(100_000, '[', ']'), /^it is an array/);
  await rejects(deep(100_000, '{"a":', '}'), /^schema is missing/);
  await rejects(`{"schema": ${deep(100_000, '[', ']')}}`, /^schema is an array, expected "driftline\.profile\/1"$/);
  await rejects(`{"schema": "${'x'.repeat(10_000)}"}`, /^schema is "x{64}…", expected/);
  const text = SHIPPED_TEXT.trimEnd();
  const withEdges = (v: string): string => text.replace(/"edges": \[[^\]]*\]/, `"edges": ${v}`);
  await rejects(withEdges(deep(10_000, '[', ']')), /^features\.brightness\.edges: must NOT have fewer than 2 items; features\.brightness\.edges\[0\]: must be number$/);
  await rejects(withEdges(deep(10_000, '{"edges":', '}')), /^features\.brightness\.edges: must be array$/);
  const loaded = await load(`${text.slice(0, -1)}, "future": ${deep(10_000, '{"x":[', ']}')}}`);
  assert.equal(typeof loaded, 'object', String(loaded));
});

/** mulberry32: a seeded generator, so a failing fuzz case can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALUES: Json[] = [null, true, false, 0, -1, 0.5, 1e308, -1e-9, 2 ** 53, '', 'x', 'NaN', '1', [], {}, [0, 'a'], [1, 2, 3, 4], { a: { b: [] } }, [[[[]]]]];

/** One random change somewhere in `p`: delete a key, replace a value, truncate an array, or move a number. */
function mutate(p: { [key: string]: Json }, r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  let parent: Obj | unknown[] = p;
  let key: string | number = pick(Object.keys(p));
  let path = key;
  for (let node = at(parent, key); typeof node === 'object' && node !== null && r() > 0.1; node = at(parent, key)) {
    const c = node as Obj | unknown[];
    const keys: (string | number)[] = Array.isArray(c) ? c.map((_, i) => i) : Object.keys(c);
    if (keys.length === 0) break;
    parent = c;
    key = pick(keys);
    path += `.${key}`;
  }
  const op = Math.floor(r() * 4);
  const value = at(parent, key);
  if (op === 3 && typeof value === 'number') {
    const v = pick([0, 1e-300, 1e300, value * 2, value / 3, value + 1, Math.round(value)]);
    if (Array.isArray(parent)) parent[Number(key)] = v;
    else parent[key] = v;
    return `move ${path} from ${value} to ${v}`;
  }
  if (op === 2 && Array.isArray(value)) {
    value.length = Math.floor(r() * value.length);
    return `truncate ${path} to ${value.length}`;
  }
  if (op === 0) {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
    return `delete ${path}`;
  }
  const v = structuredClone(pick(VALUES));
  if (Array.isArray(parent)) parent[Number(key)] = v;
  else parent[key] = v;
  return `set ${path} = ${JSON.stringify(v)}`;
}

/** What `drift A B` and the agent do with a loaded profile; none of it may throw. */
function use(p: Profile, other: Profile): void {
  for (const [a, b] of [[p, other], [other, p]] as const) marks(a, b, compareProfiles(a, b));
  const calibrated = (p.calibration?.windows.length ?? 0) > 0;
  const judge = new Judge(new ScoringReference(p), p.calibration, { windowSeconds: 60, thresholds: calibrated ? 'calibrated' : 'fixed' });
  const camera = new CameraDrift(judge, p.calibration);
  const nc = p.model.names.length;
  const frame = PROFILE_FEATURES.map((f) => p.features[f]!.mean);
  for (let i = 0; i < 40; i++) camera.add(recordOf(frame.slice(0, FRAME_FEATURES.length), frame.slice(FRAME_FEATURES.length), new Array<number>(nc).fill(1), new Array<number>(nc * CONF_BINS).fill(1)));
  camera.close();
}

test('fuzz: 300 seeded mutations of the shipped profile either load and work, or fail with DRIFTLINE_ERR_PROFILE', async () => {
  const r = random(20251);
  const reference = (await readProfile(SHIPPED_FILE)) as Profile;
  let loaded = 0;
  for (let i = 0; i < 300; i++) {
    const p = shipped();
    const changes = Array.from({ length: 1 + Math.floor(r() * 2) }, () => mutate(p, r));
    const result = await load(p);
    if (typeof result === 'string') continue;
    loaded++;
    try {
      use(result, reference);
    } catch (e) {
      assert.fail(`case ${i} (${changes.join('; ')}) loaded but then threw: ${(e as Error).stack}`);
    }
  }
  assert.ok(loaded >= 30 && loaded <= 270, `${loaded} of 300 mutants loaded: the fuzz reaches both outcomes`);
});
