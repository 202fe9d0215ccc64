/**
 * `npm run soak`: the whole system for an hour, watched for leaks. Not part of `npm run bench`, CI
 * or `npm test`.
 *
 * Starts, as child processes of the real CLI (`node bin/driftline.js …`), a collector with its
 * embedded broker on free ports and one agent with four synthetic 320x240 cameras at ~8 fps each
 * publishing to it, every store in a temporary folder. Every --interval seconds it samples each
 * process's RSS (/proc/<pid>/status VmRSS) and open file descriptors (/proc/<pid>/fd), the
 * collector's V8 heap (its Prometheus /metrics; the agent exposes no heap, so it is RSS only), the
 * database files (agent.db, collector.db and their -wal), the agent's outbox backlog and the latency
 * p95 of the agent's telemetry windows written since the previous sample. At the end it prints the
 * figures at warm-up end and at the end, the RSS slope after warm-up (least squares, % per hour)
 * and PASS/FAIL for "RSS grows under 5% per hour after warm-up".
 *
 *   npm run soak -- [--minutes 60] [--warmup-minutes 5] [--interval 30] [--csv samples.csv] [--keep]
 *
 * Both children are stopped (SIGTERM, SIGKILL after 10 s) at the end, on Ctrl-C and on any error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'bin', 'driftline.js');
const CAMERAS = 4;
const FPS = 8;
const WINDOW_SECONDS = 10;
const GROWTH_LIMIT = 5; // % per hour after warm-up
const STOP_GRACE_MS = 10_000;

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    'warmup-minutes': { type: 'string' },
    interval: { type: 'string' },
    csv: { type: 'string' },
    keep: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('npm run soak -- [--minutes 60] [--warmup-minutes 5] [--interval 30] [--csv samples.csv] [--keep]\n');
  process.exit(0);
}
const num = (name: string, v: string | undefined, dflt: number, min: number): number => {
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`--${name} must be a number >= ${min}, got ${v}\n`);
    process.exit(2);
  }
  return n;
};
const minutes = num('minutes', values.minutes, 60, 0.5);
const warmupMinutes = num('warmup-minutes', values['warmup-minutes'], 5, 0);
const intervalS = num('interval', values.interval, 30, 1);
if (warmupMinutes >= minutes) {
  process.stderr.write('--warmup-minutes must be less than --minutes\n');
  process.exit(2);
}

interface Proc {
  readonly name: 'agent' | 'collector';
  readonly child: ChildProcess;
  readonly log: string;
  exited: boolean;
}

interface Sample {
  t: number; // seconds since the agent started
  agentRss: number;
  collectorRss: number;
  collectorHeap: number; // bytes, NaN when /metrics did not answer
  agentFds: number;
  collectorFds: number;
  agentDb: number;
  agentWal: number;
  collectorDb: number;
  collectorWal: number;
  outbox: number; // agent messages not yet published
  windows: number; // agent windows written since the previous sample
  fps: number; // frames per second over those windows, all cameras
  inferenceP95: number; // ms, median over those windows of each window's p95
  pipelineP95: number; // ms, median over those windows of preprocess + inference + postprocess p95
}

const COLUMNS: (keyof Sample)[] = ['t', 'agentRss', 'collectorRss', 'collectorHeap', 'agentFds', 'collectorFds', 'agentDb', 'agentWal', 'collectorDb', 'collectorWal', 'outbox', 'windows', 'fps', 'inferenceP95', 'pipelineP95'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
const fileSize = (path: string): number => (existsSync(path) ? statSync(path).size : 0);
const median = (xs: number[]): number => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function collectorHeap(httpUrl: string): Promise<number> {
  try {
    const res = await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const m = /^nodejs_heap_size_used_bytes\s+(\S+)/m.exec(text);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

type Latency = Record<string, { p95: number } | undefined>;

/** The agent's windows that ended after `sinceTs`: count, frame rate, median p95s. Read-only. */
function agentWindows(dbPath: string, sinceTs: number, spanS: number): Pick<Sample, 'outbox' | 'windows' | 'fps' | 'inferenceP95' | 'pipelineP95'> & { lastTs: number } {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const rows = db.prepare('SELECT end_ts AS endTs, frames, stats FROM windows WHERE end_ts > ? ORDER BY end_ts').all(sinceTs) as { endTs: number; frames: number; stats: string }[];
    const outbox = (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
    const inference: number[] = [];
    const pipeline: number[] = [];
    let frames = 0;
    for (const r of rows) {
      frames += r.frames;
      const lat = (JSON.parse(r.stats) as { latencyMs?: Latency }).latencyMs ?? {};
      if (!r.frames || !lat.inference) continue;
      inference.push(lat.inference.p95);
      pipeline.push((lat.preprocess?.p95 ?? 0) + lat.inference.p95 + (lat.postprocess?.p95 ?? 0));
    }
    return { outbox, windows: rows.length, fps: frames / spanS, inferenceP95: median(inference), pipelineP95: median(pipeline), lastTs: rows.length ? rows[rows.length - 1]!.endTs : sinceTs };
  } finally {
    db.close();
  }
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxx ? sxy / sxx : NaN;
}

