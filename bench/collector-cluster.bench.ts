/**
 * Collector replicas on PostgreSQL (docs/scale.md), through a private Mosquitto configured as in
 * production, fed by the same stand-in fleet as the collector benchmark (bench/fleet.ts: full-size
 * summaries, 100 cameras, QoS 1, from a separate process).
 * - baseline, in the same run: a bare mqtt.js subscriber counting what the publisher sends;
 * - one replica (`driftline collector` with store.url, its own process): summaries/s stored,
 *   counted in the database; target >= 5,000/s (issue 16);
 * - three replicas on one database with a shared subscription: the aggregate, beside one's.
 * Every process competes for this machine's cores with the broker, PostgreSQL and the publisher:
 * the CPU limit is the machine's (printed), not a per-process quota.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { endProcess, freePort } from '../test/helpers/ports.js';
import { testDatabase } from '../test/helpers/postgres.js';
import { PostgresStore, PRUNE_BATCH } from '../collector/store/postgres-store.js';
import type { SummaryMessage } from '../protocol/messages.js';
import { bareRound, productionBroker } from './collector.bench.js';
import { payload } from './fleet.js';
import { header, line, ratio } from './harness.js';

const FLEET = new URL('./fleet.ts', import.meta.url).pathname;
const CLI = new URL('../bin/driftline.js', import.meta.url).pathname;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function fleet(broker: string, site: string, n: number, cameras: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', FLEET, broker, site, String(n), String(cameras)], { stdio: ['ignore', 'ignore', 'inherit'] });
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`publisher exited ${code}`))));
  });
}

/** Starts `replicas` collector processes on a new database; measures summaries/s stored of n, counted in the database. */
async function replicaRate(broker: string, replicas: number, n: number, cleanup: (() => Promise<void>)[]): Promise<number> {
  const url = await testDatabase({ after: (f: () => Promise<void>) => void cleanup.push(f) }, `bench${replicas}`);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-bench-cluster-'));
  const group = `bench${process.pid}x${replicas}`;
  const procs: ChildProcess[] = [];
  try {
    for (let i = 0; i < replicas; i++) {
      const port = await freePort();
      const file = join(dir, `r${i}.yaml`);
      await writeFile(file, JSON.stringify({ broker: { url: broker, clientId: `${group}-r${i}`, shared: true, shareGroup: group, sessionExpirySeconds: 60 }, store: { url }, http: { port }, rules: { driftForSeconds: 0, evalIntervalSeconds: 3600 }, notify: { mqtt: false }, log: { level: 'warn' } }));
      const p = spawn(process.execPath, [CLI, 'collector', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DRIFTLINE_LOG_FORMAT: 'json' } });
      procs.push(p);
      for (let k = 0; k < 200; k++) {
        const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.json() as Promise<{ broker: boolean }>).catch(() => undefined);
        if (ok?.broker) break;
        await sleep(50);
      }
    }
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      // Progress from the 100 camera rows (each camera's seqs run 1, 2, 3…), not count(*): a count
      // every 20 ms scans the whole growing table, and that scan took a large share of PostgreSQL's
      // core from the replicas being measured. The last step is confirmed by an exact count.
      const progress = async (): Promise<number> => Number((await db.query<{ n: string }>('SELECT coalesce(sum(last_seq), 0) AS n FROM cameras')).rows[0]!.n);
      const exact = async (): Promise<number> => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM summaries')).rows[0]!.n);
      const count = async (): Promise<number> => {
        const soFar = await progress();
        return soFar < n ? soFar : exact();
      };
      const site = `ingest-${group}`;
      const publishing = fleet(broker, site, n, 100);
      let first = 0;
      let stored = 0;
      const t0 = performance.now();
      while (stored < n && performance.now() - t0 < 120_000) {
        stored = await count();
        if (!first && stored > 0) first = performance.now();
        if (stored < n) await sleep(20);
      }
      const t1 = performance.now();
      await publishing;
      if (stored < n) throw new Error(`${stored} of ${n} stored in 120 s`);
      return (n - 1) / ((t1 - first) / 1000);
    } finally {
      await db.end();
    }
  } finally {
    // A replica that does not stop is a finding, not a reason for the bench to hang: it is killed
    // after 30 s and named.
    await Promise.all(procs.map((p) => endProcess(p, 30_000)));
    const hung = procs.flatMap((p, i) => (p.signalCode === 'SIGKILL' ? [`r${i}`] : []));
    if (hung.length) process.stderr.write(`bench: replica ${hung.join(', ')} of ${replicas} did not stop within 30 s of SIGTERM; killed\n`);
  }
}

