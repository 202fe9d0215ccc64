/**
 * The embedded broker, safe to expose: real aedes on a free port, real mqtt.js clients, a real
 * registry file. Devices are held to their own topics, viewers read only, and the caps on packets,
 * retained topics and clients hold; through the real collector, a registered device's summary is
 * stored and another device's forgery of it is not.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import type { BrokerCaps, OwnClient } from '../../../collector/broker/access.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../../collector/broker/embedded.js';
import { hashPassword } from '../../../collector/broker/password.js';
import { loadRegistry, type Registry } from '../../../collector/broker/registry.js';
import { collectorConfig } from '../../../collector/config.js';
import { isDriftlineError } from '../../../lib/errors.js';
import { silentLogger } from '../../../lib/log.js';
import { alertTopic, statusTopic, summaryTopic } from '../../../protocol/topics.js';
import { summaryMsg, testCollector, untilSubscribed } from '../../helpers/collector.js';
import { releaser, type Release } from '../../helpers/ports.js';
import { sleep, until } from '../../helpers/wait.js';

const CAPS: BrokerCaps = { maxPacketBytes: 64 << 10, maxRetained: 100, maxClients: 50, maxInflight: 10 };
/** A cheap scrypt cost: the tests make and check many hashes. */
const FAST = { N: 1024, r: 8, p: 1 };

const uid = (p: string): string => `${p}-${randomUUID().slice(0, 8)}`;

interface User {
  readonly username: string;
  readonly password: string;
  readonly role?: 'device' | 'viewer' | 'collector';
  readonly site?: string;
  readonly device?: string;
  readonly clientId?: string;
}

/** A device registry file holding `users`, and its path. */
async function registryFile(users: readonly User[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-registry-'));
  const file = join(dir, 'registry.yaml');
  const lines = ['users:'];
  for (const u of users) {
    const { password, ...rest } = u;
    lines.push(`  - ${JSON.stringify({ ...rest, passwordHash: await hashPassword(password, FAST) })}`);
  }
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}

function device(site: string): User {
  const name = uid('dev');
  return { username: `u-${name}`, password: uid('pw'), site, device: name };
}

interface Started {
  readonly broker: EmbeddedBroker;
  readonly own: OwnClient;
  readonly release: Release;
}

async function startBroker(t: TestContext, o: { registry?: Registry; caps?: Partial<BrokerCaps> } = {}): Promise<Started> {
  const release = releaser(t);
  const own = { clientId: uid('collector'), username: uid('own'), password: uid('secret') };
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, ...(o.registry ? { registry: o.registry } : {}), own, caps: { ...CAPS, ...o.caps }, log: silentLogger });
  release('embedded broker', () => broker.close());
  return { broker, own, release };
}

/** A connected client; rejects with the CONNACK's refusal. Released (forcibly) when the test ends. */
async function client(s: Started, o: IClientOptions = {}): Promise<MqttClient> {
  const c = await connectAsync(s.broker.url, { reconnectPeriod: 0, connectTimeout: 5000, clientId: uid('c'), ...o });
  s.release(`client ${o.clientId ?? ''}`, () => c.endAsync(true));
  return c;
}

const as = (u: User): IClientOptions => ({ username: u.username, password: u.password, ...(u.clientId ? { clientId: u.clientId } : {}) });

/** The collector's own client, subscribed to everything; returns the topics/payloads it received. */
async function watcher(s: Started): Promise<{ got: { topic: string; payload: string; retain: boolean }[] }> {
  const c = await client(s, { clientId: s.own.clientId, username: s.own.username, password: s.own.password });
  const got: { topic: string; payload: string; retain: boolean }[] = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  const granted = await c.subscribeAsync('driftline/#', { qos: 1 });
  assert.equal(granted[0]?.qos, 1, 'the collector may subscribe to everything');
  return { got };
}

/** The QoS granted per filter, in order; 128 is a refusal (mqtt.js rejects then, with the SUBACK attached). */
async function grants(c: MqttClient, subs: Record<string, { qos: 0 | 1 | 2 }>): Promise<number[]> {
  try {
    return (await c.subscribeAsync(subs)).map((g) => g.qos);
  } catch (e) {
    const granted = (e as { packet?: { granted?: number[] } }).packet?.granted;
    if (granted) return granted;
    throw e;
  }
}

/** Publishes and waits for the broker's verdict: 'acked', or 'closed' when it dropped the connection. */
function attempt(c: MqttClient, topic: string, payload: string | Buffer, o: { retain?: boolean } = {}): Promise<'acked' | 'closed'> {
  return new Promise((resolve) => {
    c.once('close', () => resolve('closed'));
    c.publish(topic, payload, { qos: 1, retain: o.retain ?? false }, (err) => {
      if (!err) resolve('acked');
    });
  });
}

