/**
 * Fault: the collector's store refuses commits. Its database lives on a small tmpfs; mid-run the
 * test fills that tmpfs, so SQLite's group commit fails ("database or disk is full"). The collector
 * rolls the batch back and drops its broker connection with the PUBACKs unsent, so the broker
 * re-delivers them (docs/mqtt.md: "the collector acknowledges a message only after storing it").
 * Once the test frees the space, everything is stored, each seq once.
 *
 * The tmpfs needs root (mount). Without it the scenario is skipped: the collector's database
 * handle is private to its store, so SQLite's max_page_count (what the outbox test uses) cannot be
 * set on it from outside, and source code is not changed for a test.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { testCollector, uniqueName, untilSubscribed } from '../helpers/collector.js';
import { TestBroker } from '../helpers/mosquitto.js';
import { releaser } from '../helpers/ports.js';
import { sleep } from '../helpers/wait.js';
import { account, report, total, untilAllStored } from './accounting.js';
import { fill, tmpfs } from './disk.js';
import { agentSetup, startAgent, storedCounts, untilAsync } from './processes.js';

const FULL_S = 15;

test(`collector store refuses commits (disk full for ${FULL_S} s): unacknowledged messages are re-delivered, each seq stored once`, { timeout: 300_000 }, async (t) => {
  const t0 = Date.now();
  const release = releaser(t);
  const disk = await tmpfs(release, '32m');
  if (!disk) {
    t.skip('needs root to mount a tmpfs (the collector database handle is private: no max_page_count from outside)');
    return;
  }
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const collector = await testCollector({ broker: { url: broker.url, sessionExpirySeconds: 600 }, store: { path: join(disk, 'collector.db') } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-fault-cfull-'));
  const site = uniqueName('site');
  const device = uniqueName('fault-cfull');
  const setup = await agentSetup(dir, { url: broker.url, site, device, cameras: 4, windowSeconds: 1 });
  const agent = startAgent(release, 'agent', setup);
  const stored = (): Record<string, number> => storedCounts(collector.store.file, site, device);
  await untilAsync(() => setup.cameras.every((c) => (stored()[c] ?? 0) >= 2), 90_000, 'the first summaries', () => `the agent said: ${agent.stderr()}`);

  const filler = fill(disk);
  const storedWhenFull = total(stored());
  const acceptedWhenFull = collector.ingest.counters.accepted.summary;
  await sleep(FULL_S * 1000);
  // Summaries that ingest handled but whose commit was rolled back: counted as accepted, not stored.
  const rolledBack = collector.ingest.counters.accepted.summary - acceptedWhenFull - (total(stored()) - storedWhenFull);
  assert.ok(rolledBack >= 4, `commits failed while the disk was full (${rolledBack} summaries rolled back; stored ${storedWhenFull} -> ${total(stored())})`);
  rmSync(filler);

  await untilAsync(() => collector.subscriber.connected, 30_000, 'the collector back on the broker once there is room');
  await agent.stop();
  assert.equal(await agent.exited, 0, `a clean stop; it said: ${agent.stderr()}`);
  const of = { agentDb: setup.db, collectorDb: collector.store.file, site, device, cameras: setup.cameras };
  await untilAllStored(of);
  report(
    t,
    account(of),
    `disk full ${FULL_S} s: ${rolledBack} summaries rolled back and re-delivered; duplicates at ingest=${collector.ingest.counters.duplicates.summary}; took ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
});
