/**
 * Per-window false-alarm rates of the agent's drift judging on long stable runs (issue 12).
 *
 * 1. Render: long nominal runs of the synthetic line camera, with seeds that are not in the shipped
 *    profile (it used 7001-7008), through the real ONNX model and the agent's per-frame telemetry
 *    (runSequence: FrameStats + DetectionStats, as `driftline baseline --synthetic` does). Each run's
 *    per-frame series (every PROFILE_FEATURES value, class counts, confidence histograms: what
 *    CameraDrift.add takes) is cached under .tmp/false-alarms/, keyed by the model's sha256, the seed,
 *    the frame count, the size and the operating point, so a re-run re-windows the same frames
 *    without rendering them. Detections are kept at the operating point the profile records
 *    (`baseline --class-conf/--agnostic/--class-priority`: the thresholds and suppression its counts
 *    were taken at, as the agent must run with them); a profile without one: conf 0.25, class-aware.
 * 2. Re-window: for each window length L and seed, `--windows` (default 2000) contiguous windows at
 *    evenly spaced (sliding) start offsets, each fed frame by frame through a fresh CameraDrift with
 *    the shipped profile and a Judge set as the agent sets it (windowSeconds = L / fps, warn every
 *    24 h, alert every 168 h). A window counts as flagged from its per-window drivers only; the
 *    sequential CUSUM detectors are measured apart, with one CameraDrift per (L, seed) fed the run
 *    as consecutive disjoint windows, as the agent does.
 *
 * Sliding rather than random starts: the same information (windows of one run overlap either way),
 * but each frame lies in about the same number of windows, there is no sampling noise on top, and
 * the windows are the same on every re-run. Overlapping windows are not independent: the bounds
 * below use the disjoint-window count frames/L of each run as the number of independent trials.
 *
 * Usage: node --import tsx scripts/false-alarms.ts [--seeds 9101,9102,9103,9104] [--frames 30000]
 *          [--windows 2000] [--lengths 60,120,300,600] [--fps 10] [--size 320x240]
 *          [--model models/line-detector.onnx] [--profile models/line-detector.profile.json]
 *          [--rerender] [--json out.json]
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CameraDrift } from '../agent/drift/camera-drift.js';
import { Judge } from '../agent/drift/judge.js';
import { countedAt, DEFAULT_OPERATING_POINT, pointOptions, readProfile } from '../agent/drift/profile.js';
import { PROFILE_FEATURES } from '../agent/drift/profile-schema.js';
import type { Profile } from '../agent/drift/types.js';
import { ScoringReference } from '../agent/drift/scores.js';
import { Detector } from '../agent/infer/detector.js';
import { loadModel } from '../agent/infer/model.js';
import { runSequence } from '../agent/pipeline/sequence.js';
import { recordOver } from '../agent/telemetry/frame-record.js';
import type { RawFrame } from '../agent/preprocess/letterbox.js';
import { LineCamera } from '../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../agent/synth/conditions.js';
import { CONF_BINS } from '../agent/telemetry/detection-stats.js';
import { FRAME_FEATURES } from '../agent/telemetry/frame-stats.js';
import { binomialUpper } from './lib/binomial.js';
import { sourcesHash } from './lib/sources-hash.js';
import { stderrLog } from './lib/stderr-log.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(ROOT, '.tmp', 'false-alarms');
const FORMAT = 1;
/** The sources that make a frame's series: a change here means the cache holds other frames. */
const PRODUCERS = ['agent/synth', 'agent/telemetry', 'agent/preprocess', 'agent/infer', 'agent/pipeline/sequence.ts'];

const { log, elapsed } = stderrLog('false-alarms');

// ---------------------------------------------------------------------------------------------
// Options