/** Waits until `marker` (published by an allowed client after everything else) has arrived. */
async function settle(s: Started, w: { got: { topic: string }[] }, by: MqttClient, topic: string): Promise<void> {
  const n = w.got.filter((m) => m.topic === topic).length;
  assert.equal(await attempt(by, topic, JSON.stringify({ marker: true })), 'acked');
  await until(() => w.got.filter((m) => m.topic === topic).length > n, 5000, `the marker on ${topic}`);
}

test('registry: a wrong password, an unknown user and no credentials are refused; the right password connects', async (t) => {
  const site = uid('site');
  const a = device(site);
  const s = await startBroker(t, { registry: loadRegistry(await registryFile([a])) });
  await assert.rejects(client(s, { ...as(a), password: 'wrong' }), (e: Error & { code?: number }) => e.code === 4);
  await assert.rejects(client(s, { username: 'nobody', password: a.password }), (e: Error & { code?: number }) => e.code === 4);
  await assert.rejects(client(s, {}), (e: Error & { code?: number }) => e.code === 4);
  await assert.rejects(client(s, { username: s.own.username, password: 'guess', clientId: s.own.clientId }), (e: Error & { code?: number }) => e.code === 4);
  assert.equal(s.broker.stats().refused.auth, 4);
  const ok = await client(s, as(a));
  assert.ok(ok.connected);
});

test('a device publishes only as itself: not as another device, not on alerts, not clearing another status', async (t) => {
  const site = uid('site');
  const [a, b] = [device(site), device(site)];
  const s = await startBroker(t, { registry: loadRegistry(await registryFile([a, b])) });
  const w = await watcher(s);
  const devB = await client(s, as(b));
  assert.equal(await attempt(devB, statusTopic(site, b.device!), JSON.stringify({ online: true }), { retain: true }), 'acked');

  // A's own summary and status go through, and A may clear its own retained status.
  const devA = await client(s, as(a));
  assert.equal(await attempt(devA, summaryTopic(site, a.device!, 'cam0'), JSON.stringify(summaryMsg(site, a.device!, 'cam0', 1))), 'acked');
  assert.equal(await attempt(devA, statusTopic(site, a.device!), 'online', { retain: true }), 'acked');
  assert.equal(await attempt(devA, statusTopic(site, a.device!), '', { retain: true }), 'acked', 'a device clears its own status');
  assert.equal(s.broker.stats().retained, 1, "only B's status is retained now");

  // Each forgery closes A's connection and reaches nobody.
  const forgeries: [string, string, boolean][] = [
    [summaryTopic(site, b.device!, 'cam0'), JSON.stringify(summaryMsg(site, b.device!, 'cam0', 99)), false],
    [alertTopic(site, b.device!), JSON.stringify({ forged: 'alert' }), false],
    [statusTopic(site, b.device!), '', true],
    [summaryTopic(site, a.device!, 'cam0'), 'retained summary', true],
    [`driftline/v1/${site}/${a.device}/cam0/other`, 'off-contract', false],
  ];
  for (const [topic, payload, retain] of forgeries) {
    const c = await client(s, as(a));
    assert.equal(await attempt(c, topic, payload, { retain }), 'closed', `A publishing on ${topic} (retain ${retain}) is refused`);
  }
  assert.equal(s.broker.stats().refused.publish, forgeries.length);
  await settle(s, w, devB, summaryTopic(site, b.device!, 'cam1'));
  assert.deepEqual(
    w.got.filter((m) => m.topic.includes(b.device!) && !m.topic.endsWith('cam1/summary')).map((m) => [m.topic, m.payload]),
    [[statusTopic(site, b.device!), JSON.stringify({ online: true })]],
    "nothing A forged reached the collector; B's status is its own",
  );
  assert.ok(w.got.some((m) => m.topic === summaryTopic(site, a.device!, 'cam0') && m.payload.includes('"seq":1')), "A's own summary arrived");

  // B's retained status survived A's attempt to clear it: a new subscriber still gets it.
  const late = await client(s, { clientId: s.own.clientId, username: s.own.username, password: s.own.password });
  const retained: string[] = [];
  late.on('message', (topic, payload, packet) => packet.retain && retained.push(`${topic}=${payload.toString()}`));
  await late.subscribeAsync(`driftline/v1/${site}/+/status`, { qos: 1 });
  await until(() => retained.length >= 1, 5000, "B's retained status");
  assert.deepEqual(retained, [`${statusTopic(site, b.device!)}=${JSON.stringify({ online: true })}`]);
});

