/**
 * Fault: the agent's data directory runs out of space. Its store and review folder live on a small
 * tmpfs; mid-run the test fills the tmpfs to the last byte with a file of its own, as a log or a
 * copied video would. The agent keeps running: its writes fail with the disk full, it gives up its
 * reserve file and sheds review frames and per-frame telemetry (never the outbox) until writes fit, and a `storageFull` event reaches
 * the collector. Once the test deletes its file, the agent reports `storageRecovered`. Every summary
 * the agent committed to its outbox is stored at the collector, once.
 *
 * The tmpfs needs root (mount); without it the scenario is skipped. (Without a real full disk the
 * agent's own unit tests cover the same paths through SQLite's max_page_count.)
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { testCollector, uniqueName, untilSubscribed } from '../helpers/collector.js';
import { TestBroker } from '../helpers/mosquitto.js';
import { releaser } from '../helpers/ports.js';
import { sleep } from '../helpers/wait.js';
import { account, report, total, untilAllStored } from './accounting.js';
import { fill, tmpfs } from './disk.js';
import { storedEvents } from './events.js';
import { driftline, storedCounts, untilAsync } from './processes.js';

const FULL_S = 20;
const CAMERAS = ['cam1', 'cam2', 'cam3', 'cam4'];

/** Per-frame rows in the agent's store, read while it runs (WAL: a reader does not block it). */
function frames(agentDb: string): number {
  const db = new Database(agentDb, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    return (db.prepare('SELECT count(*) AS n FROM frames').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

test(`agent data directory full for ${FULL_S} s: it keeps running, sheds telemetry, reports storageFull then storageRecovered, and loses no summary`, { timeout: 300_000 }, async (t) => {
  const t0 = Date.now();
  const release = releaser(t);
  const disk = await tmpfs(release, '24m');
  if (!disk) {
    t.skip('needs root to mount a tmpfs');
    return;
  }
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const collector = await testCollector({ broker: { url: broker.url, sessionExpirySeconds: 600 } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector);

  const site = uniqueName('site');
  const device = uniqueName('fault-afull');
  const confDir = await mkdtemp(join(tmpdir(), 'driftline-fault-afull-conf-'));
  const config = join(confDir, 'agent.yaml');
  const agentDb = join(disk, 'agent.db');
  await writeFile(
    config,
    JSON.stringify({
      model: { providers: ['cpu'], threads: 1 },
      store: { path: agentDb, minFreeBytes: 2 << 20, retentionIntervalSeconds: 2, flushMs: 250 },
      telemetry: { windowSeconds: 2 },
      review: { enabled: true, dir: join(disk, 'review'), maxPerHour: 3600 },
      mqtt: { url: broker.url, site, device, reconnectMinMs: 100, reconnectMaxMs: 1000, drainPerSecond: 200 },
      http: { port: 0 },
      cameras: CAMERAS.map((name, i) => ({ name, source: { kind: 'synthetic', width: 96, height: 72, fps: 6, seed: i + 1 } })),
    }),
  );
  const agent = driftline(release, 'agent', ['agent', '--config', config]);
  const stored = (): Record<string, number> => storedCounts(collector.store.file, site, device);
  const said = (): string => `the agent said: ${agent.stderr()}`;
  // Enough telemetry that shedding it frees something worth having.
  await untilAsync(() => CAMERAS.every((c) => (stored()[c] ?? 0) >= 3) && frames(agentDb) > 200, 120_000, 'the first summaries and frames', said);

  assert.ok(existsSync(`${agentDb}.reserve`), 'the agent keeps a reserve file for room to shed in');
  const ballast = fill(disk);
  const framesWhenFull = frames(agentDb);
  const storedWhenFull = total(stored());
  await untilAsync(() => storedEvents(collector.store.file, site, device, 'storageFull').length === CAMERAS.length, 60_000, 'a storageFull event on every camera', said);
  await sleep(FULL_S * 1000);
  assert.equal(agent.proc.exitCode, null, `the agent is still running; ${said()}`);
  const full = storedEvents(collector.store.file, site, device, 'storageFull');
  assert.deepEqual(full.map((e) => e.camera).sort(), CAMERAS, 'one report per camera, not one per failed write');
  assert.ok(Number(full[0]!.detail.framesShed) > 0 || frames(agentDb) < framesWhenFull, `telemetry was shed: ${JSON.stringify(full[0]!.detail)}, frames ${framesWhenFull} -> ${frames(agentDb)}`);
  assert.ok(total(stored()) > storedWhenFull + CAMERAS.length, `summaries kept coming while the disk was full (${storedWhenFull} -> ${total(stored())})`);

  rmSync(ballast);
  await untilAsync(() => storedEvents(collector.store.file, site, device, 'storageRecovered').length === CAMERAS.length, 60_000, 'a storageRecovered event on every camera', said);
  const recovered = storedEvents(collector.store.file, site, device, 'storageRecovered')[0]!.detail;
  assert.ok(Number(recovered.freeBytes) >= 2 * (2 << 20) && Number(recovered.fullForSeconds) >= FULL_S, JSON.stringify(recovered));
  await untilAsync(() => existsSync(`${agentDb}.reserve`), 30_000, 'the reserve made again once there is room', said);
  await sleep(3000);
  assert.equal(storedEvents(collector.store.file, site, device, 'storageFull').length, CAMERAS.length, 'no second storageFull once there is room');

  await agent.stop();
  assert.equal(await agent.exited, 0, `a clean stop; ${said()}`);
  const of = { agentDb, collectorDb: collector.store.file, site, device, cameras: CAMERAS };
  await untilAllStored(of);
  report(t, account(of), `disk full ${FULL_S} s: frames ${framesWhenFull} when full; storageFull ${JSON.stringify(full[0]!.detail)}; took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
});