const { values: opt } = parseArgs({
  options: {
    seeds: { type: 'string', default: '9101,9102,9103,9104' },
    frames: { type: 'string', default: '30000' },
    windows: { type: 'string', default: '2000' },
    lengths: { type: 'string', default: '60,120,300,600' },
    fps: { type: 'string', default: '10' },
    size: { type: 'string', default: '320x240' },
    model: { type: 'string', default: 'models/line-detector.onnx' },
    profile: { type: 'string', default: '' },
    'warn-every-hours': { type: 'string', default: '24' },
    'alert-every-hours': { type: 'string', default: '168' },
    rerender: { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opt.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]!.replace(/^\/\*\*\n/, '').replace(/^ \* ?/gm, ''));
  process.exit(0);
}
const ints = (s: string): number[] => s.split(',').map((x) => {
  const n = Number(x);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a whole number: ${x}`);
  return n;
});
const seeds = ints(opt.seeds);
const frames = ints(opt.frames)[0]!;
const windowsWanted = ints(opt.windows)[0]!;
const lengths = ints(opt.lengths).sort((a, b) => a - b);
const fps = Number(opt.fps);
const [width, height] = opt.size.split('x').map(Number) as [number, number];
const modelPath = opt.model;
const profilePath = opt.profile || modelPath.replace(/\.onnx$/i, '') + '.profile.json';
const profile = await readProfile(profilePath);
const warnEveryHours = Number(opt['warn-every-hours']);
const alertEveryHours = Number(opt['alert-every-hours']);
if (!(fps > 0) || !(width > 0) || !(height > 0) || !(warnEveryHours > 0) || !(alertEveryHours > 0)) throw new Error('bad --fps, --size or --*-every-hours');

// ---------------------------------------------------------------------------------------------
// Per-frame series, rendered once and cached

const NF = FRAME_FEATURES.length;
const P = PROFILE_FEATURES.length;

interface SeriesHeader {
  readonly format: number;
  readonly sha256: string;
  readonly seed: number;
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly features: readonly string[];
  readonly classes: number;
  readonly confBins: number;
  readonly sources: string;
  readonly renderSeconds: number;
}

interface Series {
  readonly header: SeriesHeader;
  /** frames x P: PROFILE_FEATURES values (frame features, then detection features). */
  readonly values: Float64Array;
  /** frames x (classes + classes x CONF_BINS): kept detections per class, then the candidate histograms. */
  readonly counts: Uint32Array;
}

/** The profile's detection-level OOD reference decides each frame's oodDetections: its hash is part of a series' name. */
const oodKey = (p: Profile): string => (p.detectionOod ? `-ood${createHash('sha256').update(JSON.stringify(p.detectionOod)).digest('hex').slice(0, 8)}` : '');
/** The operating point the profile was counted at. */
const point = countedAt(profile);
/** Another operating point keeps other detections: its hash is part of a series' name too (none for the default). */
const pointKey = (): string => (JSON.stringify(point) !== JSON.stringify(DEFAULT_OPERATING_POINT) ? `-op${createHash('sha256').update(JSON.stringify(point)).digest('hex').slice(0, 8)}` : '');
const cacheName = (sha256: string, seed: number): string => join(CACHE, `${sha256.slice(0, 16)}${oodKey(profile)}${pointKey()}-seed${seed}-f${frames}-${width}x${height}`);

async function readSeries(base: string, sha256: string, seed: number, sources: string): Promise<Series | undefined> {
  if (!existsSync(`${base}.json`) || !existsSync(`${base}.bin`)) return undefined;
  const header = JSON.parse(await readFile(`${base}.json`, 'utf8')) as SeriesHeader;
  if (header.format !== FORMAT || header.sha256 !== sha256 || header.seed !== seed || header.frames !== frames || header.width !== width || header.height !== height) return undefined;
  if (header.features.join(',') !== PROFILE_FEATURES.join(',') || header.confBins !== CONF_BINS) {
    log(`${base}: cached with other features; rendering again`);
    return undefined;
  }
  if (header.sources !== sources) log(`seed ${seed}: the renderer/statistics sources changed since this series was cached (${header.sources} -> ${sources}); re-windowing the cached frames anyway (--rerender to refresh)`);
  const buf = await readFile(`${base}.bin`);
  const nv = frames * P;
  const nc = frames * header.classes * (1 + CONF_BINS);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if (bytes.byteLength !== nv * 8 + nc * 4) return undefined;
  const copy = bytes.slice();
  return { header, values: new Float64Array(copy.buffer, 0, nv), counts: new Uint32Array(copy.buffer, nv * 8, nc) };
}

async function render(detector: Detector, sha256: string, seed: number, sources: string): Promise<Series> {
  const nc = detector.model.names.length;
  const row = nc * (1 + CONF_BINS);
  const values = new Float64Array(frames * P);
  const counts = new Uint32Array(frames * row);
  const camera = new LineCamera(width, height, seed);
  const t0 = performance.now();
  function* source(): Generator<RawFrame> {
    for (let i = 0; i < frames; i++) {
      const f = camera.next(DEFAULT_CONDITIONS);
      yield { data: f.data, width: f.width, height: f.height, channels: 3 };
    }
  }
  if (detector.model.sha256 !== sha256) throw new Error(`${modelPath} changed during the run (sha256 ${sha256.slice(0, 12)} at the start, ${detector.model.sha256.slice(0, 12)} loaded); run again`);
  await runSequence(detector, source(), (t) => {
    const i = t.index;
    values.set(t.frameStats, i * P);
    values.set(t.detStats, i * P + NF);
    counts.set(t.classCounts, i * row);
    counts.set(t.confHist, i * row + nc);
    if ((i + 1) % 2000 === 0 || i + 1 === frames) {
      const rate = (i + 1) / ((performance.now() - t0) / 1000);
      log(`seed ${seed}: ${i + 1}/${frames} frames, ${rate.toFixed(0)} frames/s, ${((frames - i - 1) / rate).toFixed(0)} s left for this seed`);
    }
  });
  const header: SeriesHeader = {
    format: FORMAT,
    sha256,
    seed,
    frames,
    width,
    height,
    features: [...PROFILE_FEATURES],
    classes: nc,
    confBins: CONF_BINS,
    sources,
    renderSeconds: Math.round((performance.now() - t0) / 1000),
  };
  const base = cacheName(sha256, seed);
  await mkdir(CACHE, { recursive: true });
  const out = Buffer.concat([Buffer.from(values.buffer, values.byteOffset, values.byteLength), Buffer.from(counts.buffer, counts.byteOffset, counts.byteLength)]);
  await writeFile(`${base}.bin.part`, out);
  await rename(`${base}.bin.part`, `${base}.bin`);
  await writeFile(`${base}.json`, JSON.stringify(header, null, 1) + '\n');
  return { header, values, counts };
}

async function loadAll(): Promise<Series[]> {
  const sha256 = createHash('sha256').update(await readFile(modelPath)).digest('hex');
  const sources = sourcesHash(ROOT, PRODUCERS);
  const out: Series[] = [];
  let detector: Detector | undefined;
  try {
    for (const seed of seeds) {
      const cached = opt.rerender ? undefined : await readSeries(cacheName(sha256, seed), sha256, seed, sources);
      if (cached) {
        log(`seed ${seed}: ${frames} frames from the cache`);
        out.push(cached);
        continue;
      }
      if (!detector) {
        // As `driftline baseline` opened it: the operating point the profile's counts were taken at
        // (thresholds and suppression) and the same candidate floor ...
        const model = await loadModel(modelPath, { providers: ['cpu'], intraOpThreads: 1 });
        // ... and scoring each detection against the profile's detection-level OOD reference, as the agent does.
        detector = await Detector.open(model, { ...pointOptions(point), candidateFloor: 0.05, ...(profile.detectionOod ? { detectionOod: profile.detectionOod } : {}) });
      }
      log(`seed ${seed}: rendering ${frames} frames at ${width}x${height}`);
      out.push(await render(detector, sha256, seed, sources));
    }
  } finally {
    await detector?.close();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Re-windowing

interface Cell {
  readonly length: number;
  readonly windowSeconds: number;
  readonly seed: number | 'all';
  readonly windows: number;
  /** Disjoint windows of the run(s): the number of independent trials the bounds use. */
  readonly independent: number;
  readonly flagged: number;
  readonly alerts: number;
  /** Windows not judged (insufficient, or longer than the reference can judge). */
  readonly insufficient: number;
  readonly targetWarn: number;
  readonly targetAlert: number;
  readonly warnTail: number;
  readonly alertTail: number;
  readonly powerless: number;
  /** Sequential detectors on consecutive disjoint windows: windows with a CUSUM signal, of how many. */
  readonly cusumWindows: number;
  readonly cusumSignals: number;
  readonly cusumByDetector: Record<string, number>;
  /** Per score key: in how many flagged windows it was a driver (warn or alert), and at alert. */
  readonly keys: Record<string, { flagged: number; alert: number }>;
}

/** Evenly spaced starts of at least `want` windows of `len` frames in `n` frames (every start when fewer fit). */
function starts(n: number, len: number, want: number): number[] {
  const last = n - len;
  if (last < 0) return [];
  if (last + 1 <= want) return Array.from({ length: last + 1 }, (_, i) => i);
  const step = last / (want - 1);
  return Array.from({ length: want }, (_, i) => Math.round(i * step));
}

function windowCells(series: Series[], profile: Profile): Cell[] {
  const ref = new ScoringReference(profile);
  const cells: Cell[] = [];
  for (const len of lengths) {
    const windowSeconds = len / fps;
    const judge = new Judge(ref, profile.calibration, { windowSeconds, warnEveryHours, alertEveryHours });
    // The configured budget: one false warning per warnEveryHours of windows of windowSeconds
    // (judge.ts: warnTail is this divided over the judged scores).
    const targetWarn = Math.min(0.5, windowSeconds / (3600 * warnEveryHours));
    const targetAlert = Math.min(0.5, windowSeconds / (3600 * alertEveryHours));
    const powerless = judge.powerless(len).length;
    const perSeed: Cell[] = [];
    for (const s of series) {
      const nc = s.header.classes;
      const row = nc * (1 + CONF_BINS);
      const n = s.header.frames;
      // One record per frame over views of its values, made once and shared by every window that holds it.
      const recs = Array.from({ length: n }, (_, i) => recordOver(s.values.subarray(i * P, i * P + NF), { values: s.values.subarray(i * P + NF, (i + 1) * P), classCounts: s.counts.subarray(i * row, i * row + nc), confHist: s.counts.subarray(i * row + nc, (i + 1) * row) }));
      const feed = (d: CameraDrift, from: number): void => {
        for (let i = from; i < from + len; i++) d.add(recs[i]!);
      };
      let flagged = 0;
      let alerts = 0;
      let insufficient = 0;
      const keys: Record<string, { flagged: number; alert: number }> = {};
      const ws = starts(n, len, windowsWanted);
      for (const from of ws) {
        const d = new CameraDrift(judge, profile.calibration);
        feed(d, from);
        const r = d.close();
        if (r.severity.startsWith('insufficient')) insufficient++;
        const drivers = r.drivers.filter((x) => !x.key.startsWith('cusum:'));
        if (drivers.length === 0) continue;
        flagged++;
        const alert = drivers.some((x) => x.level === 'alert');
        if (alert) alerts++;
        for (const x of drivers) {
          const k = (keys[x.key] ??= { flagged: 0, alert: 0 });
          k.flagged++;
          if (x.level === 'alert') k.alert++;
        }
      }
      // The sequential detectors, as the agent runs them: one camera, consecutive windows.
      const seq = new CameraDrift(judge, profile.calibration);
      let cusumWindows = 0;
      let cusumSignals = 0;
      const cusumByDetector: Record<string, number> = {};
      for (let from = 0; from + len <= n; from += len) {
        feed(seq, from);
        const r = seq.close();
        cusumWindows++;
        const c = r.drivers.filter((x) => x.key.startsWith('cusum:'));
        if (c.length) cusumSignals++;
        for (const x of c) cusumByDetector[x.key] = (cusumByDetector[x.key] ?? 0) + 1;
      }
      const cell: Cell = {
        length: len,
        windowSeconds,
        seed: s.header.seed,
        windows: ws.length,
        independent: Math.floor(n / len),
        flagged,
        alerts,
        insufficient,
        targetWarn,
        targetAlert,
        warnTail: judge.warnTail,
        alertTail: judge.alertTail,
        powerless,
        cusumWindows,
        cusumSignals,
        cusumByDetector,
        keys,
      };
      perSeed.push(cell);
      cells.push(cell);
      log(`L=${len} seed ${s.header.seed}: ${flagged}/${ws.length} flagged, ${alerts} alerts; CUSUM ${cusumSignals}/${cusumWindows}`);
    }
    // All seeds together.
    const sum = (f: (c: Cell) => number): number => perSeed.reduce((a, c) => a + f(c), 0);
    const keys: Record<string, { flagged: number; alert: number }> = {};
    const cusumByDetector: Record<string, number> = {};
    for (const c of perSeed) {
      for (const [k, v] of Object.entries(c.keys)) {
        const t = (keys[k] ??= { flagged: 0, alert: 0 });
        t.flagged += v.flagged;
        t.alert += v.alert;
      }
      for (const [k, v] of Object.entries(c.cusumByDetector)) cusumByDetector[k] = (cusumByDetector[k] ?? 0) + v;
    }
    cells.push({
      ...perSeed[0]!,
      seed: 'all',
      windows: sum((c) => c.windows),
      independent: sum((c) => c.independent),
      flagged: sum((c) => c.flagged),
      alerts: sum((c) => c.alerts),
      insufficient: sum((c) => c.insufficient),
      cusumWindows: sum((c) => c.cusumWindows),
      cusumSignals: sum((c) => c.cusumSignals),
      cusumByDetector,
      keys,
    });
  }
  return cells;
}

// ---------------------------------------------------------------------------------------------
// Report

const pct = (x: number): string => (x === 0 ? '0' : x >= 0.01 ? `${(100 * x).toFixed(2)}%` : `${(100 * x).toPrecision(2)}%`);
const ratio = (m: number, t: number): string => (m === 0 ? '0' : (m / t >= 100 ? (m / t).toFixed(0) : (m / t).toPrecision(2)));

/** Upper 95% bound on the rate, counting disjoint windows as the independent trials. */
function upper(events: number, c: Cell): number {
  const kEff = Math.ceil((events / c.windows) * c.independent);
  return binomialUpper(kEff, c.independent);
}

function table(cells: Cell[]): string {
  const lines = [
    '| L (frames) | T (s) | seed | windows (disjoint) | not judged | warn or alert | rate | target | meas./target | 95% upper | alert | rate | target | meas./target | 95% upper | CUSUM (per-window seq.) |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const c of cells) {
    const fr = c.flagged / c.windows;
    const ar = c.alerts / c.windows;
    lines.push(
      `| ${c.length} | ${c.windowSeconds} | ${c.seed} | ${c.windows} (${c.independent}) | ${c.insufficient} | ${c.flagged} | ${pct(fr)} | ${pct(c.targetWarn)} | ${ratio(fr, c.targetWarn)} | ${pct(upper(c.flagged, c))} | ${c.alerts} | ${pct(ar)} | ${pct(c.targetAlert)} | ${ratio(ar, c.targetAlert)} | ${pct(upper(c.alerts, c))} | ${c.cusumSignals}/${c.cusumWindows} (${pct(c.cusumSignals / Math.max(1, c.cusumWindows))}) |`,
    );
  }
  return lines.join('\n');
}

function topKeys(cells: Cell[], top = 5): string {
  const lines = ['| L (frames) | seed | flagged | top score keys: windows as driver (of which alert) | CUSUM signals by detector |', '| ---: | --- | ---: | --- | --- |'];
  for (const c of cells) {
    const ks = Object.entries(c.keys)
      .sort((a, b) => b[1].flagged - a[1].flagged || b[1].alert - a[1].alert)
      .slice(0, top)
      .map(([k, v]) => `${k} ${v.flagged} (${v.alert})`)
      .join(', ');
    const cu = Object.entries(c.cusumByDetector).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`| ${c.length} | ${c.seed} | ${c.flagged} | ${ks || '—'} | ${cu || '—'} |`);
  }
  return lines.join('\n');
}

const series = await loadAll();
if (series[0] && profile.model.sha256 !== series[0].header.sha256) {
  throw new Error(`${profilePath} was built for model ${profile.model.sha256.slice(0, 12)}, the frames come from ${series[0].header.sha256.slice(0, 12)} (${modelPath}): rebuild the profile, or give the matching --model and --profile`);
}
log(`re-windowing: lengths ${lengths.join(', ')}, >= ${windowsWanted} windows per cell`);
const t1 = performance.now();
const cells = windowCells(series, profile);
const windowSeconds = ((performance.now() - t1) / 1000).toFixed(0);

const out = process.stdout;
out.write(`## False alarms on stable runs\n\n`);
out.write(
  `Profile ${profilePath} (${profile.data.source}); model sha256 ${profile.model.sha256.slice(0, 12)}; ` +
    `seeds ${seeds.join(', ')}, ${frames} frames each at ${width}x${height}, nominal conditions. ` +
    `Windows of L frames at ${fps} fps (windowSeconds = L/${fps}); warn every ${warnEveryHours} h, alert every ${alertEveryHours} h. ` +
    `Per-window verdicts exclude the CUSUM detectors; windows are evenly spaced sliding windows (they overlap), ` +
    `and the 95% upper bounds (exact binomial) count only the disjoint windows as independent trials.\n\n`,
);
out.write(`Judged by the drift code with sources hash ${sourcesHash(ROOT, ['agent/drift', 'agent/config.ts'])} (agent/drift, agent/config.ts), at ${new Date().toISOString()}.\n\n`);
out.write(table(cells) + '\n\n');
out.write(`Powerless scores (warn threshold above the score's bound) per length: ${lengths.map((l) => `${l}: ${cells.find((c) => c.length === l)!.powerless}`).join(', ')}.\n\n`);
out.write('### Score keys behind the flagged windows\n\n' + topKeys(cells) + '\n\n');
out.write(`Elapsed: ${elapsed()} (re-windowing ${windowSeconds} s).\n`);
if (opt.json) {
  await writeFile(opt.json, JSON.stringify({ profile: profilePath, model: modelPath, seeds, frames, width, height, fps, warnEveryHours, alertEveryHours, windows: windowsWanted, cells }, null, 1) + '\n');
  log(`wrote ${opt.json}`);
}
log(`done in ${elapsed()}`);