test("a device's will is checked when it fires: a will on another device's status is dropped", async (t) => {
  const site = uid('site');
  const [a, b] = [device(site), device(site)];
  const s = await startBroker(t, { registry: loadRegistry(await registryFile([a, b])) });
  const w = await watcher(s);
  const forger = await client(s, { ...as(a), will: { topic: statusTopic(site, b.device!), payload: Buffer.from('offline'), qos: 1, retain: true } });
  const honest = await client(s, { ...as(a), clientId: uid('c'), will: { topic: statusTopic(site, a.device!), payload: Buffer.from('offline'), qos: 1, retain: true } });
  forger.stream.destroy(); // gone without a DISCONNECT: the broker fires its will
  honest.stream.destroy();
  await until(() => w.got.some((m) => m.topic === statusTopic(site, a.device!)), 5000, "A's own will");
  await until(() => s.broker.stats().refused.publish === 1, 5000, 'the forged will to be refused');
  assert.ok(!w.got.some((m) => m.topic === statusTopic(site, b.device!)), "no will reached B's status");
});

test("a viewer reads alerts and statuses at QoS 0 and publishes nothing; a device subscribes to nothing", async (t) => {
  const site = uid('site');
  const a = device(site);
  const viewer: User = { username: uid('viewer'), password: uid('pw'), role: 'viewer' };
  const s = await startBroker(t, { registry: loadRegistry(await registryFile([a, viewer])) });
  const v = await client(s, as(viewer));
  const granted = await grants(v, { 'driftline/v1/alerts/#': { qos: 1 }, 'driftline/v1/+/+/status': { qos: 1 }, 'driftline/v1/+/+/+/summary': { qos: 1 }, '#': { qos: 0 } });
  assert.deepEqual(granted.map((q) => q < 128), [true, true, false, false]);
  const got: string[] = [];
  v.on('message', (topic, _p, packet) => {
    assert.equal(packet.qos, 0, 'a viewer gets QoS 0: the broker holds nothing unacknowledged for it');
    got.push(topic);
  });
  const devA = await client(s, as(a));
  assert.deepEqual(await grants(devA, { 'driftline/#': { qos: 1 } }), [128], 'a device subscribes to nothing');
  assert.equal(await attempt(devA, statusTopic(site, a.device!), 'online', { retain: true }), 'acked');
  await until(() => got.includes(statusTopic(site, a.device!)), 5000, 'the viewer to see the status');
  assert.equal(await attempt(v, alertTopic(site, a.device!), '{}'), 'closed', 'a viewer publishes nothing');
  assert.equal(s.broker.stats().refused.subscribe, 3);
  assert.equal(s.broker.stats().refused.publish, 1);
});

test("client ids: no one takes the collector's, or one a registry entry claims", async (t) => {
  const site = uid('site');
  const [a, b] = [device(site), device(site)];
  const pinned: User = { ...device(site), clientId: uid('pinned') };
  const s = await startBroker(t, { registry: loadRegistry(await registryFile([a, b, pinned])) });
  const w = await watcher(s);
  await assert.rejects(client(s, { ...as(a), clientId: s.own.clientId }), (e: Error & { code?: number }) => e.code === 2);
  await assert.rejects(client(s, { ...as(a), clientId: `driftline-agent-${site}-${b.device}` }), (e: Error & { code?: number }) => e.code === 2, "B's agent default id");
  await assert.rejects(client(s, { ...as(pinned), clientId: uid('other') }), (e: Error & { code?: number }) => e.code === 2, 'an entry with a clientId must use it');
  assert.equal(s.broker.stats().refused.clientId, 3);
  assert.ok((await client(s, { ...as(a), clientId: `driftline-agent-${site}-${a.device}` })).connected);
  assert.ok((await client(s, as(pinned))).connected);
  await sleep(100);
  assert.equal(w.got.length, 0);
  assert.ok((await client(s, { ...as(b), clientId: uid('any') })).connected, 'an id no one claims is free');
});