const mib = (b: number): string => (Number.isFinite(b) ? `${(b / 2 ** 20).toFixed(1)} MiB` : 'n/a');
const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');

function start(name: Proc['name'], config: string, dir: string): Proc {
  const log = join(dir, `${name}.log`);
  const out = createWriteStream(log);
  const child = spawn(process.execPath, [CLI, name, '--config', config, '--log-format', 'json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  const p: Proc = { name, child, log, exited: false };
  child.once('exit', () => {
    p.exited = true;
  });
  return p;
}

async function stop(p: Proc | undefined): Promise<void> {
  if (!p || p.exited || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGTERM');
  const timer = sleep(STOP_GRACE_MS).then(() => 'timeout' as const);
  if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout') {
    process.stderr.write(`${p.name} did not stop within ${STOP_GRACE_MS / 1000} s of SIGTERM: SIGKILL\n`);
    p.child.kill('SIGKILL');
    await exited;
  }
}

function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

const dir = await mkdtemp(join(os.tmpdir(), 'driftline-soak-'));
const [brokerPort, httpPort] = [await freePort(), await freePort()];
const httpUrl = `http://127.0.0.1:${httpPort}`;
const agentDb = join(dir, 'agent.db');
const collectorDb = join(dir, 'collector.db');
const device = `soak-${os.hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}`;
await writeFile(join(dir, 'collector.yaml'), stringify({ broker: { host: '127.0.0.1', port: brokerPort }, store: { path: collectorDb }, http: { host: '127.0.0.1', port: httpPort } }));
await writeFile(
  join(dir, 'agent.yaml'),
  stringify({
    store: { path: agentDb },
    telemetry: { windowSeconds: WINDOW_SECONDS },
    mqtt: { url: `mqtt://127.0.0.1:${brokerPort}`, site: 'soak', device },
    http: { port: 0 },
    cameras: Array.from({ length: CAMERAS }, (_, i) => ({ name: `soak-cam${i + 1}`, source: { kind: 'synthetic', width: 320, height: 240, fps: FPS, seed: 101 + i } })),
  }),
);

let stopping: string | undefined;
const onSignal = (sig: NodeJS.Signals): void => {
  if (stopping) return;
  stopping = sig;
  process.stderr.write(`\n${sig}: stopping the agent and the collector\n`);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

let collector: Proc | undefined;
let agent: Proc | undefined;
// Last resort: nothing is left running if this process dies past the finally below.
process.on('exit', () => {
  for (const p of [agent, collector]) if (p && !p.exited) p.child.kill('SIGKILL');
});

const samples: Sample[] = [];
let failure: unknown;
let t0 = 0;
try {
  process.stdout.write(`Driftline soak: node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, load ${os.loadavg()[0]!.toFixed(2)}\n`);
  process.stdout.write(`${minutes} min (${warmupMinutes} min warm-up), a sample every ${intervalS} s; ${CAMERAS} synthetic 320x240 cameras at ${FPS} fps, ${WINDOW_SECONDS} s windows; data in ${dir}\n`);

  collector = start('collector', join(dir, 'collector.yaml'), dir);
  const ready = Date.now();
  while ((await collectorHeap(httpUrl).then((h) => !Number.isFinite(h))) && !stopping) {
    if (collector.exited) throw new Error(`the collector exited during start-up:\n${tail(collector.log)}`);
    if (Date.now() - ready > 60_000) throw new Error(`the collector did not answer ${httpUrl}/metrics within 60 s:\n${tail(collector.log)}`);
    await sleep(250);
  }
  agent = start('agent', join(dir, 'agent.yaml'), dir);
  t0 = Date.now();
  while (!existsSync(agentDb) && !stopping) {
    if (agent.exited) throw new Error(`the agent exited during start-up:\n${tail(agent.log)}`);
    if (Date.now() - t0 > 60_000) throw new Error(`the agent did not create ${agentDb} within 60 s:\n${tail(agent.log)}`);
    await sleep(250);
  }
  process.stdout.write(`collector pid ${collector.child.pid} (broker mqtt://127.0.0.1:${brokerPort}, ${httpUrl}), agent pid ${agent.child.pid} (device ${device})\n\n`);
  process.stdout.write('   t(s)  agent RSS  coll RSS  coll heap  fds a/c   agent.db+wal  coll.db+wal  outbox  windows   fps  infer p95  pipe p95\n');

  const endAt = t0 + minutes * 60_000;
  let sinceTs = t0;
  let lastSampleAt = t0;
  let next = t0 + intervalS * 1000;
  while (!stopping) {
    const wait = Math.min(next, endAt) - Date.now();
    // Sleep in short steps so that Ctrl-C and a dead child are noticed promptly.
    for (let left = wait; left > 0 && !stopping; left -= 500) {
      if (agent.exited || collector.exited) break;
      await sleep(Math.min(500, left));
    }
    if (stopping) break;
    for (const p of [agent, collector]) if (p.exited) throw new Error(`the ${p.name} exited on its own (code ${p.child.exitCode}, signal ${p.child.signalCode}):\n${tail(p.log)}`);
    const now = Date.now();
    const w = agentWindows(agentDb, sinceTs, (now - lastSampleAt) / 1000);
    sinceTs = w.lastTs;
    lastSampleAt = now;
    const s: Sample = {
      t: Math.round((now - t0) / 1000),
      agentRss: rssBytes(agent.child.pid!),
      collectorRss: rssBytes(collector.child.pid!),
      collectorHeap: await collectorHeap(httpUrl),
      agentFds: fdCount(agent.child.pid!),
      collectorFds: fdCount(collector.child.pid!),
      agentDb: fileSize(agentDb),
      agentWal: fileSize(`${agentDb}-wal`),
      collectorDb: fileSize(collectorDb),
      collectorWal: fileSize(`${collectorDb}-wal`),
      outbox: w.outbox,
      windows: w.windows,
      fps: w.fps,
      inferenceP95: w.inferenceP95,
      pipelineP95: w.pipelineP95,
    };
    samples.push(s);
    process.stdout.write(
      `${String(s.t).padStart(7)} ${mib(s.agentRss).padStart(10)} ${mib(s.collectorRss).padStart(9)} ${mib(s.collectorHeap).padStart(10)} ${`${s.agentFds}/${s.collectorFds}`.padStart(8)} ${mib(s.agentDb + s.agentWal).padStart(14)} ${mib(s.collectorDb + s.collectorWal).padStart(12)} ${String(s.outbox).padStart(7)} ${String(s.windows).padStart(8)} ${s.fps.toFixed(1).padStart(5)} ${ms(s.inferenceP95).padStart(10)} ${ms(s.pipelineP95).padStart(9)}\n`,
    );
    if (now >= endAt) break;
    next += intervalS * 1000;
  }
} catch (e) {
  failure = e;
} finally {
  await stop(agent);
  await stop(collector);
}

if (values.csv && samples.length) {
  await writeFile(values.csv, [COLUMNS.join(','), ...samples.map((s) => COLUMNS.map((c) => (Number.isFinite(s[c]) ? +s[c].toFixed(3) : '')).join(','))].join('\n') + '\n');
  process.stdout.write(`\nsamples: ${values.csv}\n`);
}

let verdict = 1;
if (failure) {
  process.stderr.write(`\nsoak failed: ${failure instanceof Error ? failure.message : String(failure)}\n`);
} else {
  const warm = samples.filter((s) => s.t >= warmupMinutes * 60);
  const first = samples[0];
  const atWarm = warm[0];
  const last = samples[samples.length - 1];
  if (!first || !atWarm || !last || warm.length < 3) {
    process.stderr.write(`\ntoo few samples after warm-up (${warm.length}) for a verdict${stopping ? ` (stopped by ${stopping})` : ''}\n`);
  } else {
    const pct = (key: 'agentRss' | 'collectorRss' | 'collectorHeap'): number => {
      const pts = warm.filter((s) => Number.isFinite(s[key]));
      const k = slope(
        pts.map((s) => s.t / 3600),
        pts.map((s) => s[key]),
      );
      return (k / atWarm[key]) * 100;
    };
    const slopeTxt = (v: number): string => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(2)} %/h` : 'n/a');
    const rows: [string, string, string, string, string][] = [
      ['', `first (${first.t} s)`, `warm-up end (${atWarm.t} s)`, `end (${last.t} s)`, 'slope after warm-up'],
      ['agent RSS', mib(first.agentRss), mib(atWarm.agentRss), mib(last.agentRss), slopeTxt(pct('agentRss'))],
      ['collector RSS', mib(first.collectorRss), mib(atWarm.collectorRss), mib(last.collectorRss), slopeTxt(pct('collectorRss'))],
      ['collector heap used', mib(first.collectorHeap), mib(atWarm.collectorHeap), mib(last.collectorHeap), slopeTxt(pct('collectorHeap'))],
      ['agent heap', 'n/a', 'n/a', 'n/a', 'not exposed (RSS only)'],
      ['agent open fds', String(first.agentFds), String(atWarm.agentFds), String(last.agentFds), ''],
      ['collector open fds', String(first.collectorFds), String(atWarm.collectorFds), String(last.collectorFds), ''],
      ['agent.db + -wal', `${mib(first.agentDb)} + ${mib(first.agentWal)}`, `${mib(atWarm.agentDb)} + ${mib(atWarm.agentWal)}`, `${mib(last.agentDb)} + ${mib(last.agentWal)}`, ''],
      ['collector.db + -wal', `${mib(first.collectorDb)} + ${mib(first.collectorWal)}`, `${mib(atWarm.collectorDb)} + ${mib(atWarm.collectorWal)}`, `${mib(last.collectorDb)} + ${mib(last.collectorWal)}`, ''],
      ['agent outbox backlog', String(first.outbox), String(atWarm.outbox), String(last.outbox), ''],
      ['frames/s, all cameras', first.fps.toFixed(1), atWarm.fps.toFixed(1), last.fps.toFixed(1), ''],
      ['inference p95', ms(first.inferenceP95), ms(atWarm.inferenceP95), ms(last.inferenceP95), ''],
      ['pipeline p95 (sum of stages)', ms(first.pipelineP95), ms(atWarm.pipelineP95), ms(last.pipelineP95), ''],
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    process.stdout.write(`\n| ${rows[0]!.map((v, c) => v.padEnd(widths[c]!)).join(' | ')} |\n| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |\n`);
    for (const r of rows.slice(1)) process.stdout.write(`| ${r.map((v, c) => v.padEnd(widths[c]!)).join(' | ')} |\n`);
    const growth = { agent: pct('agentRss'), collector: pct('collectorRss') };
    const pass = Object.values(growth).every((g) => Number.isFinite(g) && g < GROWTH_LIMIT);
    process.stdout.write(
      `\n${pass ? 'PASS' : 'FAIL'}: RSS growth under ${GROWTH_LIMIT}% per hour after warm-up (agent ${slopeTxt(growth.agent)}, collector ${slopeTxt(growth.collector)}; least squares over ${warm.length} samples, relative to the warm-up-end RSS)${stopping ? ` [stopped early by ${stopping}]` : ''}\n`,
    );
    verdict = pass ? 0 : 1;
  }
}
if (values.keep || failure) process.stdout.write(`data and logs kept in ${dir}\n`);
else await rm(dir, { recursive: true, force: true });
process.exit(failure ? 1 : verdict);
