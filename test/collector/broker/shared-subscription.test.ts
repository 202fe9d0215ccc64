/**
 * broker.shared: two collector replicas in one share group on the machine's Mosquitto split a
 * fleet's summaries between them; together they hold every one exactly once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summaryTopic } from '../../../protocol/topics.js';
import { summaryMsg, testCollector, uniqueName, untilSubscribed, type TestCollector } from '../../helpers/collector.js';
import { machineClient, MACHINE_BROKER } from '../../helpers/mosquitto.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

test('shared subscription: replicas split the load, nothing is stored twice or lost', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const group = uniqueName('group');
  const replicas: TestCollector[] = [];
  for (const name of ['replica 1', 'replica 2']) {
    const r = await testCollector({ broker: { url: MACHINE_BROKER, shared: true, shareGroup: group } });
    release(name, () => r.stop());
    replicas.push(r);
  }
  for (const r of replicas) await untilSubscribed(r);
  const site = uniqueName('site');
  const device = uniqueName('edge');
  const mq = await machineClient('fleet');
  release('fleet client', () => mq.endAsync());
  const cameras = ['c0', 'c1', 'c2', 'c3'];
  const total = 50 * cameras.length;
  for (let seq = 1; seq <= 50; seq++) {
    for (const cam of cameras) await mq.publishAsync(summaryTopic(site, device, cam), JSON.stringify(summaryMsg(site, device, cam, seq)), { qos: 1 });
  }
  const held = (r: TestCollector): string[] => cameras.flatMap((cam) => r.store.summaries(site, device, cam).map((s) => `${cam}#${s.seq}`));
  await until(() => held(replicas[0]!).length + held(replicas[1]!).length >= total, 20_000, `all ${total} summaries`);
  const [a, b] = replicas.map(held) as [string[], string[]];
  assert.ok(a.length > 0 && b.length > 0, `both replicas took a share (${a.length} / ${b.length})`);
  assert.equal(a.length + b.length, total, 'none at both replicas');
  assert.equal(new Set([...a, ...b]).size, total, 'none lost');
});
