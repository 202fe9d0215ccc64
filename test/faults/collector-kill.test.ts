/**
 * Fault: the collector is killed with SIGKILL in the middle of ingesting a backlog, three times,
 * and started again on the same store (and, for its embedded broker, on the same port).
 *
 * External broker: it runs as `driftline collector` on a private Mosquitto (persistence on) with a
 * persistent session, so the broker queues what arrives while it is away and re-delivers what it
 * had not acknowledged. It acknowledges a message only after the group commit that stored it, so a
 * kill between storing and acknowledging gives a re-delivery (a duplicate at ingest), never a loss.
 *
 * Embedded broker (aedes, in the collector's process: the default, for the demo and small sites):
 * the kill takes the broker down with it, and with it every session and queued message (aedes keeps
 * them in memory). What should make that safe is the agent's outbox: what it has not seen
 * acknowledged stays there, and the agent sends it again once the collector is back on its port,
 * and the collector stores each message before its broker acknowledges it.
 *
 * "Mid-ingest": each restart meets a backlog (the agent publishes 4 summaries a second while the
 * collector is down), and the test kills it as soon as the first of that backlog is in its
 * database, while the rest is still arriving.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { lastSeqs, uniqueName } from '../helpers/collector.js';
import { TestBroker } from '../helpers/mosquitto.js';
import { freePort, releaser, type Release } from '../helpers/ports.js';
import { sleep } from '../helpers/wait.js';
import { account, report, total, untilAllStored } from './accounting.js';
import { agentSetup, outboxRows, driftline, startAgent, storedCounts, untilAsync, type Proc } from './processes.js';

const KILLS = 3;
/** How long the collector stays dead each time: the backlog it meets is 4 cameras x this many windows. */
const DOWN_S = 8;

test(`collector killed with SIGKILL mid-ingest, ${KILLS} times, external broker: every seq stored once, nothing lost`, { timeout: 300_000 }, async (t) => {
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  await killMidIngest(t, release, {
    name: 'ckill',
    brokerUrl: broker.url,
    broker: { url: broker.url, clientId: uniqueName('fault-collector'), sessionExpirySeconds: 600, reconnectMinMs: 100, reconnectMaxMs: 1000 },
  });
});

/**
 * The embedded broker acknowledges a device's QoS 1 PUBLISH as soon as it is authorised, before any
 * subscriber has it (aedes, lib/handlers/publish.js); so the collector stores each device message
 * inside that authorisation (EmbeddedBrokerOptions.storeBeforeAck), and starts the broker only once
 * its store can keep what arrives. This test lost 58-138 summaries per run before that.
 */

test(`collector with its embedded broker killed with SIGKILL mid-ingest, ${KILLS} times: the agent's outbox re-sends, every seq stored once, nothing lost`, { timeout: 300_000 }, async (t) => {
  const release = releaser(t);
  // The broker lives and dies with the collector: the same port on every restart, so the agent finds it again.
  const port = await freePort();
  await killMidIngest(t, release, {
    name: 'ckill-embedded',
    brokerUrl: `mqtt://127.0.0.1:${port}`,
    broker: { host: '127.0.0.1', port, clientId: uniqueName('fault-collector'), reconnectMinMs: 100, reconnectMaxMs: 1000 },
  });
});

/**
 * The scenario: a collector (`driftline collector`, its `broker` section as given) and a 4-camera
 * agent on `brokerUrl`; KILLS times the collector is killed, stays down DOWN_S, is started again
 * and killed as soon as the first of the backlog is in its database; then a last collector takes
 * everything, the agent stops, and the accounting line must say lost=0 duplicated=0.
 */
async function killMidIngest(t: TestContext, release: Release, o: { name: string; brokerUrl: string; broker: Record<string, unknown> }): Promise<void> {
  const t0 = Date.now();
  const dir = await mkdtemp(join(tmpdir(), `driftline-fault-${o.name}-`));
  const collectorDb = join(dir, 'collector.db');
  const collectorConfig = join(dir, 'collector.yaml');
  await writeFile(collectorConfig, JSON.stringify({ broker: o.broker, store: { path: collectorDb }, http: { port: 0 }, notify: { mqtt: false } }));
  let runs = 0;
  const startCollector = async (): Promise<Proc> => {
    const c = driftline(release, `collector run ${++runs}`, ['collector', '--config', collectorConfig]);
    await untilAsync(
      // Port 0: each run listens on a port of its own choosing, named in its started line.
      async () => c.http() !== undefined && ((await (await fetch(`${c.http()}/healthz`)).json()) as { broker: boolean }).broker,
      60_000,
      `collector run ${runs} to subscribe`,
      () => `it said: ${c.stderr()}`,
    );
    return c;
  };
  let collector = await startCollector();

  const site = uniqueName('site');
  const device = uniqueName(`fault-${o.name}`);
  const setup = await agentSetup(dir, { url: o.brokerUrl, site, device, cameras: 4, windowSeconds: 1 });
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
  // With the embedded broker the backlog is still in the agent's outbox (the broker died with the
  // collector): it drains once the agent has reconnected. Stopping before that would leave it there.
  await untilAsync(() => outboxRows(setup.db) === 0, 60_000, 'the agent to drain its outbox', () => `the agent said: ${agent.stderr()}`);
  await agent.stop();
  assert.equal(await agent.exited, 0, `the agent stops cleanly; it said: ${agent.stderr()}`);
  const of = { agentDb: setup.db, collectorDb, site, device, cameras: setup.cameras };
  await untilAllStored(of);
  await collector.stop();
  assert.equal(await collector.exited, 0, `the last collector stops cleanly; it said: ${collector.stderr()}`);
  report(t, account(of), `${kills.join('; ')}; took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

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

