/**
 * The collector's MQTT session against a real Mosquitto: a message the store refuses is not
 * acknowledged and comes again, and nothing after it on that connection is stored first.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import { Subscriber } from '../../../collector/broker/subscriber.js';
import { silentLogger } from '../../../lib/log.js';
import { summaryTopic } from '../../../protocol/topics.js';
import { uniqueName } from '../../helpers/collector.js';
import { TestBroker } from '../../helpers/mosquitto.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

test('a message the store refuses is re-delivered, and none after it is stored before it', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const stored: number[] = [];
  let refuse = true;
  const sub = new Subscriber({
    url: broker.url,
    client: { clientId: uniqueName('collector') },
    protocolVersion: 5,
    sessionExpirySeconds: 60,
    backoff: { initialMs: 100, maxMs: 200, jitter: 0 },
    log: silentLogger,
    onMessage: (_topic, payload) => {
      const seq = (JSON.parse(payload.toString()) as { seq: number }).seq;
      if (seq === 2 && refuse) {
        refuse = false;
        throw new Error('database or disk is full');
      }
      stored.push(seq);
    },
    batch: { begin: () => undefined, commit: () => undefined },
  });
  sub.start();
  release('subscriber', () => sub.stop());
  await until(() => sub.connected, 10_000, 'subscribed');
  const dev = await connectAsync(broker.url, { clientId: uniqueName('device') });
  release('device', () => dev.endAsync());
  const topic = summaryTopic('s', uniqueName('d'), 'c');
  // One burst: published back to back, they reach the collector in one read.
  await Promise.all([1, 2, 3, 4, 5].map((seq) => dev.publishAsync(topic, JSON.stringify({ seq }), { qos: 1 })));
  await until(() => [1, 2, 3, 4, 5].every((s) => stored.includes(s)), 20_000, 'every seq stored');
  const first = (s: number): number => stored.indexOf(s);
  for (const s of [3, 4, 5]) assert.ok(first(2) < first(s), `seq 2 is stored before ${s}: ${stored.join(' ')}`);
});