test('a packet over maxPacketBytes closes the connection before the broker buffers it, and reaches nobody', async (t) => {
  const s = await startBroker(t, { caps: { maxPacketBytes: 4096 } });
  const w = await watcher(s);
  const c = await client(s);
  assert.equal(await attempt(c, 'driftline/v1/s/d/c/summary', Buffer.alloc(3000, 1)), 'acked', 'under the cap');
  assert.equal(await attempt(c, 'driftline/v1/s/d/c/summary', Buffer.alloc(5000, 2)), 'closed');
  assert.equal(s.broker.stats().refused.packetSize, 1);

  // A raw socket declaring a 200 MB PUBLISH after a valid CONNECT is dropped on the header alone.
  const raw = tcpConnect(s.broker.port, '127.0.0.1');
  raw.on('error', () => undefined); // the broker resets it: that is the point
  s.release('raw socket', () => raw.destroy());
  await new Promise<void>((r) => raw.once('connect', r));
  const id = Buffer.from('raw-client');
  const connectBody = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 2, 0, 30, 0, id.length]), id]);
  const closed = new Promise<void>((r) => raw.once('close', () => r()));
  raw.write(Buffer.concat([Buffer.from([0x10, connectBody.length]), connectBody]));
  const len = 200 << 20; // remaining length, varint
  raw.write(Buffer.from([0x30, (len & 0x7f) | 0x80, ((len >> 7) & 0x7f) | 0x80, ((len >> 14) & 0x7f) | 0x80, (len >> 21) & 0x7f, 0, 3, 0x61, 0x2f, 0x62]));
  raw.write(Buffer.alloc(64 << 10)); // a start on the body: the broker has closed already, or does now
  await Promise.race([closed, sleep(5000).then(() => assert.fail('the broker kept reading a packet that declared 200 MB'))]);
  assert.equal(s.broker.stats().refused.packetSize, 2);
  await settle(s, w, await client(s), 'driftline/v1/s/d/c/event');
  assert.deepEqual(w.got.filter((m) => m.topic.endsWith('/summary')).map((m) => m.payload.length), [3000], 'only the packet under the cap arrived');
});

test('the retained cap holds: new retained topics beyond it are refused, replacing and clearing are not', async (t) => {
  const cap = 5;
  const s = await startBroker(t, { caps: { maxRetained: cap } }); // anonymous, on loopback
  const topic = (i: number): string => `driftline/v1/s/retained-${i}/status`;
  const verdicts: string[] = [];
  for (let i = 0; i < cap + 3; i++) verdicts.push(await attempt(await client(s), topic(i), `v${i}`, { retain: true }));
  assert.deepEqual(verdicts, [...Array(cap).fill('acked'), 'closed', 'closed', 'closed']);
  assert.equal(s.broker.stats().retained, cap);
  assert.equal(s.broker.stats().refused.retained, 3);
  const c = await client(s);
  assert.equal(await attempt(c, topic(0), 'replaced', { retain: true }), 'acked', 'replacing a held topic is not a new one');
  assert.equal(await attempt(c, topic(1), '', { retain: true }), 'acked', 'clearing frees a slot');
  assert.equal(await attempt(c, topic(cap), 'now fits', { retain: true }), 'acked');
  const got = new Map<string, string>();
  const sub = await client(s);
  sub.on('message', (t2, p, packet) => packet.retain && got.set(t2, p.toString()));
  await sub.subscribeAsync('driftline/v1/s/+/status', { qos: 1 });
  await until(() => got.size >= cap, 5000, `${cap} retained messages`);
  await sleep(200);
  assert.equal(got.size, cap);
  assert.equal(got.get(topic(0)), 'replaced');
  assert.equal(got.has(topic(1)), false);
  assert.equal(got.get(topic(cap)), 'now fits');
});

test("the client cap holds, with the collector's own client exempt", async (t) => {
  const s = await startBroker(t, { caps: { maxClients: 3 } });
  const clients = [await client(s), await client(s), await client(s)];
  await assert.rejects(client(s), (e: Error & { code?: number }) => e.code === 3, 'the fourth is refused: server unavailable');
  assert.equal(s.broker.stats().refused.clients, 1);
  await watcher(s); // the collector's own client still connects
  await clients[0]!.endAsync();
  await until(() => s.broker.stats().clients === 2, 5000, 'the slot to free');
  assert.ok((await client(s)).connected, 'a slot freed is taken again');
});

test('beyond loopback without a registry is refused, naming broker.registry, unless allowAnonymous', async () => {
  assert.throws(
    () => collectorConfig({ broker: { host: '0.0.0.0' } }, {}),
    (e) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /broker\.registry/.test(e.message) && /allowAnonymous/.test(e.message),
  );
  assert.equal(collectorConfig({ broker: { host: '0.0.0.0', allowAnonymous: true } }, {}).config.broker.allowAnonymous, true);
  assert.equal(collectorConfig({ broker: { host: '0.0.0.0', url: 'mqtt://broker:1883' } }, {}).config.broker.host, '0.0.0.0', 'an external broker: the host is unused');
  assert.equal(collectorConfig({ broker: { host: 'localhost' } }, {}).config.broker.registry, '');
  assert.throws(() => collectorConfig({ broker: { registry: 'r.yaml', allowAnonymous: true } }, {}), /broker\.allowAnonymous/);
  await assert.rejects(
    startEmbeddedBroker({ host: '0.0.0.0', port: 0, caps: CAPS, log: silentLogger }),
    (e) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /broker\.registry/.test(e.message),
  );
});

