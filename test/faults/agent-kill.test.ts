/**
 * Fault: the agent is killed with SIGKILL (power cut, OOM killer) every 10-20 s over three cycles,
 * and started again each time on the same database. Each camera's seq continues from the database,
 * the outbox re-sends what the broker had not acknowledged, and the collector ends up with every
 * seq the agent committed, each once. A private Mosquitto keeps the machine's broker out of it.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lastSeqs, testCollector, uniqueName, untilSubscribed } from '../helpers/collector.js';
import { TestBroker } from '../helpers/mosquitto.js';
import { releaser } from '../helpers/ports.js';
import { sleep } from '../helpers/wait.js';
import { account, report, total, untilAllStored } from './accounting.js';
import { agentSetup, outboxRows, startAgent, storedCounts, untilAsync } from './processes.js';

const CYCLES = 3;

test(`agent killed with SIGKILL every 10-20 s, ${CYCLES} cycles: seq continues, the outbox re-sends, nothing lost or stored twice`, { timeout: 420_000 }, async (t) => {
  const t0 = Date.now();
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const collector = await testCollector({ broker: { url: broker.url, sessionExpirySeconds: 600 } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-fault-kill-'));
  const site = uniqueName('site');
  const device = uniqueName('fault-kill');
  // The killed runs send 1 a second of the 4 they produce, so every kill leaves unsent rows in the
  // outbox (and sometimes some awaiting their PUBACK); the last run drains at full speed.
  const setup = await agentSetup(dir, { url: broker.url, site, device, cameras: 4, windowSeconds: 1, mqtt: { drainPerSecond: 1 }, configName: 'slow.yaml' });
  const drain = await agentSetup(dir, { url: broker.url, site, device, cameras: 4, windowSeconds: 1 });
  const stored = (): Record<string, number> => storedCounts(collector.store.file, site, device);

  const cycles: string[] = [];
  let produced = 0;
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const agent = startAgent(release, `agent run ${cycle}`, setup);
    // The first run must be up and publishing before the clock starts; a later run, once it has
    // committed a summary of its own (a start on a loaded machine can take longer than the
    // lifetime, and a run killed while loading has nothing to test): from then on it is killed blind.
    if (cycle === 1) await untilAsync(() => setup.cameras.every((c) => (stored()[c] ?? 0) >= 2), 90_000, 'the first summaries', () => agent.stderr());
    else await untilAsync(() => total(lastSeqs(setup.db, setup.cameras)) > produced, 90_000, `a summary committed by run ${cycle}`, () => agent.stderr());
    const lifetime = 10_000 + Math.round(Math.random() * 10_000);
    await sleep(lifetime);
    assert.equal(agent.proc.exitCode, null, `run ${cycle} is still running when killed; it said: ${agent.stderr()}`);
    await agent.kill9();
    const now = total(lastSeqs(setup.db, setup.cameras));
    const left = outboxRows(setup.db);
    assert.ok(left > 0, `run ${cycle} left unsent rows in its outbox`);
    cycles.push(`run ${cycle}: killed after ${(lifetime / 1000).toFixed(1)} s, seqs ${produced} -> ${now}, ${left} left in the outbox`);
    produced = now;
  }
  // A last run sends what the killed ones left in the outbox, then stops cleanly (once it runs:
  // SIGTERM while it is still loading the model ends it by the signal's default).
  const last = startAgent(release, 'last agent run', drain);
  // A summary of this run at the collector: the backlog went before it (per camera, in seq order).
  await untilAsync(() => total(stored()) > produced, 90_000, 'a summary of the last run at the collector', () => `${JSON.stringify(stored())}; it said: ${last.stderr()}`);
  await last.stop();
  assert.equal(await last.exited, 0, `a clean stop; it said: ${last.stderr()}`);
  const of = { agentDb: setup.db, collectorDb: collector.store.file, site, device, cameras: setup.cameras };
  await untilAllStored(of);
  report(
    t,
    account(of),
    `${cycles.join('; ')}; duplicates at ingest=${collector.ingest.counters.duplicates.summary}; took ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
});
