/**
 * The collector through Mosquitto: a private one (tests' helper), configured as in production
 * (deploy/mosquitto/: 100,000 queued messages per client). The machine's default of 1,000 drops a
 * flood that arrives faster than any subscriber can take it, which would measure the broker's queue
 * limit rather than the collector.
 * - ingest: full-size summaries from a separate publisher process, validated, deduped and stored.
 *   Baseline, in the same run: a bare mqtt.js subscriber that only counts what the same publisher
 *   sends (what the broker and the client library can deliver at all).
 * - alert latency: a summary at `alert` severity published on a fresh camera, to the signed webhook
 *   request arriving at a local HTTP server. Baseline: publish to MQTT receive, same broker.
 * Targets (issue 5): >= 5,000 summaries/s on 2 cores, alert latency p99 < 1 s.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectAsync } from 'mqtt';
import { collectorConfig } from '../collector/config.js';
import { startCollector } from '../collector/main.js';
import { silentLogger } from '../lib/log.js';
import { summaryTopic } from '../protocol/topics.js';
import { payload } from './fleet.js';
import { header, line, ratio } from './harness.js';
import { TestBroker } from '../test/helpers/mosquitto.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FLEET = new URL('./fleet.ts', import.meta.url).pathname;

function fleet(BROKER: string, site: string, n: number, cameras: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', FLEET, BROKER, site, String(n), String(cameras)], { stdio: ['ignore', 'ignore', 'inherit'] });
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`publisher exited ${code}`))));
  });
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('benchmark timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};

export async function bench(seconds: number): Promise<void> {
  const n = Math.max(5000, Math.round(seconds * 3000));
  const sample = payload('s', 'cam0', 1);
  header(`collector ingest from Mosquitto: ${n} summaries of ${sample.length} bytes, 100 cameras, QoS 1`);
  const stamp = `${process.pid}-${Date.now()}`;
  const broker = await TestBroker.start();
  const BROKER = broker.url;

  // Baseline: a bare subscriber.
  const bare = await connectAsync(BROKER, { clientId: `bench-bare-${stamp}` });
  let got = 0;
  let first = 0;
  let last = 0;
  bare.on('message', () => {
    if (got++ === 0) first = performance.now();
    last = performance.now();
  });
  await bare.subscribeAsync(`driftline/v1/bare-${stamp}/+/+/summary`, { qos: 1 });
  await fleet(BROKER, `bare-${stamp}`, n, 100);
  await waitFor(() => got >= n, 60_000);
  await bare.endAsync();
  const bareRate = (n - 1) / ((last - first) / 1000);

  const dir = await mkdtemp(join(tmpdir(), 'driftline-bench-'));
  const hooks: number[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hooks.push(performance.now());
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { config } = collectorConfig(
    {
      broker: { url: BROKER, clientId: `bench-collector-${stamp}`, sessionExpirySeconds: 60 },
      store: { path: join(dir, 'collector.db') },
      http: { port: 0 },
      rules: { driftForSeconds: 0, evalIntervalSeconds: 3600 },
      notify: { webhookUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, webhookSecret: 'bench', mqtt: false },
    },
    {},
  );
  const c = await startCollector(config, silentLogger);
  await waitFor(() => c.subscriber.connected, 10_000);
  const site = `ingest-${stamp}`;
  const before = c.ingest.counters.accepted.summary;
  const t0 = performance.now();
  let started = 0;
  const publishing = fleet(BROKER, site, n, 100);
  await waitFor(() => {
    if (!started && c.ingest.counters.accepted.summary > before) started = performance.now();
    return c.ingest.counters.accepted.summary - before >= n;
  }, 120_000).catch((e: Error) => {
    throw new Error(`${e.message}: ${c.ingest.counters.accepted.summary - before} of ${n} stored`);
  });
  const t1 = performance.now();
  await publishing;
  const rate = (n - 1) / ((t1 - started) / 1000);
  line('bare subscriber (baseline)', `${bareRate.toFixed(0)} msg/s`);
  line('collector: parse, validate, dedupe, store, rules', `${rate.toFixed(0)} summaries/s (${((t1 - t0) / 1000).toFixed(1)} s incl. start)`);
  line('rejected', String(c.ingest.rejectedTotal));
  ratio('collector / bare subscriber', rate / bareRate, 0.5);
  ratio('summaries per second (target >= 5000)', rate, 5000);

  header('alert latency: summary published -> signed webhook received');
  const pub = await connectAsync(BROKER, { clientId: `bench-pub-${stamp}` });
  const echo = await connectAsync(BROKER, { clientId: `bench-echo-${stamp}` });
  const echoAt: number[] = [];
  echo.on('message', () => echoAt.push(performance.now()));
  const lat = `lat-${stamp}`;
  await echo.subscribeAsync(`driftline/v1/${lat}/+/+/summary`, { qos: 1 });
  const alerts = 200;
  const sent: number[] = [];
  hooks.length = 0;
  for (let i = 0; i < alerts; i++) {
    const body = payload(lat, `cam${i}`, 1, 'alert');
    sent.push(performance.now());
    await pub.publishAsync(summaryTopic(lat, 'edge', `cam${i}`), body, { qos: 1 });
    await waitFor(() => hooks.length > i && echoAt.length > i, 10_000);
    await new Promise((r) => setTimeout(r, 10));
  }
  const latency = hooks.map((t, i) => t - sent[i]!);
  const mqttOnly = echoAt.map((t, i) => t - sent[i]!);
  line('MQTT publish -> receive (baseline)', `p50 ${q(mqttOnly, 0.5).toFixed(1)} ms, p99 ${q(mqttOnly, 0.99).toFixed(1)} ms`);
  line(`publish -> webhook (${alerts} alerts)`, `p50 ${q(latency, 0.5).toFixed(1)} ms, p99 ${q(latency, 0.99).toFixed(1)} ms`);
  ratio('alert p99 / MQTT p99', q(latency, 0.99) / q(mqttOnly, 0.99), 20, false);
  ratio('alert latency p99, ms (target < 1000)', q(latency, 0.99), 1000, false);
  await pub.endAsync();
  await echo.endAsync();
  await c.stop();
  server.close();
  await broker.stop();
}
