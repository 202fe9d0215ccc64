import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROFILE_FEATURES } from '../../agent/drift/profile-schema.js';
import type { Profile } from '../../agent/drift/types.js';
import { MODEL, ROOT, cli } from '../helpers/cli.js';
import { recordOf } from '../agent/drift/record-of.js';

const SHIPPED = join(ROOT, 'models', 'line-detector.profile.json');

test('a profile compared with itself drifts nowhere; --json gives the rows', async () => {
  const r = await cli('drift', SHIPPED, SHIPPED);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^feature\s+mean A\s+mean B\s+PSI\s+JS\s+KS\s+W1\/sd$/m);
  assert.doesNotMatch(r.stdout, /warn|alert|different models/);
  const j = JSON.parse((await cli('drift', SHIPPED, SHIPPED, '--json')).stdout) as { sameModel: boolean; rows: { feature: string; psi: number; ks: number }[] };
  assert.equal(j.sameModel, true);
  assert.equal(j.rows.length, PROFILE_FEATURES.length);
  for (const row of j.rows) assert.ok(row.psi < 1e-9 && row.ks < 1e-9, JSON.stringify(row));
});

test('a file that is not a profile gets DRIFTLINE_ERR_PROFILE naming it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-drift-'));
  const notJson = join(dir, 'a.json');
  await writeFile(notJson, 'nope');
  const other = join(dir, 'b.json');
  await writeFile(other, '{"schema": "something/2"}');
  for (const [f, re] of [[notJson, /a\.json is not a Driftline profile/], [other, /b\.json is not a Driftline profile: schema is "something\/2"/]] as const) {
    const r = await cli('drift', SHIPPED, f);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /DRIFTLINE_ERR_PROFILE/);
    assert.match(r.stderr, re);
  }
  assert.equal((await cli('drift', SHIPPED)).code, 2);
});