/**
 * Retention without long locks: 200,000 old rows deleted in batches (store.prune) while a writer
 * keeps inserting; the writer's commit latency beside the same writer's with nothing else running.
 */
async function retention(cleanup: (() => Promise<void>)[]): Promise<void> {
  const url = await testDatabase({ after: (f: () => Promise<void>) => void cleanup.push(f) }, 'benchprune');
  const store = await PostgresStore.open(url, { maxSeqJump: 10_000 });
  try {
    const old = 200_000;
    await store.pool.query(
      "INSERT INTO summaries (site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload) SELECT 'p', 'e', 'c' || (g % 100), g, 0, 0, 'ok', 1, g, repeat('x', 4000) FROM generate_series(1, $1) g",
      [old],
    );
    const body = payload('p', 'new', 1);
    let seq = 0;
    const writer = async (ms: number): Promise<number[]> => {
      const lat: number[] = [];
      const t0 = performance.now();
      while (performance.now() - t0 < ms) {
        store.beginBatch();
        const ps = Array.from({ length: 50 }, () => {
          const m = JSON.parse(body) as SummaryMessage;
          m.seq = ++seq;
          return store.stageSummary({ ...m, camera: 'new' }, Date.now(), body);
        });
        const t = performance.now();
        await store.commitBatch();
        await Promise.all(ps);
        lat.push(performance.now() - t);
      }
      return lat.sort((a, b) => a - b);
    };
    const alone = await writer(3000);
    const pruning = store.prune(old + 1 + 1_000_000, 1_000_000, 1e12);
    const during = await writer(3000);
    const deleted = await pruning;
    const p = (xs: number[], q: number): string => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!.toFixed(1);
    header(`retention on PostgreSQL: ${deleted} rows deleted in batches of ${PRUNE_BATCH}, while a writer commits bursts of 50 summaries`);
    line('retention batches, longest', `${store.pruneStats.batches} batches, longest ${store.pruneStats.longestMs.toFixed(0)} ms`);
    line('writer commit latency, alone', `p50 ${p(alone, 0.5)} ms, p99 ${p(alone, 0.99)} ms`);
    line('writer commit latency, during retention', `p50 ${p(during, 0.5)} ms, p99 ${p(during, 0.99)} ms`);
    ratio('commit p99 during retention / alone', Number(p(during, 0.99)) / Number(p(alone, 0.99)), 3, false);
  } finally {
    await store.close();
  }
}

export async function bench(seconds: number): Promise<void> {
  const n = Math.max(10_000, Math.round(seconds * 3000));
  header(`collector replicas on PostgreSQL through Mosquitto: ${n} summaries, 100 cameras, QoS 1; ${os.cpus().length} cores shared by every process (no per-process CPU limit)`);
  // The broker and the baseline of the collector bench: Mosquitto with deploy/mosquitto's settings.
  const broker = await productionBroker();
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const bare = (await bareRound(broker.url, broker.pid, `${process.pid}-${Date.now()}`, n)).rate;
    const one = await replicaRate(broker.url, 1, n, cleanup);
    const three = await replicaRate(broker.url, 3, n, cleanup);
    line('bare subscriber (baseline)', `${bare.toFixed(0)} msg/s`);
    line('1 replica on PostgreSQL', `${one.toFixed(0)} summaries/s`);
    line('3 replicas on PostgreSQL, aggregate', `${three.toFixed(0)} summaries/s (${(three / one).toFixed(2)} x one)`);
    // Beside the baseline, for reference: the target for replicas is the rate itself (below).
    line('1 replica / bare subscriber', (one / bare).toFixed(3));
    ratio('1 replica, summaries per second (target >= 5000)', one, 5000);
    await retention(cleanup);
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    await broker.stop();
  }
}
