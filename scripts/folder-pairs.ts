/**
 * The "two same-distribution folders" check (issue 12): how often `driftline drift A B` marks a
 * feature when A and B are two folders of stills from one distribution, and whether it marks the
 * lighting when B is 40% darker.
 *
 * For each size N (80, 200, 1000) and each of `--pairs` (20) seed pairs: two folders of N stills of
 * the synthetic line under nominal conditions, written by the dataset writer `driftline synth` uses
 * (agent/synth/dataset.ts; every image in images/train, so the profile counts all N), a profile of
 * each made by `driftline baseline --data DIR` itself (cli/baseline.ts run(), in this process, its
 * stdout and stderr held back), and B compared against A as `driftline drift A B` does
 * (compareProfiles + marks from cli/drift.ts). Per size, one more pair: B's scenes again at gain 0.6.
 *
 * Folders are cached under .tmp/folder-pairs/images/ and profiles under
 * .tmp/folder-pairs/profiles/<model sha256>/, so a re-run only compares. A profile is made again when the sources that make one (cli/baseline.ts, the
 * calibration and scoring, the per-frame statistics, the detector) have changed since it was made;
 * `--reuse-profiles` keeps the cached ones anyway, `--rebaseline` rebuilds them all.
 *
 * Usage: node --import tsx scripts/folder-pairs.ts [--sizes 80,200,1000] [--pairs 20]
 *          [--size 320x240] [--model models/line-detector.onnx] [--json out.json]
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compareProfiles } from '../agent/drift/compare.js';
import { readProfile } from '../agent/drift/profile.js';
import { conditionSpec } from '../agent/synth/conditions.js';
import { writeDataset } from '../agent/synth/dataset.js';
import { run as baseline } from '../cli/baseline.js';
import { marks } from '../agent/drift/profile-marks.js';
import { FEATURE_FAMILIES } from '../protocol/families.js';
import { sourcesHash } from './lib/sources-hash.js';
import { stderrLog } from './lib/stderr-log.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The sources a profile depends on, besides the images: a change means the cached profile is stale. */
const BASELINE_SOURCES = [
  'cli/baseline.ts',
  'agent/drift/calibrate.ts',
  'agent/drift/profile.ts',
  'agent/drift/profile-schema.ts',
  'agent/drift/scores.ts',
  'agent/drift/metrics.ts',
  'protocol/features.ts',
  'agent/drift/tail.ts',
  'agent/drift/types.ts',
  'agent/telemetry',
  'agent/infer',
  'agent/preprocess',
  'agent/pipeline/sequence.ts',
  'agent/source/image-dir.ts',
];
const ILLUMINATION: readonly string[] = FEATURE_FAMILIES.illumination;
const DARK_GAIN = 0.6;

const { log, elapsed } = stderrLog('folder-pairs');

