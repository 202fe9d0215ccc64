/** Collectors and messages for tests: a collector on its own temp store and free ports, and valid summaries. */
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { collectorConfig } from '../../collector/config.js';
import { startCollector, type RunningCollector } from '../../collector/main.js';
import { silentLogger } from '../../lib/log.js';
import { SCHEMAS, type SummaryMessage } from '../../protocol/messages.js';
import { MACHINE_BROKER } from './mosquitto.js';
import { until } from './wait.js';

export const SHA = 'a'.repeat(64);

/** A unique name, so tests sharing the machine's broker never see each other's devices. */
export const uniqueName = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A running collector for tests, whose stop is idempotent. */
export type TestCollector = RunningCollector;

/**
 * A collector with a fresh store and free HTTP port. `broker` is an external broker URL or
 * omitted for the embedded one; the client id and share group are unique to this collector.
 * `stop()` may be called more than once (by the test and by its release): it runs once.
 */
export async function testCollector(raw: Record<string, Record<string, unknown>> = {}): Promise<TestCollector> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-collector-'));
  const id = uniqueName('test');
  const { config } = collectorConfig(
    {
      ...raw,
      broker: { port: 0, clientId: id, sessionExpirySeconds: 30, reconnectMinMs: 100, reconnectMaxMs: 1000, ...raw.broker },
      store: { path: join(dir, 'collector.db'), ...raw.store },
      http: { port: 0, ...raw.http },
      rules: { evalIntervalSeconds: 0.2, ...raw.rules },
      // Off unless a test asks: every collector on the machine's broker sees every test's devices,
      // and would publish alerts about them on topics another test watches.
      notify: { retryMinMs: 50, retryMaxMs: 500, mqtt: false, ...raw.notify },
    },
    {},
  );
  const running = await startCollector(config, silentLogger);
  const stop = running.stop.bind(running);
  let stopped: Promise<void> | undefined;
  running.stop = () => (stopped ??= stop());
  return running;
}

/** Waits until the collector has subscribed on its broker; a failure names the broker. */
export async function untilSubscribed(c: RunningCollector, ms = 10_000): Promise<void> {
  const which = c.brokerUrl === MACHINE_BROKER ? `the machine's Mosquitto (${MACHINE_BROKER})` : c.brokerUrl;
  await until(() => c.subscriber.connected, ms, `the collector to subscribe on ${which}`);
}

/** The seqs of a camera's summaries in the order the collector stored them (arrival order). */
export function arrivalOrder(c: RunningCollector, site: string, device: string, camera: string): number[] {
  const db = new Database(c.store.file, { readonly: true });
  try {
    return (db.prepare('SELECT seq FROM summaries WHERE site = ? AND device = ? AND camera = ? ORDER BY rowid').all([site, device, camera]) as { seq: number }[]).map((r) => r.seq);
  } finally {
    db.close();
  }
}

export function summaryMsg(site: string, device: string, camera: string, seq: number, o: Partial<SummaryMessage> = {}): SummaryMessage {
  const start = 1_790_000_000_000 + seq * 60_000;
  const f = (mean: number, std = 1, z: number | null = 0): { mean: number; std: number; min: number; max: number; z: number | null } => ({ mean, std, min: mean - 2 * std, max: mean + 2 * std, z });
  return {
    schema: SCHEMAS.summary,
    site,
    device,
    camera,
    seq,
    start,
    end: start + 59_000,
    frames: 120,
    dropped: 0,
    errors: 0,
    model: { name: 'line-detector.onnx', sha256: SHA },
    provider: 'cpu',
    status: 'ok',
    thresholds: 'calibrated',
    features: { brightness: f(120, 5), contrast: f(0.2, 0.01), sharpness: f(300, 20), entropy: f(6.5, 0.1), underExposed: f(0, 0), overExposed: f(0, 0), meanBoxArea: f(0.05, 0.01), meanAspect: f(1, 0.1) },
    drivers: [],
    scores: { 'psi:brightness': 0.01, 'js:classMix': null },
    rates: { uncertain: 0.1, ood: 0 },
    classCounts: { good: 100, scratch: 2 },
    confHist: { good: [0, 0, 1, 5], scratch: [1, 0, 0, 0] },
    latencyMs: { inference: { p50: 2.7, p95: 3.1, p99: 4, max: 5 } },
    ...o,
  };
}

/** The last summary seq the agent handed out per camera, read from its database (after it stopped). */
export function lastSeqs(agentDb: string, cameras: readonly string[]): Record<string, number> {
  const db = new Database(agentDb, { readonly: true });
  try {
    const q = db.prepare('SELECT seq FROM publish_seq WHERE stream = ?');
    return Object.fromEntries(cameras.map((c) => [c, (q.get([`${c}/summary`]) as { seq: number } | undefined)?.seq ?? 0]));
  } finally {
    db.close();
  }
}
