/**
 * The agent's CPU per frame against its model's (issue 16, part 4): the real agent as its own
 * process (`node bin/driftline.js agent`), 4 ffmpeg file sources (640x480, 10 fps, `realtime` and
 * `loop`, like 4 live cameras), the shipped model with 1 intra-op thread, the cameras' frames run
 * in bursts (`model.gather: auto`, its default; how many and their size are printed), drift scored
 * against the shipped profile in 10 s windows (so windows close during the run), review frames on,
 * MQTT off.
 * Measured from outside, over 3 x `seconds` after a warm-up of `seconds` (at least 5 s):
 * - the agent process's CPU time (/proc/<pid>/stat utime + stime: every thread of it, an inference
 *   worker included), per frame processed (its /metrics), with each thread's share and how often it
 *   slept (voluntary context switches: each one a wake-up, not free on a VM), and where inference
 *   runs (the agent's start-up line: `auto` puts the shipped model on the main thread here);
 * - the frame loop's own stage times (wall, from its /metrics), for where the time goes;
 * - its ffmpeg children's CPU per frame, beside it (decoding is not the agent's own cost);
 * - its RSS (sampled; median and peak), and the frames kept and dropped;
 * - in the same run, before the agent starts and after it stops: a bare loop of onnxruntime-node
 *   `session.run` on the same model, 1 intra-op thread, in this process, CPU per run by
 *   process.cpuUsage (the mean of both). The target: agent CPU per frame <= 1.5 x that.
 * - beside it, the same bare loop paced as the agent's frames arrive (CAMERAS x FPS runs a second,
 *   sleeping in between). On a VM a thread that sleeps between runs pays for it in every run (a
 *   host that ran something else meanwhile, clocks and predictors to win back): that is the model's
 *   own cost at the agent's pace, and the agent's ratio against it is what the agent itself adds.
 * docs/performance.md has the results and where the time goes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { AGENT_METRICS } from '../agent/http/metric-names.js';
import { STAGES } from '../agent/pipeline/stage-timings.js';
import { Letterboxer } from '../agent/preprocess/letterbox.js';
import { LineCamera } from '../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../agent/synth/conditions.js';
import { endProcess, freePort } from '../test/helpers/ports.js';
import { header, line, ratio } from './harness.js';
import { statCpuMs } from './proc.js';

const ROOT = new URL('../', import.meta.url).pathname;
const MODEL = join(ROOT, 'models', 'line-detector.onnx');
const CLI = join(ROOT, 'bin', 'driftline.js');
const CAMERAS = 4;
const FPS = 10;
/**
 * The cameras' frame size: 640x480, the issue's case. DRIFTLINE_BENCH_AGENT_FRAME=1920x1080 measures
 * another, and DRIFTLINE_BENCH_AGENT_RESIZE sets the agent's model.resize (default auto): how much a
 * large frame's letterbox costs the agent, against its model.
 */
const [W, H] = (/^(\d+)x(\d+)$/.exec(process.env.DRIFTLINE_BENCH_AGENT_FRAME ?? '') ?? [0, 640, 480]).slice(1).map(Number) as [number, number];
const RESIZE = process.env.DRIFTLINE_BENCH_AGENT_RESIZE ?? 'auto';
/** The agent's model.gather (default auto: the cameras' frames run in bursts); DRIFTLINE_BENCH_AGENT_GATHER=off measures one frame at a time. */
const GATHER = process.env.DRIFTLINE_BENCH_AGENT_GATHER ?? 'auto';
/** The agent's model.inferenceThread (default auto); DRIFTLINE_BENCH_AGENT_THREAD=main or worker pins it. */
const THREAD = process.env.DRIFTLINE_BENCH_AGENT_THREAD ?? 'auto';
const TARGET = 1.5;