const { values: opt } = parseArgs({
  options: {
    sizes: { type: 'string', default: '80,200,1000' },
    pairs: { type: 'string', default: '20' },
    size: { type: 'string', default: '320x240' },
    model: { type: 'string', default: 'models/line-detector.onnx' },
    'reuse-profiles': { type: 'boolean', default: false },
    rebaseline: { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opt.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]!.replace(/^\/\*\*\n/, '').replace(/^ \* ?/gm, ''));
  process.exit(0);
}
const sizes = opt.sizes.split(',').map(Number);
const pairs = Number(opt.pairs);
const [width, height] = opt.size.split('x').map(Number) as [number, number];
const modelPath = opt.model;
if (sizes.some((n) => !Number.isInteger(n) || n < 2) || !Number.isInteger(pairs) || pairs < 1 || !(width >= 32) || !(height >= 32)) throw new Error('bad --sizes, --pairs or --size');

const sha256 = createHash('sha256').update(await readFile(modelPath)).digest('hex');
/** Rendered folders do not depend on the model; profiles do (and on the sources that make them). */
const IMAGES = join(ROOT, '.tmp', 'folder-pairs', 'images', `${width}x${height}`);
const PROFILES = join(ROOT, '.tmp', 'folder-pairs', 'profiles', sha256.slice(0, 16), `${width}x${height}`);
const baselineHash = sourcesHash(ROOT, BASELINE_SOURCES);

/** Runs `fn` with process.stdout and stderr held back; what they got is returned with its result. */
async function quietly<T>(fn: () => Promise<T>): Promise<{ result: T; output: string }> {
  const out = process.stdout.write;
  const err = process.stderr.write;
  let output = '';
  const hold = ((chunk: string | Uint8Array) => {
    output += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = hold;
  process.stderr.write = hold;
  try {
    return { result: await fn(), output };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** A rendered folder of `count` nominal stills (gain overridden for the dark one), cached. */
async function folder(count: number, seed: number, gain?: number): Promise<string> {
  const dir = join(IMAGES, `n${count}`, `seed${seed}${gain === undefined ? '' : `-gain${gain}`}`);
  if (existsSync(join(dir, 'manifest.jsonl'))) return dir;
  await rm(`${dir}.part`, { recursive: true, force: true });
  await writeDataset({
    out: `${dir}.part`,
    count,
    seed,
    width,
    height,
    valFraction: 0,
    conditions: conditionSpec(gain === undefined ? {} : { gain }),
  });
  await rename(`${dir}.part`, dir);
  return dir;
}

let built = 0;
/** The folder's profile as `driftline baseline --data DIR` writes it, cached beside the folder. */
async function profileOf(dir: string): Promise<string> {
  const base = join(PROFILES, relative(IMAGES, dir));
  const file = `${base}.profile.json`;
  const stamp = `${base}.profile.sources`;
  await mkdir(dirname(file), { recursive: true });
  // A profile of another model (the file was replaced during a run) is never reused.
  if (existsSync(file) && !opt.rebaseline && (await readProfile(file)).model.sha256 === sha256) {
    const was = existsSync(stamp) ? (await readFile(stamp, 'utf8')).trim() : '';
    if (was === baselineHash || opt['reuse-profiles']) return file;
  }
  const { result, output } = await quietly(() => baseline(['--model', modelPath, '--data', dir, '--out', `${file}.part`, '--providers', 'cpu', '--describe', 'scripts/folder-pairs.ts']));
  if (result !== 0) throw new Error(`driftline baseline --data ${dir} exited ${result}:\n${output}`);
  const made = (await readProfile(`${file}.part`)).model.sha256;
  if (made !== sha256) throw new Error(`${modelPath} changed during the run (sha256 ${sha256.slice(0, 12)} at the start, ${made.slice(0, 12)} now); run again`);
  await rename(`${file}.part`, file);
  await writeFile(stamp, baselineHash + '\n');
  built++;
  return file;
}

interface Comparison {
  readonly size: number;
  readonly seedA: number;
  readonly seedB: number;
  readonly gainB: number;
  /** Feature -> mark, as marks() gives it (warn, alert, or another level such as insufficient-reference). */
  readonly marks: Record<string, string>;
}

async function compare(size: number, seedA: number, seedB: number, gainB?: number): Promise<Comparison> {
  const [fa, fb] = [await profileOf(await folder(size, seedA)), await profileOf(await folder(size, seedB, gainB))];
  const [a, b] = await Promise.all([readProfile(fa), readProfile(fb)]);
  const m = marks(a, b, compareProfiles(a, b));
  return { size, seedA, seedB, gainB: gainB ?? 1, marks: Object.fromEntries(m) };
}

/** Seeds of pair p at size n: disjoint across sizes and pairs, and from the shipped profile's 7001-7008. */
const seedsOf = (n: number, p: number): [number, number] => [100_000 + n * 100 + 2 * p, 100_000 + n * 100 + 2 * p + 1];

const results: Comparison[] = [];
const dark: Comparison[] = [];
for (const n of sizes) {
  for (let p = 0; p < pairs; p++) {
    const [a, b] = seedsOf(n, p);
    const c = await compare(n, a, b);
    results.push(c);
    const ms = Object.entries(c.marks);
    log(`N=${n} pair ${p + 1}/${pairs} (seeds ${a}/${b}): ${ms.length ? ms.map(([f, l]) => `${f} ${l}`).join(', ') : 'no marks'}`);
  }
  const [a, b] = seedsOf(n, 0);
  const d = await compare(n, a, b, DARK_GAIN);
  dark.push(d);
  log(`N=${n} dark pair (seeds ${a}/${b}, B at gain ${DARK_GAIN}): ${Object.entries(d.marks).map(([f, l]) => `${f} ${l}`).join(', ') || 'no marks'}`);
}

const out = process.stdout;
out.write('## Two folders from one distribution: `driftline drift A B`\n\n');
out.write(
  `Synthetic line stills, nominal conditions, ${width}x${height}; model sha256 ${sha256.slice(0, 12)}; ${pairs} seed pairs per size; ` +
    `profiles by \`driftline baseline --data DIR\` (calibrated), marks as \`driftline drift A B\` prints them ` +
    `(A's calibration judging B as one window of its length: warn at a 1% and alert at a 0.1% chance per comparison).\n\n`,
);
out.write(`Profiles made by sources hash ${baselineHash}; compared by sources hash ${sourcesHash(ROOT, ['agent/drift', 'cli/drift.ts'])} (agent/drift, cli/drift.ts), at ${new Date().toISOString()}.\n\n`);
out.write('| images per folder | pairs | pairs with an alert mark | pairs with a warn mark (no alert) | pairs with any mark | pairs not judged | features marked warn or alert (pairs; of which alert) |\n| ---: | ---: | ---: | ---: | ---: | ---: | --- |\n');
for (const n of sizes) {
  const rs = results.filter((r) => r.size === n);
  const alert = rs.filter((r) => Object.values(r.marks).includes('alert')).length;
  const warn = rs.filter((r) => !Object.values(r.marks).includes('alert') && Object.values(r.marks).includes('warn')).length;
  const any = rs.filter((r) => Object.values(r.marks).some((l) => l === 'warn' || l === 'alert')).length;
  const other = rs.filter((r) => Object.values(r.marks).some((l) => l !== 'warn' && l !== 'alert'));
  const otherLevels = [...new Set(other.flatMap((r) => Object.values(r.marks).filter((l) => l !== 'warn' && l !== 'alert')))];
  const feats = new Map<string, { pairs: number; alert: number }>();
  for (const r of rs) {
    for (const [f, l] of Object.entries(r.marks)) {
      if (l !== 'warn' && l !== 'alert') continue;
      const x = feats.get(f) ?? { pairs: 0, alert: 0 };
      x.pairs++;
      if (l === 'alert') x.alert++;
      feats.set(f, x);
    }
  }
  const list = [...feats.entries()].sort((x, y) => y[1].pairs - x[1].pairs).map(([f, x]) => `${f} ${x.pairs} (${x.alert})`).join(', ');
  out.write(`| ${n} | ${rs.length} | ${alert} | ${warn} | ${any} | ${other.length ? `${other.length} (${otherLevels.join(', ')})` : '0'} | ${list || '—'} |\n`);
}
out.write(`\nB ${Math.round((1 - DARK_GAIN) * 100)}% darker (gain ${DARK_GAIN}; same scenes as pair 1's B):\n\n`);
out.write('| images per folder | illumination features marked | not marked | other features marked |\n| ---: | --- | --- | --- |\n');
for (const d of dark) {
  const ill = ILLUMINATION.filter((f) => d.marks[f]).map((f) => `${f} ${d.marks[f]}`);
  const missed = ILLUMINATION.filter((f) => !d.marks[f]);
  const other = Object.entries(d.marks).filter(([f]) => !ILLUMINATION.includes(f)).map(([f, l]) => `${f} ${l}`);
  out.write(`| ${d.size} | ${ill.join(', ') || '**none**'} | ${missed.join(', ') || '—'} | ${other.join(', ') || '—'} |\n`);
}
out.write(`\nElapsed: ${elapsed()} (${built} profiles built this run).\n`);
if (opt.json) {
  await mkdir(join(opt.json, '..'), { recursive: true });
  await writeFile(opt.json, JSON.stringify({ model: modelPath, sha256, width, height, sizes, pairs, results, dark }, null, 1) + '\n');
  log(`wrote ${opt.json}`);
}
log(`done in ${elapsed()}`);
