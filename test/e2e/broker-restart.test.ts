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
import { arrivalOrder, lastSeqs, testCollector, uniqueName, untilSubscribed } from '../helpers/collector.js';
import { TestBroker } from '../helpers/mosquitto.js';
import { releaser } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

const CAMERAS = ['a', 'b'] as const;
/** Windows per camera to see in each phase: before the outage, queued during it, sent live after it. */
const BEFORE = 3;
const DURING = 3;
const WINDOW_S = 1;
const windows = (n: number): number => n * WINDOW_S * 1000;

test('broker restart: every summary reaches the collector once, in seq order', { timeout: 120_000 }, async (t) => {
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const collector = await testCollector({ broker: { url: broker.url } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector); // before the agent's first window, which it must not miss
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  const site = uniqueName('site');
  const device = uniqueName('edge');
  const { config } = agentConfig(
    {
      model: { providers: ['cpu'] },
      store: { path: join(dir, 'agent.db') },
      telemetry: { windowSeconds: WINDOW_S },
      mqtt: { url: broker.url, site, device, reconnectMinMs: 100, reconnectMaxMs: 500, drainPerSecond: 200 },
      http: { port: 0 },
      cameras: CAMERAS.map((name, i) => ({ name, source: { kind: 'synthetic', width: 160, height: 120, fps: 10, seed: i + 1 } })),
    },
    {},
  );
  const agent = await startAgent(config, silentLogger);
  const stopAgent = release('agent', () => agent.stop());
  const link = agent.link!;
  const stored = (cam: string): number[] => collector.store.summaries(site, device, cam).map((s) => s.seq);
  const queued = (cam: string): number => link.outbox.next(0, 100_000).rows.filter((r) => r.topic.endsWith(`/${cam}/summary`)).length;

  await until(() => CAMERAS.every((c) => stored(c).length >= BEFORE), 30_000 + windows(BEFORE), `${BEFORE} summaries per camera before the outage`);
  await broker.stop();
  await until(() => CAMERAS.every((c) => queued(c) >= DURING), 10_000 + windows(3 * DURING), `${DURING} windows per camera queued in the outbox while the broker is down`);
  assert.equal(link.publisher.connected, false, 'the agent knows the broker is down');
  await broker.resume();
  await until(() => link.publisher.connected && link.outbox.size === 0, 30_000, 'the backlog to drain');
  const drained = Object.fromEntries(CAMERAS.map((c) => [c, lastSeqs(join(dir, 'agent.db'), [c])[c]!]));
  await until(() => CAMERAS.every((c) => stored(c).length > drained[c]!), 10_000 + windows(3), 'a window after the backlog, sent live');
  await stopAgent();

  const last = lastSeqs(join(dir, 'agent.db'), CAMERAS) as Record<(typeof CAMERAS)[number], number>;
  await until(() => CAMERAS.every((c) => stored(c).length === last[c]), 20_000, `all summaries (a ${last.a}, b ${last.b}) at the collector`);
  for (const cam of CAMERAS) {
    const all = Array.from({ length: last[cam] }, (_, i) => i + 1);
    assert.deepEqual(stored(cam), all, `camera ${cam}: seq 1..${last[cam]}, none lost`);
    assert.deepEqual(arrivalOrder(collector, site, device, cam), all, `camera ${cam}: stored in seq order, each once`);
    assert.ok(last[cam] >= BEFORE + DURING + 1, `camera ${cam}: the run spanned the outage (${last[cam]} windows)`);
  }
  assert.equal(collector.ingest.counters.accepted.summary, last.a + last.b, 'nothing stored twice');
});
