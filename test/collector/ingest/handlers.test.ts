/**
 * Issue 11, finding 1: one bad event stalled ingest for the whole fleet. A modelChanged event whose
 * detail.current was a number passed the schema, the rules threw, and the collector dropped its
 * broker connection for every message like it. Now the schema constrains what the rules read, a rule
 * that throws anyway is contained (counted, logged, ingest goes on), and only a store failure makes
 * a message come again.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { handlers } from '../../../collector/ingest/handlers.js';
import { Ingest } from '../../../collector/ingest/ingest.js';
import { RuleEngine } from '../../../collector/rules/engine.js';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import { silentLogger } from '../../../lib/log.js';
import { SCHEMAS, type EventMessage } from '../../../protocol/messages.js';
import { eventTopic, summaryTopic } from '../../../protocol/topics.js';
import { summaryMsg, testCollector, uniqueName, untilSubscribed } from '../../helpers/collector.js';
import { connectAsync } from 'mqtt';
import { TestBroker } from '../../helpers/mosquitto.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

const SETTINGS = { driftForMs: 0, driftClearMs: 0, driftMinSeverity: 'warn', offlineSilenceMs: 60_000, stalledWindows: 3, modelChangedHoldMs: 60_000, resendMs: 60_000, runbookUrl: 'r' } as const;

/** The payload from the issue, with its device. */
const badModelChanged = (site: string, device: string, seq: number): string =>
  JSON.stringify({ schema: SCHEMAS.event, site, device, camera: 'c', seq, ts: 1, kind: 'modelChanged', message: 'x', detail: { current: 1 } });

async function store(t: import('node:test').TestContext): Promise<SqliteStore> {
  const s = new SqliteStore(join(await mkdtemp(join(tmpdir(), 'driftline-ingest-')), 'c.db'));
  t.after(() => s.close());
  return s;
}

test('the reported modelChanged event is refused by the schema, naming the field', async (t) => {
  const s = await store(t);
  const ingest = new Ingest(handlers(s, new RuleEngine(s, SETTINGS, () => undefined), silentLogger, undefined), { maxPayloadBytes: 1 << 20, log: silentLogger });
  assert.equal(ingest.handle(eventTopic('s', 'd', 'c'), Buffer.from(badModelChanged('s', 'd', 1))), 'schema');
  const providerFallback = { schema: SCHEMAS.event, site: 's', device: 'd', camera: 'c', seq: 2, ts: 1, kind: 'providerFallback', message: 'x', detail: { preferred: { $gt: 1 }, provider: 'cpu' } };
  assert.equal(ingest.handle(eventTopic('s', 'd', 'c'), Buffer.from(JSON.stringify(providerFallback))), 'schema');
  assert.equal(ingest.counters.rejected.schema, 2);
});

test('a rule that throws on a stored message is counted and contained; a store failure still propagates', async (t) => {
  const s = await store(t);
  class ThrowingRules extends RuleEngine {
    override onEvent(): void {
      throw new TypeError('m.sha256.slice is not a function');
    }
  }
  const ingest = new Ingest(handlers(s, new ThrowingRules(s, SETTINGS, () => undefined), silentLogger, undefined), { maxPayloadBytes: 1 << 20, log: silentLogger });
  const e: EventMessage = { schema: SCHEMAS.event, site: 's', device: 'd', camera: 'c', seq: 1, ts: 1, kind: 'stalled', message: 'x' };
  assert.equal(ingest.handle(eventTopic('s', 'd', 'c'), Buffer.from(JSON.stringify(e))), 'accepted', 'stored, and the throw did not escape');
  assert.equal(ingest.counters.ruleErrors, 1);
  assert.equal(ingest.handle(eventTopic('s', 'd', 'c'), Buffer.from(JSON.stringify(e))), 'duplicate', 'it was stored before the rule ran');
  s.close();
  assert.throws(() => ingest.handle(summaryTopic('s', 'd', 'c'), Buffer.from(JSON.stringify(summaryMsg('s', 'd', 'c', 1)))), 'a store failure is not contained: the message must come again');
  assert.equal(ingest.counters.failed, 1);
});

test('a payload nested 1,500 deep is refused, and the camera\'s timeline stays readable', async (t) => {
  const s = await store(t);
  const ingest = new Ingest(handlers(s, new RuleEngine(s, SETTINGS, () => undefined), silentLogger, undefined), { maxPayloadBytes: 1 << 20, log: silentLogger });
  const deep = JSON.stringify(summaryMsg('s', 'd', 'c', 1)).replace(/}$/, `,"extra":${'['.repeat(1500)}${']'.repeat(1500)}}`);
  assert.equal(ingest.handle(summaryTopic('s', 'd', 'c'), Buffer.from(deep)), 'schema');
  const text = JSON.stringify(summaryMsg('s', 'd', 'c', 2)).replace(/}$/, ',"note":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}');
  assert.equal(ingest.handle(summaryTopic('s', 'd', 'c'), Buffer.from(text)), 'accepted', 'brackets inside strings do not count');
  assert.deepEqual(s.timeline('s', 'd', 'c', 0, 10).map((r) => r.seq), [2]);
});

test("100 bad events at 10/s through Mosquitto: the collector stays subscribed and another device's summaries arrive at once", { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const site = uniqueName('s');
  const [bad, good] = [uniqueName('bad'), uniqueName('good')];
  // A private Mosquitto: collectors of concurrent tests on the machine's broker would count these rejects too.
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const c = await testCollector({ broker: { url: broker.url } });
  release('collector', () => c.stop());
  await untilSubscribed(c);
  const pub = await connectAsync(broker.url, { clientId: uniqueName('bad-events') });
  release('publisher', () => pub.endAsync());
  let disconnected = 0;
  const watch = setInterval(() => (disconnected += c.subscriber.connected ? 0 : 1), 20);
  release('watch', () => clearInterval(watch));
  for (let i = 1; i <= 100; i++) {
    await pub.publishAsync(eventTopic(site, bad, 'c'), badModelChanged(site, bad, i), { qos: 1 });
    if (i % 10 === 0) await pub.publishAsync(summaryTopic(site, good, 'cam'), JSON.stringify(summaryMsg(site, good, 'cam', i / 10)), { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
  }
  await until(() => c.store.timeline(site, good, 'cam', 0, 100).length === 10, 10_000, "the control device's 10 summaries");
  await until(() => c.ingest.counters.rejected.schema >= 100, 10_000, 'the 100 bad events rejected');
  assert.equal(disconnected, 0, 'never unsubscribed while the bad events arrived');
  assert.equal(c.ingest.counters.ruleErrors, 0);
  assert.equal(c.ingest.counters.failed, 0);
});