/** Renders `frames` synthetic line frames (W x H) into an MPEG-4 file at FPS, as a camera would film them. */
async function lineVideo(dir: string, frames: number): Promise<string> {
  const file = join(dir, 'line.mkv');
  const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${W}x${H}`, '-r', String(FPS), '-i', 'pipe:0', '-c:v', 'mpeg4', '-q:v', '4', '-y', file], { stdio: ['pipe', 'ignore', 'inherit'] });
  const cam = new LineCamera(W, H, 16);
  for (let i = 0; i < frames; i++) {
    if (!ff.stdin.write(cam.next(DEFAULT_CONDITIONS).data)) await once(ff.stdin, 'drain');
  }
  ff.stdin.end();
  const [code] = (await once(ff, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`ffmpeg could not encode the test video (exit ${code})`);
  return file;
}

/** CPU ms and voluntary context switches (sleeps, each one a wake-up later) of each thread of `pid`, by thread id. */
function threads(pid: number): Map<number, { cpu: number; sleeps: number }> {
  const out = new Map<number, { cpu: number; sleeps: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const s = statCpuMs(`/proc/${pid}/task/${tid}/stat`);
    let sleeps = 0;
    try {
      sleeps = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
    if (s) out.set(Number(tid), { cpu: s.cpu, sleeps });
  }
  return out;
}

/** CPU ms of each live ffmpeg child of `pid`, by pid. */
function ffmpegCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const s = statCpuMs(`/proc/${e}/stat`);
    if (s && s.ppid === pid && s.comm === 'ffmpeg') out.set(Number(e), s.cpu);
  }
  return out;
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

interface Scrape {
  readonly processed: number;
  readonly dropped: number;
  readonly errored: number;
  /** Review frames saved, and refused for the hourly budget. */
  readonly reviewSaved: number;
  readonly reviewOverBudget: number;
  /** Bursts run, and the frames they ran (model.gather). */
  readonly bursts: number;
  readonly burstFrames: number;
  /** Per stage of the frame loop: summed seconds and frames (driftline_agent_stage_duration_seconds). */
  readonly stages: Map<string, { sum: number; count: number }>;
}

/** The frames counter of the agent's /metrics, summed over cameras, by result; and the stage timings. */
async function scrape(base: string): Promise<Scrape> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out = { processed: 0, dropped: 0, errored: 0, reviewSaved: 0, reviewOverBudget: 0, bursts: 0, burstFrames: 0 };
  const stages = new Map<string, { sum: number; count: number }>();
  for (const l of text.split('\n')) {
    const value = Number(l.slice(l.lastIndexOf(' ') + 1));
    if (l.startsWith(`${AGENT_METRICS.frames}{`)) {
      const result = /result="([a-z]+)"/.exec(l)?.[1];
      if (result === 'processed' || result === 'dropped' || result === 'errored') out[result] += value;
    }
    if (l.startsWith(`${AGENT_METRICS.bursts} `)) out.bursts = value;
    if (l.startsWith(`${AGENT_METRICS.burstFrames} `)) out.burstFrames = value;
    if (l.startsWith(`${AGENT_METRICS.reviewFrames}{result="saved"}`)) out.reviewSaved = value;
    if (l.startsWith(`${AGENT_METRICS.reviewFrames}{result="over_budget"}`)) out.reviewOverBudget = value;
    const stage = new RegExp(`^${AGENT_METRICS.stageDuration}_(sum|count)\\{stage="([a-z]+)"\\}`).exec(l);
    if (stage) {
      const st = stages.get(stage[2]!) ?? { sum: 0, count: 0 };
      st[stage[1] as 'sum' | 'count'] = value;
      stages.set(stage[2]!, st);
    }
  }
  return { ...out, stages };
}

/**
 * A bare loop of session.run on the shipped model (1 intra-op thread, as the agent creates it), on a
 * letterboxed frame of the test video: process CPU ms per run. Back to back, or `perSecond` runs a
 * second, each at its own deadline with the thread asleep in between, as frames reach the agent.
 */
async function bareInference(seconds: number, perSecond?: number): Promise<{ cpuMs: number; runs: number }> {
  const session = await ort.InferenceSession.create(MODEL, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential', logSeverityLevel: 4 });
  const [inputName] = session.inputNames;
  const meta = session.inputMetadata[0] as { shape?: readonly (number | string)[] } | undefined;
  const inH = Number(meta?.shape?.[2] ?? 160);
  const inW = Number(meta?.shape?.[3] ?? 160);
  const input = new Float32Array(3 * inW * inH);
  await new Letterboxer(input, inW, inH, 'bilinear').run({ data: new LineCamera(W, H, 16).next(DEFAULT_CONDITIONS).data, width: W, height: H, channels: 3 });
  const feeds = { [inputName!]: new ort.Tensor('float32', input, [1, 3, inH, inW]) };
  for (let i = 0; i < 50; i++) await session.run(feeds);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let runs = 0;
  while (performance.now() - t0 < seconds * 1000) {
    if (perSecond) {
      const due = t0 + (runs * 1000) / perSecond;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    }
    await session.run(feeds);
    runs++;
  }
  const c = process.cpuUsage(c0);
  await session.release();
  return { cpuMs: (c.user + c.system) / 1000 / runs, runs };
}

export async function bench(seconds: number): Promise<void> {
  const measureS = Math.max(6, seconds * 3);
  const warmupS = Math.max(5, seconds);
  header(`agent CPU per frame: ${CAMERAS} ffmpeg file cameras (${W}x${H}, ${FPS} fps, realtime, loop), the shipped model, 1 intra-op thread, model.resize ${RESIZE}, model.gather ${GATHER}, model.inferenceThread ${THREAD}`);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-bench-agent-cpu-'));
  let agent: ChildProcess | undefined;
  try {
    const video = await lineVideo(dir, 100);
    // The bare loop before the agent starts and after it stops: this machine's speed drifts.
    const bareBefore = await bareInference(Math.max(3, seconds / 4));
    const pacedBefore = await bareInference(Math.max(4, seconds / 2), CAMERAS * FPS);

    const port = await freePort();
    const config = join(dir, 'agent.yaml');
    const cams = Array.from({ length: CAMERAS }, (_, i) => `  - name: cam${i}\n    source: { kind: ffmpeg, url: ${JSON.stringify(video)}, width: ${W}, height: ${H}, fps: ${FPS}, realtime: true, loop: true }`);
    await writeFile(
      config,
      [
        `model: { providers: [cpu], threads: 1, resize: ${RESIZE}, gather: ${GATHER}, inferenceThread: ${THREAD} }`,
        `store: { path: ${JSON.stringify(join(dir, 'agent.db'))} }`,
        'telemetry: { windowSeconds: 10 }',
        `http: { port: ${port} }`,
        'log: { level: info, format: json }',
        'cameras:',
        ...cams,
        '',
      ].join('\n'),
    );
    // DRIFTLINE_BENCH_AGENT_NODE_ARGS: flags for the agent's node, to profile it (`--cpu-prof --cpu-prof-dir=...`).
    const nodeArgs = (process.env.DRIFTLINE_BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const proc = spawn(process.execPath, [...nodeArgs, CLI, 'agent', '--config', config], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    agent = proc;
    let stderr = '';
    let inferenceThread = 'unknown';
    proc.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8000);
      inferenceThread = /"inferenceThread":"(main|worker)"/.exec(stderr)?.[1] ?? inferenceThread; // its 'agent started' line
    });
    const pid = proc.pid!;
    const base = `http://127.0.0.1:${port}`;
    // Up, and every camera streaming: then a warm-up before the measured span.
    const started = Date.now();
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`the agent exited (${proc.exitCode}): ${stderr}`);
      if (Date.now() - started > 60_000) throw new Error(`the agent did not process frames within 60 s: ${stderr}`);
      try {
        if ((await scrape(base)).processed >= CAMERAS * FPS) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    // Past start-up: the optimising compiler and the garbage collector settle in the first seconds.
    await new Promise((r) => setTimeout(r, warmupS * 1000));

    const f0 = await scrape(base);
    const a0 = statCpuMs(`/proc/${pid}/stat`)!.cpu;
    const th0 = threads(pid);
    const ch0 = ffmpegCpu(pid);
    const t0 = performance.now();
    let peak = 0;
    const rss: number[] = [];
    while (performance.now() - t0 < measureS * 1000) {
      await new Promise((r) => setTimeout(r, 500));
      const m = rssMiB(pid);
      rss.push(m);
      peak = Math.max(peak, m);
    }
    const a1 = statCpuMs(`/proc/${pid}/stat`)!.cpu;
    const th1 = threads(pid);
    const ch1 = ffmpegCpu(pid);
    const f1 = await scrape(base);
    const wallS = (performance.now() - t0) / 1000;
    await endProcess(proc);
    agent = undefined;
    const bareAfter = await bareInference(Math.max(3, seconds / 4));
    const pacedAfter = await bareInference(Math.max(4, seconds / 2), CAMERAS * FPS);
    const mean = (a: { cpuMs: number; runs: number }, b: { cpuMs: number; runs: number }): number => (a.cpuMs * a.runs + b.cpuMs * b.runs) / (a.runs + b.runs);
    const bareMs = mean(bareBefore, bareAfter);
    const pacedMs = mean(pacedBefore, pacedAfter);

    const processed = f1.processed - f0.processed;
    const dropped = f1.dropped - f0.dropped;
    const errored = f1.errored - f0.errored;
    const agentMs = (a1 - a0) / Math.max(1, processed);
    let ffmpegMs = 0;
    for (const [cpid, cpu] of ch1) ffmpegMs += cpu - (ch0.get(cpid) ?? 0);
    // Threads by what they do: the main thread; the busiest other one (the inference worker, when
    // the model runs in one); the rest (V8's garbage collector and compiler helpers, libuv's pool).
    const per = [...th1].map(([tid, t]) => ({ tid, cpu: t.cpu - (th0.get(tid)?.cpu ?? 0), sleeps: t.sleeps - (th0.get(tid)?.sleeps ?? 0) }));
    const main = per.find((t) => t.tid === pid) ?? { tid: pid, cpu: 0, sleeps: 0 };
    const others = per.filter((t) => t.tid !== pid).sort((a, b) => b.cpu - a.cpu);
    const worker = others[0] ?? { tid: 0, cpu: 0, sleeps: 0 };
    const rest = others.slice(1).reduce((a, t) => ({ cpu: a.cpu + t.cpu, sleeps: a.sleeps + t.sleeps }), { cpu: 0, sleeps: 0 });
    const perFrame = (x: number): string => (x / Math.max(1, processed)).toFixed(3);
    line('machine', `${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(2)} (1-minute average)`);
    line('bare inference: session.run, 1 intra-op thread (CPU per run)', `${bareMs.toFixed(3)} ms (before ${bareBefore.cpuMs.toFixed(3)}, after ${bareAfter.cpuMs.toFixed(3)}; ${bareBefore.runs + bareAfter.runs} runs)`);
    line(`bare inference at the agent's pace (${CAMERAS * FPS} runs/s, asleep between)`, `${pacedMs.toFixed(3)} ms (before ${pacedBefore.cpuMs.toFixed(3)}, after ${pacedAfter.cpuMs.toFixed(3)}; ${pacedBefore.runs + pacedAfter.runs} runs): ${(pacedMs / bareMs).toFixed(2)} x back to back`);
    line(`agent: frames processed / dropped / errored in ${wallS.toFixed(1)} s`, `${processed} / ${dropped} / ${errored} (${(processed / wallS).toFixed(1)} frames/s)`);
    line('agent process CPU per frame (all its threads)', `${agentMs.toFixed(3)} ms (${((a1 - a0) / 1000).toFixed(2)} s CPU, ${((a1 - a0) / 10 / wallS).toFixed(0)}% of one core)`);
    const onMain = inferenceThread === 'main';
    line(`inference runs on (model.inferenceThread: ${THREAD})`, onMain ? 'the main thread' : `${inferenceThread === 'worker' ? 'a worker thread' : 'unknown'}`);
    line(`  main thread (pipes, letterbox,${onMain ? ' inference,' : ''} telemetry, SQLite, HTTP)`, `${perFrame(main.cpu)} ms/frame, ${perFrame(main.sleeps)} wake-ups/frame`);
    line(`  ${onMain ? 'the busiest other thread' : 'inference worker thread (the busiest other one)'}`, `${perFrame(worker.cpu)} ms/frame, ${perFrame(worker.sleeps)} wake-ups/frame`);
    line(`  ${others.length - 1} other threads (garbage collector, libuv pool)`, `${perFrame(rest.cpu)} ms/frame`);
    const bursts = f1.bursts - f0.bursts;
    line(`frames gathered into bursts (model.gather ${GATHER})`, bursts > 0 ? `${bursts} bursts, ${((f1.burstFrames - f0.burstFrames) / bursts).toFixed(2)} frames each` : 'none: one frame at a time');
    line(`ffmpeg children CPU per frame (${ch1.size} processes, beside the agent's)`, `${(ffmpegMs / Math.max(1, processed)).toFixed(3)} ms`);
    const sorted = [...rss].sort((x, y) => x - y);
    line('review frames saved / refused for the hourly budget while measured', `${f1.reviewSaved - f0.reviewSaved} / ${f1.reviewOverBudget - f0.reviewOverBudget}`);
    line('agent RSS (median of samples / peak)', `${(sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(0)} MiB / ${peak.toFixed(0)} MiB`);
    const stageLine = STAGES.map((st) => {
      const a = f0.stages.get(st);
      const b = f1.stages.get(st);
      return a && b && b.count > a.count ? `${st} ${(((b.sum - a.sum) / (b.count - a.count)) * 1000).toFixed(2)}` : `${st} -`;
    });
    line('frame loop stage times, wall ms per frame (the agent\'s /metrics)', stageLine.join(', '));
    line('agent CPU per frame / bare inference at its pace', `${(agentMs / pacedMs).toFixed(3)}: what the agent adds to its model's cost at the same pace`);
    ratio('agent CPU per frame / bare inference CPU per run', agentMs / bareMs, TARGET, false);
  } finally {
    if (agent) await endProcess(agent);
    await rm(dir, { recursive: true, force: true });
  }
}
