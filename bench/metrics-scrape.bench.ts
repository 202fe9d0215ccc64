/**
 * The agent's /metrics scrape cost (issue 14: under 5 ms), on a running agent: the shipped model,
 * 4 synthetic cameras (640x480, 10 fps), drift scored against the shipped profile, review frames on,
 * and an MQTT broker that does not answer, so the outbox grows as on a device that lost its link.
 * - text: `registry.metrics()`, what the /metrics route serves, timed in the agent's process;
 * - HTTP: GET /metrics over loopback, body read;
 * - baseline, same run and server: GET /healthz (fastify, routing and the client's round trip).
 * Each is sampled one request at a time, the three in turn, while the 4 cameras run (wall time); then
 * again with the frame loop stopped, where the process's CPU time per call is the scrape's own work
 * even on a machine busy with other things. Medians and p95s are printed against the target.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentConfig } from '../agent/config.js';
import { AGENT_METRICS } from '../agent/http/metric-names.js';
import { startAgent } from '../agent/main.js';
import { silentLogger } from '../lib/log.js';
import { freePort } from '../test/helpers/ports.js';
import { header, line, ratio } from './harness.js';

const CAMERAS = 4;
const TARGET_MS = 5;

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/**
 * Times the functions, one call at a time and in turn, for about `seconds` (after a few untimed
 * rounds): a busy moment of the frame loop or of the machine falls on all alike. Per call, ms: the
 * wall time, and the CPU time of this whole process (user + system, all its threads).
 */
async function rounds(seconds: number, fns: readonly (() => Promise<unknown>)[]): Promise<{ wall: number[]; cpu: number[] }[]> {
  for (let i = 0; i < 5; i++) for (const fn of fns) await fn();
  const out = fns.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (const [i, fn] of fns.entries()) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await fn();
      out[i]!.wall.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      out[i]!.cpu.push((c.user + c.system) / 1000);
    }
  }
  return out;
}

const fmt = (xs: readonly number[]): string => `median ${quantile(xs, 0.5).toFixed(2)} ms, p95 ${quantile(xs, 0.95).toFixed(2)} ms (${xs.length} samples)`;

export async function bench(seconds: number): Promise<void> {
  header(`agent /metrics scrape: ${CAMERAS} synthetic cameras (640x480, 10 fps), the shipped model, 1 intra-op thread`);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-bench-metrics-'));
  const { config } = agentConfig(
    {
      model: { providers: ['cpu'], threads: 1, inferenceThread: 'worker' },
      store: { path: join(dir, 'agent.db') },
      telemetry: { windowSeconds: 2 },
      drift: { minFrames: 5 },
      mqtt: { url: `mqtt://127.0.0.1:${await freePort()}`, device: 'bench-edge', reconnectMinMs: 500 },
      http: { port: 0 },
      cameras: Array.from({ length: CAMERAS }, (_, i) => ({ name: `cam${i}`, source: { kind: 'synthetic', width: 640, height: 480, fps: 10, seed: i } })),
    },
    {},
  );
  const agent = await startAgent(config, silentLogger);
  try {
    const registry = agent.metrics!;
    const base = agent.http!.url;
    // Until every camera has a judged window: the scrape then carries every series it has in service.
    const scores = (text: string): string[] => text.split('\n').filter((l) => l.startsWith(`${AGENT_METRICS.driftScore}{`));
    const t0 = Date.now();
    let text = '';
    while (Date.now() - t0 < 120_000) {
      text = await registry.metrics();
      if (new Set(scores(text).map((l) => /camera="([^"]+)"/.exec(l)?.[1])).size === CAMERAS) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const samples = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
    line('exposition', `${(Buffer.byteLength(text) / 1024).toFixed(1)} KiB, ${samples} samples (${scores(text).length} drift scores)`);

    const fetchText = (path: string) => async (): Promise<string> => (await fetch(`${base}${path}`)).text();
    const fns = [() => registry.metrics(), fetchText('/healthz'), fetchText('/metrics')];
    const [produce, health, scrape] = await rounds(seconds * 0.6, fns);
    const beyond = scrape!.wall.map((ms, i) => ms - health!.wall[i]!);
    line('machine load (1-minute average)', `${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} cores`);
    line('registry.metrics(): the text', fmt(produce!.wall));
    line('GET /healthz (baseline)', fmt(health!.wall));
    line('GET /metrics', fmt(scrape!.wall));
    line('GET /metrics beyond GET /healthz, same round', `median ${quantile(beyond, 0.5).toFixed(2)} ms, p95 ${quantile(beyond, 0.95).toFixed(2)} ms`);

    // The same scrapes with the frame loop stopped (store, outbox, counters and windows kept): the
    // process then does nothing else, so its CPU time per call is the scrape's own work, whatever
    // else the machine runs (wall times on a loaded machine measure the wait for a core as well).
    await agent.pipeline.stop();
    const [quiet, quietHealth, quietScrape] = await rounds(seconds * 0.2, fns);
    line('frame loop stopped: registry.metrics()', `${fmt(quiet!.wall)}; CPU median ${quantile(quiet!.cpu, 0.5).toFixed(2)} ms`);
    line('frame loop stopped: GET /healthz', `${fmt(quietHealth!.wall)}; CPU median ${quantile(quietHealth!.cpu, 0.5).toFixed(2)} ms`);
    line('frame loop stopped: GET /metrics', `${fmt(quietScrape!.wall)}; CPU median ${quantile(quietScrape!.cpu, 0.5).toFixed(2)} ms`);
    ratio('GET /metrics / GET /healthz, median wall, cameras running', quantile(scrape!.wall, 0.5) / quantile(health!.wall, 0.5), 10, false);
    ratio(`registry.metrics() median wall, cameras running, ms (target < ${TARGET_MS})`, quantile(produce!.wall, 0.5), TARGET_MS, false);
    ratio(`registry.metrics() p95 wall, cameras running, ms (target < ${TARGET_MS})`, quantile(produce!.wall, 0.95), TARGET_MS, false);
    ratio(`GET /metrics p95 wall, cameras running, ms (target < ${TARGET_MS})`, quantile(scrape!.wall, 0.95), TARGET_MS, false);
    ratio(`GET /metrics p95 CPU (server and client), ms (target < ${TARGET_MS})`, quantile(quietScrape!.cpu, 0.95), TARGET_MS, false);
  } finally {
    await agent.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
