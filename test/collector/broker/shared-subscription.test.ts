/**
 * broker.shared: two collector replicas in one share group on the machine's Mosquitto split a
 * fleet's summaries between them; together they hold every one exactly once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import { summaryTopic } from '../../../protocol/topics.js';
import { summaryMsg, testCollector, uniqueName } from '../../helpers/collector.js';
import { MACHINE_BROKER } from '../../helpers/mosquitto.js';
import { until } from '../../helpers/wait.js';

test('shared subscription: replicas split the load, nothing is stored twice or lost', { timeout: 60_000 }, async (t) => {
  const group = uniqueName('group');
  const replicas = await Promise.all([0, 1].map(() => testCollector({ broker: { url: MACHINE_BROKER, shared: true, shareGroup: group } })));
  t.after(() => Promise.all(replicas.map((r) => r.stop())));
  await until(() => replicas.every((r) => r.subscriber.connected), 10_000, 'both replicas to subscribe');
  const site = uniqueName('site');
  const mq = await connectAsync(MACHINE_BROKER, { clientId: uniqueName('fleet') });
  t.after(() => mq.endAsync());
  const cameras = ['c0', 'c1', 'c2', 'c3'];
  for (let seq = 1; seq <= 50; seq++) {
    for (const cam of cameras) await mq.publishAsync(summaryTopic(site, 'edge', cam), JSON.stringify(summaryMsg(site, 'edge', cam, seq)), { qos: 1 });
  }
  const held = (r: (typeof replicas)[number]): string[] => cameras.flatMap((cam) => r.store.summaries(site, 'edge', cam).map((s) => `${cam}#${s.seq}`));
  await until(() => held(replicas[0]!).length + held(replicas[1]!).length === 200, 20_000, 'all 200 summaries');
  const [a, b] = replicas.map(held) as [string[], string[]];
  assert.ok(a.length > 0 && b.length > 0, `both replicas took a share (${a.length} / ${b.length})`);
  assert.equal(new Set([...a, ...b]).size, 200, 'no summary at both');
});
