/**
 * A plant's broker goes down during a run. The agent keeps producing windows into its outbox; when
 * the broker is back, the backlog drains and the collector ends up with every summary exactly once,
 * in seq order. Both the agent and the collector are the real ones; the broker is a private
 * Mosquitto (persistence on, as in production) so stopping it leaves the machine's broker alone.
 *
 * The collector's persistent session is what carries the backlog the agents send before the
 * collector has reconnected. Mosquitto 2.0.11 does not keep that queue for a shared subscription
 * across its restart (measured: seq 4-7 of 9 lost), which is why `broker.shared` is off by default.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentConfig } from '../../agent/config.js';
import { startAgent } from '../../agent/main.js';
import { silentLogger } from '../../lib/log.js';
import { lastSeqs, testCollector, uniqueName } from '../helpers/collector.js';
import { TestBroker } from '../helpers/mosquitto.js';
import { sleep, until } from '../helpers/wait.js';

test('broker restart: every summary reaches the collector once, in seq order', { timeout: 120_000 }, async (t) => {
  const broker = await TestBroker.start();
  t.after(() => broker.stop());
  const collector = await testCollector({ broker: { url: broker.url } });
  t.after(() => collector.stop());
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  const site = uniqueName('site');
  const { config } = agentConfig(
    {
      model: { providers: ['cpu'] },
      store: { path: join(dir, 'agent.db') },
      telemetry: { windowSeconds: 1 },
      mqtt: { url: broker.url, site, device: 'edge', reconnectMinMs: 100, reconnectMaxMs: 500, drainPerSecond: 200 },
      cameras: ['a', 'b'].map((name, i) => ({ name, source: { kind: 'synthetic', width: 160, height: 120, fps: 10, seed: i + 1 } })),
    },
    {},
  );
  const agent = await startAgent(config, silentLogger);
  const stored = (cam: string): number[] => collector.store.summaries(site, 'edge', cam).map((s) => s.seq);
  try {
    await until(() => stored('a').length >= 3 && stored('b').length >= 3, 30_000, 'summaries before the outage');
    await broker.stop();
    const before = agent.link!.outbox.size;
    await sleep(4000); // windows keep closing into the outbox
    assert.ok(agent.link!.outbox.size >= before + 4, `the outbox holds what could not be sent (${agent.link!.outbox.size})`);
    assert.equal(agent.link!.publisher.connected, false);
    await broker.resume();
    await until(() => agent.link!.publisher.connected && agent.link!.outbox.size === 0, 30_000, 'the backlog to drain');
    await sleep(1500);
  } finally {
    await agent.stop();
  }
  const last = lastSeqs(join(dir, "agent.db"), ["a", "b"]) as { a: number; b: number };
  await until(() => stored('a').length === last.a && stored('b').length === last.b, 20_000, `all summaries (a ${last.a}, b ${last.b}) at the collector; have a ${stored("a").join(",")} b ${stored("b").join(",")}`);
  for (const cam of ['a', 'b'] as const) {
    assert.deepEqual(stored(cam), Array.from({ length: last[cam] }, (_, i) => i + 1), `camera ${cam}: seq 1..${last[cam]}, each once`);
  }
  assert.ok(last.a >= 8, `the run spanned the outage (${last.a} windows)`);
  assert.equal(collector.ingest.counters.accepted.summary, last.a + last.b, 'nothing stored twice');
});
