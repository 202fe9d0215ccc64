import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connectAsync } from 'mqtt';
import { collectorConfig, type CollectorConfig } from '../../collector/config.js';
import { publicUrl, startCollector } from '../../collector/main.js';
import type { AlertListener } from '../../collector/rules/engine.js';
import { isDriftlineError } from '../../lib/errors.js';
import { silentLogger } from '../../lib/log.js';
import { summaryTopic } from '../../protocol/topics.js';
import { summaryMsg } from '../helpers/collector.js';
import { TestBroker } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

/** Starts a collector that should fail; one that starts after all is stopped when the test ends. */
function start(t: TestContext, config: CollectorConfig): ReturnType<typeof startCollector> {
  const started = startCollector(config, silentLogger);
  t.after(async () => (await started.catch(() => undefined))?.stop());
  return started;
}

test('a port already taken (the machine broker holds 1883) is a coded error naming the key to change', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-collector-'));
  const { config } = collectorConfig({ broker: { port: 1883 }, store: { path: join(dir, 'c.db') }, http: { port: 0 } }, {});
  await assert.rejects(
    start(t, config),
    (e) => isDriftlineError(e, 'DRIFTLINE_ERR_LISTEN') && /127\.0\.0\.1:1883 \(EADDRINUSE\).*broker\.port/.test(e.message),
    "the embedded broker started on 127.0.0.1:1883: the machine's Mosquitto, which this test relies on to hold that port, is not running",
  );
});

test('an HTTP port already taken is a coded error, and nothing started before it is left running', async (t) => {
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => holder.close(() => r())));
  const port = (holder.address() as AddressInfo).port;
  const brokerPort = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'driftline-collector-'));
  const { config } = collectorConfig({ broker: { port: brokerPort }, store: { path: join(dir, 'c.db') }, http: { port } }, {});
  await assert.rejects(start(t, config), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_LISTEN') && /http\.port/.test(e.message));
  // The embedded broker it had started before the HTTP server failed is closed: its port is free again.
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (e) => reject(new Error(`the embedded broker still holds ${brokerPort}: ${e.message}`)));
    probe.listen(brokerPort, '127.0.0.1', () => resolve());
  });
  await new Promise<void>((r) => probe.close(() => r()));
});

test("alerts link the collector's own runbook page, absolute: at http.publicUrl, else where it listens", () => {
  const config = (http: object, rules: object = {}): CollectorConfig => collectorConfig({ http, rules }, {}).config;
  assert.equal(publicUrl(config({ publicUrl: 'https://driftline.plant.example/' }), 'http://127.0.0.1:41234'), 'https://driftline.plant.example');
  assert.equal(publicUrl(config({ port: 0 }), 'http://127.0.0.1:41234'), 'http://127.0.0.1:41234', 'the listener, once it listens');
  assert.equal(publicUrl(config({ port: 8081 }), undefined), 'http://127.0.0.1:8081', 'before: the configured host and port');
  assert.equal(config({}).rules.runbookUrl, '', 'by default the collector\'s /runbook, not a path in a checkout');
});

test('alert changes reach every listener of collector.alerts, in the order they subscribed, until one unsubscribes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-collector-'));
  const { config } = collectorConfig({ broker: { port: 0 }, store: { path: join(dir, 'c.db') }, http: { port: 0 } }, {});
  const collector = await start(t, config);
  const heard: string[] = [];
  collector.alerts.on('alert', (a, change) => heard.push(`first ${a.rule} ${change}`));
  const second: AlertListener = (a, change) => void heard.push(`second ${a.rule} ${change}`);
  collector.alerts.on('alert', second);
  const duplicate = { clientId: 'cam-box', addresses: ['10.0.0.5', '10.0.0.6'], connects: 4, site: 'plant', device: 'line-3' };
  collector.rules.onDuplicateDevice(duplicate, Date.now());
  collector.alerts.off('alert', second);
  collector.rules.onDuplicateDevice({ ...duplicate, site: 'plant', device: 'line-4' }, Date.now());
  assert.deepEqual(heard, ['first duplicateDevice fire', 'second duplicateDevice fire', 'first duplicateDevice fire']);
});

test('ingest.decodeThread: auto decodes in a worker when a core is free, main on the JavaScript thread; either way what arrives is stored, in order', async (t) => {
  // A broker of its own: the counts below are of everything the collector receives, and on the
  // machine's broker another test file running beside this one (or a retained status left behind)
  // would add to them.
  const broker = await TestBroker.start();
  t.after(() => broker.stop());
  const stamp = `${process.pid}-${Date.now()}`;
  const publisher = await connectAsync(broker.url, { clientId: `decode-pub-${stamp}` });
  t.after(() => publisher.endAsync());
  for (const decodeThread of ['auto', 'main'] as const) {
    const dir = await mkdtemp(join(tmpdir(), 'driftline-collector-'));
    const site = `decode-${decodeThread}-${stamp}`;
    const { config } = collectorConfig({ broker: { url: broker.url, clientId: `collector-${site}`, sessionExpirySeconds: 60 }, store: { path: join(dir, 'c.db') }, http: { port: 0 }, ingest: { decodeThread } }, {});
    const collector = await start(t, config);
    assert.equal(collector.decodeThread, decodeThread === 'main' || availableParallelism() < 2 ? 'main' : 'worker');
    await until(() => collector.subscriber.connected, 10_000, 'subscribed');
    for (let seq = 1; seq <= 50; seq++) await publisher.publishAsync(summaryTopic(site, 'edge', 'cam1'), JSON.stringify(summaryMsg(site, 'edge', 'cam1', seq)), { qos: 1 });
    await publisher.publishAsync(summaryTopic(site, 'edge', 'cam1'), '{"not json', { qos: 1 });
    await until(() => collector.ingest.counters.received === 51, 10_000, `${decodeThread}: all received`);
    await until(() => collector.ingest.counters.accepted.summary + collector.ingest.counters.rejected.json === 51, 10_000, `${decodeThread}: all decoded`);
    assert.equal(collector.ingest.counters.rejected.json, 1);
    assert.deepEqual(
      collector.store.summaries(site, 'edge', 'cam1').map((s) => s.seq),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.equal(collector.store.summary(site, 'edge', 'cam1', 50)!.features.brightness!.mean, summaryMsg(site, 'edge', 'cam1', 50).features.brightness!.mean, 'the body as sent');
  }
});
