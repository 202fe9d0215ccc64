/**
 * Issue 11, "done when": a generated fuzz of each MQTT message kind (status, summary, event; 5,000
 * messages) through a real Mosquitto leaves the collector subscribed throughout, and a control
 * device's publish-to-store p99 stays within 1 s of its p99 in the same run without the fuzz.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { connectAsync, type MqttClient } from 'mqtt';
import { Rng } from '../../../agent/synth/rng.js';
import { SCHEMAS } from '../../../protocol/messages.js';
import { eventTopic, statusTopic, summaryTopic } from '../../../protocol/topics.js';
import { SHA, summaryMsg, testCollector, uniqueName, untilSubscribed } from '../../helpers/collector.js';
import { TestBroker } from '../../helpers/mosquitto.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.99) - 1)]!;

/** A malformed or hostile message of one kind, built from a valid one. */
function hostile(rng: Rng, site: string, device: string, i: number): { topic: string; payload: Buffer; retain: boolean } {
  const kind = (['status', 'summary', 'event'] as const)[i % 3]!;
  const base: Record<string, unknown> =
    kind === 'status'
      ? { schema: SCHEMAS.status, site, device, state: 'online', ts: Date.now(), agent: { version: '1' }, model: { name: 'm', sha256: SHA }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60, epoch: 'e1' }
      : kind === 'summary'
        ? (summaryMsg(site, device, 'c', rng.int(1, 2 ** 40)) as unknown as Record<string, unknown>)
        : { schema: SCHEMAS.event, site, device, camera: 'c', seq: rng.int(1, 1e6), ts: Date.now(), kind: 'modelChanged', message: 'x', detail: { current: SHA } };
  const keys = Object.keys(base);
  const wrong = [null, -1, 1e308, 'x'.repeat(rng.int(0, 3000)), [], {}, true, { $gt: 0 }, '\u0000', NaN];
  switch (rng.int(0, 7)) {
    case 0:
      delete base[keys[rng.int(0, keys.length - 1)]!];
      break;
    case 1:
      base[keys[rng.int(0, keys.length - 1)]!] = wrong[rng.int(0, wrong.length - 1)];
      break;
    case 2:
      base.detail = { current: rng.int(0, 9), attempts: [{ provider: 1 }] };
      break;
    case 3:
      base.extra = JSON.parse('['.repeat(40) + ']'.repeat(40));
      break;
    case 4:
      base.device = uniqueName('other'); // identity mismatch with the topic
      break;
    case 5:
      base.end = base.ts = Date.now() + 1e9;
      break;
    case 6:
      return { topic: kind === 'status' ? statusTopic(site, device) : `driftline/v1/${site}/${device}/c/${kind}`, payload: Buffer.from(Array.from({ length: rng.int(0, 400) }, () => rng.int(0, 255))), retain: false };
    default:
      break; // valid: a device that repeats itself, or jumps its seq
  }
  const topic = kind === 'status' ? statusTopic(site, device) : kind === 'summary' ? summaryTopic(site, device, 'c') : eventTopic(site, device, 'c');
  return { topic, payload: Buffer.from(JSON.stringify(base)), retain: kind === 'status' && rng.int(0, 9) === 0 };
}

/** The control device: `n` summaries, 20 a second; returns each one's publish-to-store latency, ms. */
async function control(client: MqttClient, db: () => Database.Database, site: string, device: string, from: number, n: number): Promise<number[]> {
  const sent = new Map<number, number>();
  for (let seq = from; seq < from + n; seq++) {
    sent.set(seq, Date.now());
    await client.publishAsync(summaryTopic(site, device, 'cam'), JSON.stringify(summaryMsg(site, device, 'cam', seq)), { qos: 1 });
    await new Promise((r) => setTimeout(r, 50));
  }
  const q = db().prepare('SELECT seq, received_ts AS at FROM summaries WHERE site = ? AND device = ? AND seq >= ? AND seq < ?');
  let rows: { seq: number; at: number }[] = [];
  await until(() => (rows = q.all([site, device, from, from + n]) as { seq: number; at: number }[]).length === n, 30_000, `the control device's ${n} summaries`);
  return rows.map((r) => r.at - sent.get(r.seq)!);
}

test('5,000 hostile messages of every kind: the collector stays subscribed, the control device is not slowed by more than 1 s', { timeout: 180_000 }, async (t) => {
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const c = await testCollector({ broker: { url: broker.url } });
  release('collector', () => c.stop());
  await untilSubscribed(c);
  const site = uniqueName('fz');
  const good = uniqueName('control');
  const controlClient = await connectAsync(broker.url, { clientId: uniqueName('control') });
  release('control client', () => controlClient.endAsync());
  const fuzzClient = await connectAsync(broker.url, { clientId: uniqueName('fuzzer') });
  release('fuzz client', () => fuzzClient.endAsync());
  let reader: Database.Database | undefined;
  release('reader', () => reader?.close());
  const db = (): Database.Database => (reader ??= new Database(c.store.file, { readonly: true }));
  let unsubscribed = 0;
  const watch = setInterval(() => (unsubscribed += c.subscriber.connected ? 0 : 1), 20);
  release('watch', () => clearInterval(watch));

  const quiet = await control(controlClient, db, site, good, 1, 100);
  const rng = new Rng(5);
  let fuzzed = 0;
  const fuzz = (async () => {
    for (; fuzzed < 5000; fuzzed++) {
      const m = hostile(rng, site, `dev-${fuzzed % 7}`, fuzzed);
      await fuzzClient.publishAsync(m.topic, m.payload, { qos: fuzzed % 2 ? 1 : 0, retain: m.retain });
    }
  })();
  const busy = await control(controlClient, db, site, good, 101, 100);
  await fuzz;
  await until(() => c.ingest.counters.received >= 5000 + 200, 60_000, 'every fuzzed message handled');
  t.diagnostic(`control p99: ${p99(quiet)} ms quiet, ${p99(busy)} ms under the fuzz; rejected ${JSON.stringify(c.ingest.counters.rejected)}, quarantined ${c.ingest.counters.quarantined}, rule errors ${c.ingest.counters.ruleErrors}`);
  assert.equal(unsubscribed, 0, 'subscribed throughout');
  assert.equal(c.ingest.counters.failed, 0);
  assert.ok(p99(busy) <= p99(quiet) + 1000, `p99 ${p99(busy)} ms under the fuzz vs ${p99(quiet)} ms without`);
  assert.ok(c.ingest.rejectedTotal > 2000, 'the fuzz was mostly refused, as built');
  const health = await (await fetch(`${c.httpUrl}/healthz`)).json();
  assert.deepEqual(health, { ok: true, broker: true });
});