test('through the collector: a registered device is ingested; another device forging it is not', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const site = uid('site');
  const [a, b] = [device(site), device(site)];
  const c = await testCollector({ broker: { registry: await registryFile([a, b]) } });
  release('collector', () => c.stop());
  await untilSubscribed(c);
  const connectAs = async (u: User): Promise<MqttClient> => {
    const m = await connectAsync(c.brokerUrl, { reconnectPeriod: 0, clientId: uid('c'), ...as(u) });
    release(u.username, () => m.endAsync(true));
    return m;
  };
  const devA = await connectAs(a);
  assert.equal(await attempt(devA, summaryTopic(site, a.device!, 'cam0'), JSON.stringify(summaryMsg(site, a.device!, 'cam0', 1))), 'acked');
  // B on A's topic: refused by the broker. B on its own topic naming A: refused by ingest.
  assert.equal(await attempt(await connectAs(b), summaryTopic(site, a.device!, 'cam0'), JSON.stringify(summaryMsg(site, a.device!, 'cam0', 2, { status: 'alert' }))), 'closed');
  const devB = await connectAs(b);
  assert.equal(await attempt(devB, summaryTopic(site, b.device!, 'cam0'), JSON.stringify(summaryMsg(site, a.device!, 'cam0', 3, { status: 'alert' }))), 'acked');
  assert.equal(await attempt(devA, summaryTopic(site, a.device!, 'cam0'), JSON.stringify(summaryMsg(site, a.device!, 'cam0', 4))), 'acked');
  await until(() => c.store.summaries(site, a.device!, 'cam0').some((m) => m.seq === 4), 10_000, "A's second summary");
  assert.deepEqual(c.store.summaries(site, a.device!, 'cam0').map((m) => m.seq).sort(), [1, 4], 'only what A itself sent is stored as A');
  assert.deepEqual(c.store.summaries(site, b.device!, 'cam0'), []);
  const stats = c.embedded!.stats();
  assert.equal(stats.refused.publish, 1);
  assert.equal(stats.refused.auth, 0, "the collector's own client authenticated");
});

test('through the collector: a PUBACK from the embedded broker means the message is stored, and a store that refuses it gets no PUBACK', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const c = await testCollector();
  release('collector', () => c.stop());
  await untilSubscribed(c);
  const site = uid('site');
  const dev = uid('edge');
  const m = await connectAsync(c.brokerUrl, { reconnectPeriod: 0, clientId: uid('c') });
  release('device', () => m.endAsync(true));
  // aedes acknowledges a QoS 1 publish before it forwards it; the collector stores it first.
  for (let seq = 1; seq <= 20; seq++) {
    await m.publishAsync(summaryTopic(site, dev, 'cam'), JSON.stringify(summaryMsg(site, dev, 'cam', seq)), { qos: 1 });
    assert.equal(c.store.lastSeq(site, dev, 'cam'), seq, `seq ${seq} is stored when its PUBACK arrives`);
  }
  // A store that cannot commit: no PUBACK, the connection closes, nothing is claimed stored.
  const db = (c.store as unknown as { db: { pragma(s: string, o?: { simple: boolean }): unknown } }).db;
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
  const big = JSON.stringify(summaryMsg(site, dev, 'cam', 21, { review: Array.from({ length: 64 }, (_, i) => ({ file: `${'x'.repeat(400)}-${i}.jpg`, ts: 1, reason: 'uncertain' })) }));
  assert.equal(await attempt(m, summaryTopic(site, dev, 'cam'), big), 'closed');
  assert.equal(c.store.lastSeq(site, dev, 'cam'), 20);
  db.pragma('max_page_count = 1073741823');
  const again = await connectAsync(c.brokerUrl, { reconnectPeriod: 0, clientId: uid('c') });
  release('device again', () => again.endAsync(true));
  await again.publishAsync(summaryTopic(site, dev, 'cam'), big, { qos: 1 });
  assert.equal(c.store.lastSeq(site, dev, 'cam'), 21, 'sent again once there is room: stored');
});
