/**
 * Fault: the collector is killed with SIGKILL in the middle of ingesting a backlog, three times,
 * and started again on the same store. It runs as `driftline collector` on an external broker (a
 * private Mosquitto, persistence on) with a persistent session, so the broker queues what arrives
 * while it is away and re-delivers what it had not acknowledged. It acknowledges a message only
 * after the group commit that stored it, so a kill between storing and acknowledging gives a
 * re-delivery (a duplicate at ingest), never a loss.
 *
 * "Mid-ingest": each restart meets a backlog (the agent publishes 4 summaries a second while the
 * collector is down), and the test kills it as soon as the first of that backlog is in its
 * database, while the rest is still arriving.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { lastSeqs, uniqueName } from '../helpers/collector.js';
import { TestBroker } from '../helpers/mosquitto.js';
import { freePort, releaser } from '../helpers/ports.js';
import { sleep } from '../helpers/wait.js';
import { account, report, untilAllStored } from './accounting.js';
import { agentSetup, driftline, startAgent, storedCounts, untilAsync, type Proc } from './processes.js';

const KILLS = 3;
/** How long the collector stays dead each time: the backlog it meets is 4 cameras x this many windows. */
const DOWN_S = 8;
const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

test(`collector killed with SIGKILL mid-ingest, ${KILLS} times, external broker: every seq stored once, nothing lost`, { timeout: 300_000 }, async (t) => {
  const t0 = Date.now();
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const dir = await mkdtemp(join(tmpdir(), 'driftline-fault-ckill-'));
  const collectorDb = join(dir, 'collector.db');
  const httpPort = await freePort();
  const collectorConfig = join(dir, 'collector.yaml');
  await writeFile(
    collectorConfig,
    JSON.stringify({
      broker: { url: broker.url, clientId: uniqueName('fault-collector'), sessionExpirySeconds: 600, reconnectMinMs: 100, reconnectMaxMs: 1000 },
      store: { path: collectorDb },
      http: { port: httpPort },
      notify: { mqtt: false },
    }),
  );
  let runs = 0;
  const startCollector = async (): Promise<Proc> => {
    const c = driftline(release, `collector run ${++runs}`, ['collector', '--config', collectorConfig]);
    await untilAsync(
      async () => ((await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { broker: boolean }).broker,
      60_000,
      `collector run ${runs} to subscribe`,
      () => `it said: ${c.stderr()}`,
    );
    return c;
  };
  let collector = await startCollector();

  const site = uniqueName('site');
  const device = uniqueName('fault-ckill');
  const setup = await agentSetup(dir, { url: broker.url, site, device, cameras: 4, windowSeconds: 1 });
  const agent = startAgent(release, 'agent', setup);
  const stored = (): Record<string, number> => storedCounts(collectorDb, site, device);
  await untilAsync(() => setup.cameras.every((c) => (stored()[c] ?? 0) >= 2), 90_000, 'the first summaries', () => `the agent said: ${agent.stderr()}`);

  const kills: string[] = [];
  for (let k = 1; k <= KILLS; k++) {
    await collector.kill9();
    const before = total(stored());
    await sleep(DOWN_S * 1000);
    const c = driftline(release, `collector run ${++runs}`, ['collector', '--config', collectorConfig]);
    // Watch its database closely and kill it as soon as the backlog starts landing.
    let atKill = before;
    const t1 = Date.now();
    const db = await openWhenThere(collectorDb);
    try {
      const q = db.prepare('SELECT count(*) AS n FROM summaries WHERE site = ? AND device = ?');
      while ((atKill = (q.get([site, device]) as { n: number }).n) <= before) {
        assert.ok(Date.now() - t1 < 60_000, `collector run ${runs} stored nothing of the backlog in 60 s; it said: ${c.stderr()}`);
        await sleep(2);
      }
    } finally {
      db.close();
    }
    await c.kill9();
    const produced = total(lastSeqs(setup.db, setup.cameras)); // read while the agent runs (WAL)
    kills.push(`kill ${k}: backlog ${produced - before}, ${atKill - before} stored at the kill`);
  }
  collector = await startCollector();
  await agent.stop();
  assert.equal(await agent.exited, 0, `the agent stops cleanly; it said: ${agent.stderr()}`);
  const of = { agentDb: setup.db, collectorDb, site, device, cameras: setup.cameras };
  await untilAllStored(of);
  await collector.stop();
  assert.equal(await collector.exited, 0, `the last collector stops cleanly; it said: ${collector.stderr()}`);
  report(t, account(of), `${kills.join('; ')}; took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
});

/** The collector's database, read-only, once the restarted collector has it open. */
async function openWhenThere(file: string): Promise<Database.Database> {
  for (;;) {
    try {
      return new Database(file, { readonly: true, fileMustExist: true });
    } catch {
      await sleep(5);
    }
  }
}