test('malformed profiles, as A or B: exit 1 with one DRIFTLINE_ERR_PROFILE line naming the file and the field, never a stack', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-drift-bad-'));
  const text = await readFile(SHIPPED, 'utf8');
  const shipped = (): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;
  const noFeatures = shipped();
  noFeatures.features = { brightness: { edges: 'x' } };
  const cases: [name: string, content: string | undefined, reason: RegExp][] = [
    ['truncated.json', text.slice(0, 1234), /truncated JSON at position 1234/],
    ['schema-only.json', '{"schema":"driftline.profile/1"}', /it lacks createdAt, model, data, frames, features, classMix, confHist$/],
    ['not-json.json', 'nope', /not JSON: /],
    ['empty.json', '', /the file is empty$/],
    ['missing.json', undefined, /the file does not exist$/],
    ['features.json', JSON.stringify(noFeatures), /features: lacks brightnessSpread, contrast, .*, uncertain, oodDetections; features\.brightness: lacks counts, mean, std; features\.brightness\.edges: must be array$/],
  ];
  await Promise.all(
    cases.map(async ([name, content, reason], i) => {
      const file = join(dir, name);
      if (content !== undefined) await writeFile(file, content);
      const r = await (i % 2 ? cli('drift', SHIPPED, file) : cli('drift', file, SHIPPED));
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      assert.match(r.stderr, /^driftline: DRIFTLINE_ERR_PROFILE: /, name);
      assert.ok(r.stderr.startsWith(`driftline: DRIFTLINE_ERR_PROFILE: ${file} is not a Driftline profile: `), r.stderr);
      assert.match(r.stderr.trimEnd(), reason, name);
      assert.doesNotMatch(r.stderr, /unexpected error|TypeError|\n {4}at /, name);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${name}: one line`);
      assert.equal(r.stdout, '', name);
    }),
  );
});

test('a profile from before calibration still compares, with the fixed thresholds', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-drift-old-'));
  const old = JSON.parse(await readFile(SHIPPED, 'utf8')) as Record<string, unknown>;
  delete old.calibration;
  const file = join(dir, 'old.json');
  await writeFile(file, JSON.stringify(old));
  const r = await cli('drift', file, SHIPPED, '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { rows: unknown[] }).rows.length, PROFILE_FEATURES.length);
});

test('folders of 80 images: a second folder of the same distribution drifts nowhere; a 40% darker one drifts on brightness-type features only', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-folders-'));
  const make = async (name: string, seed: number, count: number, ...extra: string[]): Promise<string> => {
    const data = join(dir, name);
    assert.equal((await cli('synth', '--out', data, '--count', String(count), '--seed', String(seed), '--val', '0', ...extra)).code, 0);
    const out = `${data}.json`;
    const r = await cli('baseline', '--model', MODEL, '--data', data, '--out', out, '--providers', 'cpu');
    assert.equal(r.code, 0, r.stderr);
    return out;
  };
  const [a, b, dark, tiny] = await Promise.all([make('a', 401, 80), make('b', 402, 80), make('dark', 403, 80, '--gain', '0.6'), make('tiny', 404, 20)]);
  // Still images are independent: an 80-image reference calibrates windows up to its own size, and judges up to twice the longest.
  const windows = (JSON.parse(await readFile(a, 'utf8')) as Profile).calibration!.windows.map((w) => w.frames);
  assert.deepEqual(windows, [30, 60]);
  type Rows = { rows: { feature: string; mark: string }[] };
  const same = JSON.parse((await cli('drift', a, b, '--json')).stdout) as Rows;
  assert.deepEqual(same.rows.filter((r) => r.mark !== 'ok'), [], 'same distribution, different images: no marks');
  const shifted = JSON.parse((await cli('drift', a, dark, '--json')).stdout) as Rows;
  const marked = shifted.rows.filter((r) => r.mark !== 'ok').map((r) => r.feature);
  for (const r of shifted.rows) assert.notEqual(r.mark, 'insufficient-reference');
  for (const f of ['brightness', 'meanR', 'meanG', 'meanB']) assert.ok(marked.includes(f), `${f} is marked: ${marked.join(', ')}`);
  // Gain scales every channel alike: colour is untouched. Sharpness and entropy scale with gain; the
  // model's own confidence falls in the dark, which the detection features show.
  const allowed = new Set(['brightness', 'brightnessSpread', 'contrast', 'meanR', 'meanG', 'meanB', 'sharpness', 'entropy', 'underExposed', 'detections', 'topScore', 'meanScore', 'candidates', 'uncertain']);
  for (const f of marked) assert.ok(allowed.has(f), `${f} should not drift with gain`);
  assert.ok(!marked.includes('colourTemp') && !marked.includes('saturation'));
  // A reference of 20 images cannot judge a folder of 80: no confident marks, and the table says why.
  const small = JSON.parse((await cli('drift', tiny, dark, '--json')).stdout) as Rows;
  assert.ok(small.rows.length > 0 && small.rows.every((r) => r.mark === 'insufficient-reference'), JSON.stringify(small.rows.map((r) => r.mark)));
  const text = await cli('drift', tiny, dark);
  assert.match(text.stdout, /^note: insufficient reference: A's calibration holds windows of up to 20 frames and judges up to 40; B has 80\./m);
  assert.doesNotMatch(text.stdout, / (warn|alert)$/m);
});

test('marks: each profile judges the other, so values a small A never saw do not mark B, and a real shift still does', async () => {
  const { marks } = await import('../../cli/drift.js');
  const { compareProfiles } = await import('../../agent/drift/compare.js');
  const { calibrate } = await import('../../agent/drift/calibrate.js');
  const { ProfileBuilder } = await import('../../agent/drift/profile.js');
  const { CONF_BINS } = await import('../../agent/telemetry/detection-stats.js');
  // 80 independent images: 12 input statistics around fixed levels, 8 detection statistics, the
  // uncertain count (index 6) per image: A never holds more than 1, B does, as a same-size sample of
  // a distribution with a thin tail at 2 may.
  const folder = (seed: number, uncertain: (i: number) => number, brightness = 80): Profile => {
    let s = seed;
    const r = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
    const b = new ProfileBuilder(['washer', 'scratch']);
    const hist = new Array<number>(2 * CONF_BINS).fill(0);
    hist[18] = 3;
    for (let i = 0; i < 80; i++) {
      const fs = Array.from({ length: 12 }, (_, k) => (k === 0 ? brightness : 10 * (k + 1)) + r() * 6);
      b.add(recordOf(fs, [3, 0.9 + r() * 0.05, 0.85, 20 + Math.floor(r() * 5), 0.04, 1, uncertain(i), 0], [3, 0], hist));
    }
    const built = b.build({ file: 'm.onnx', sha256: 'x', names: ['washer', 'scratch'] }, { source: 'test', images: 80, skipped: 0 });
    return { ...built, calibration: calibrate(built, b.series(), { replicates: 400 }) };
  };
  const a = folder(1, (i) => (i % 10 === 0 ? 1 : 0));
  // B: 11 images with 1 and 3 with 2 (A: 8 with 1). B's edges put 1 and 2 in one bin, [1, 2].
  const b = folder(2, (i) => (i % 10 === 0 || [5, 25, 45].includes(i) ? 1 : [15, 35, 55].includes(i) ? 2 : 0));
  // A alone would call B's uncertain counts alert: they lie past anything A holds.
  const forward = marks({ ...a }, { ...b, calibration: undefined } as Profile, compareProfiles(a, b));
  assert.equal(forward.get('uncertain'), 'alert', JSON.stringify([...forward]));
  // B's calibration has seen 2 and finds A unremarkable: no mark.
  assert.equal(marks(a, b, compareProfiles(a, b)).get('uncertain'), undefined);
  // A darker B is past each one's range from the other: still marked.
  const dark = folder(3, (i) => (i % 10 === 0 ? 1 : 0), 48);
  assert.equal(marks(a, dark, compareProfiles(a, dark)).get('brightness'), 'alert');
});
