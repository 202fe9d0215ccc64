/**
 * The agent's MQTT link against the machine's Mosquitto: retained birth and clean-stop status, a
 * backlog sent in order at the configured rate, and payloads the collector's schema accepts.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connectAsync } from 'mqtt';
import type { DriftResult } from '../../../agent/drift/types.js';
import { DeviceLink } from '../../../agent/publish/link.js';
import type { Identity } from '../../../agent/publish/messages.js';
import { openDatabase, type Db } from '../../../agent/store/database.js';
import type { WindowAggregate } from '../../../agent/telemetry/window.js';
import { silentLogger, type Logger } from '../../../lib/log.js';
import { check, SCHEMAS, type StatusMessage, type SummaryMessage } from '../../../protocol/messages.js';
import { statusTopic, summaryTopic } from '../../../protocol/topics.js';
import { SHA, uniqueName } from '../../helpers/collector.js';
import { LEVEL, logLines } from '../../helpers/log-lines.js';
import { clearRetainedStatus, machineClient, MACHINE_BROKER } from '../../helpers/mosquitto.js';
import { releaser, type Release } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';
import { FlakyProxy } from '../../faults/proxy.js';

const BACKLOG = 40;
const INFLIGHT = 5;
const DRAIN_PER_S = 20;

const window: WindowAggregate = {
  startTs: 1_790_000_000_000,
  endTs: 1_790_000_059_000,
  frames: 120,
  features: { brightness: { mean: 80, std: 3, min: 70, max: 90 }, sharpness: { mean: 200, std: 9, min: 180, max: 220 } },
  classCounts: { good: 110, scratch: 3 },
  confHist: { good: [0, 1, 5, 100], scratch: [3, 0, 0, 0] },
  latencyMs: { inference: { p50: 2.7, p95: 3, p99: 3.5, max: 4 } },
};
const drift: DriftResult = {
  severity: 'warn',
  frames: 120,
  thresholds: 'calibrated',
  // A sequential detector has no alert threshold (Infinity), and scores can be NaN: both must survive JSON.
  drivers: [{ key: 'cusum:uncertain', value: 12.5, warn: 10, alert: Number.POSITIVE_INFINITY, level: 'warn' }],
  rates: { uncertain: 0.2, ood: 0, oodDetection: 0.05 },
  oodFeatures: {},
  sequential: { topScore: { statistic: 1, alarm: false }, uncertain: { statistic: 12.5, alarm: true }, classMix: { statistic: 0, alarm: false } },
  scores: { 'psi:brightness': 0.05, 'js:conf.scratch': Number.NaN },
};

const rowsIn = (db: Db): number => (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;

/** A link for a new site and device on the machine's Mosquitto, over its own database (released with the test). */
async function openLink(t: TestContext, drainPerSecond: number, onWriteFailed?: (e: unknown) => boolean, log: Logger = silentLogger, url = MACHINE_BROKER): Promise<{ release: Release; site: string; device: string; link: DeviceLink; db: Db; clientId: string }> {
  const release = releaser(t);
  const site = uniqueName('site');
  const device = uniqueName('edge');
  const identity: Identity = { site, device, version: '0.1.0', model: { name: 'm.onnx', sha256: SHA }, provider: 'cpu', providers: ['cpu'], cameras: ['cam'], windowSeconds: 60 };
  const db = openDatabase(join(await mkdtemp(join(tmpdir(), 'driftline-link-')), 'a.db'));
  release('database', () => db.close());
  const clientId = uniqueName('agent');
  const link = new DeviceLink(db, identity, { url, client: { clientId, reconnectPeriod: 0 }, drainPerSecond, maxInflight: INFLIGHT, outboxMaxRows: 1000, backoff: { initialMs: 100, maxMs: 500, jitter: 0 }, ...(onWriteFailed ? { onWriteFailed } : {}) }, log);
  return { release, site, device, link, db, clientId };
}

/**
 * A link whose database refuses every write (query_only, as a disk full to the last byte) once it
 * has stored three summaries, started and watched until the broker acknowledged all three.
 */
async function refusingLink(t: TestContext, watcher: string, onWriteFailed: (e: unknown) => boolean): Promise<{ release: Release; link: DeviceLink; db: Db; clientId: string; seqs: number[]; send: () => number }> {
  const { release, site, device, link, db, clientId } = await openLink(t, 1000, onWriteFailed);
  const sub = await machineClient(watcher);
  release('watcher', () => sub.endAsync());
  const seqs: number[] = [];
  sub.on('message', (topic, payload) => payload.length && !topic.endsWith('/status') && seqs.push((JSON.parse(payload.toString()) as { seq: number }).seq));
  await sub.subscribeAsync(summaryTopic(site, device, 'cam'), { qos: 1 });
  release('retained status', () => clearRetainedStatus(site, device));
  const send = (): number => link.summary({ camera: 'cam', window, dropped: 0, errors: 0, drift });
  for (let i = 0; i < 3; i++) send();
  db.pragma('query_only = ON');
  link.start();
  release('link', () => link.stop());
  await until(() => link.publisher.counters.acked === 3, 10_000, 'three acknowledgements');
  return { release, link, db, clientId, seqs, send };
}

test('link: retained birth, backlog in order at the drain rate, schema-valid payloads, offline on a clean stop', { timeout: 60_000 }, async (t) => {
  const { release, site, device, link } = await openLink(t, DRAIN_PER_S);
  // A backlog built while offline.
  for (let i = 0; i < BACKLOG; i++) link.summary({ camera: 'cam', window, dropped: 1, errors: 0, drift, reference: { brightness: { mean: 120, std: 8 } }, review: [{ file: 'cam/a.jpg', ts: 1, reason: 'uncertain' }] });
  assert.equal(link.outbox.size, BACKLOG);
  const sub = await machineClient('watch');
  release('watcher', () => sub.endAsync());
  const got: { seq: number; at: number; m: SummaryMessage }[] = [];
  const status: StatusMessage[] = [];
  sub.on('message', (topic, payload) => {
    if (!payload.length) return; // the retained status being cleared at the end
    const v = JSON.parse(payload.toString());
    if (topic.endsWith('/status')) status.push(v);
    else got.push({ seq: v.seq, at: performance.now(), m: v });
  });
  await sub.subscribeAsync([summaryTopic(site, device, 'cam'), statusTopic(site, device)], { qos: 1 });
  release('retained status', () => clearRetainedStatus(site, device)); // after the link's clean stop, which retains offline
  link.start();
  const stopLink = release('link', () => link.stop());
  await until(() => got.length === BACKLOG && link.outbox.size === 0, 20_000, 'the backlog');
  assert.deepEqual(got.map((g) => g.seq), Array.from({ length: BACKLOG }, (_, i) => i + 1), 'in seq order');
  // INFLIGHT go at once (the in-flight window), the rest at DRAIN_PER_S per second.
  const minMs = ((BACKLOG - INFLIGHT) / DRAIN_PER_S) * 1000;
  const tookMs = got.at(-1)!.at - got[0]!.at;
  // A lower bound only (a loaded machine drains slower, never faster). The span is measured from the
  // first arrival, and tokens accrue while that one is in transit: on a busy machine that is a few
  // hundred ms, hence the margin. Without the rate limit the backlog arrives in a few ms.
  assert.ok(tookMs >= minMs * 0.8, `drained at the configured rate: ${tookMs.toFixed(0)} ms for what takes at least ${minMs} ms`);
  const v = check<SummaryMessage>(got[0]!.m, SCHEMAS.summary);
  assert.ok(v.ok, v.ok ? '' : v.reason);
  assert.equal(got[0]!.m.drivers![0]!.alert, null);
  assert.equal(got[0]!.m.scores!['js:conf.scratch'], null);
  assert.equal(got[0]!.m.features.brightness!.z, -5, '(80 - 120) / 8');
  assert.equal(got[0]!.m.status, 'warn');
  assert.ok(check(status[0], SCHEMAS.status).ok);
  assert.equal(status[0]!.state, 'online');

  const late = await machineClient('late');
  release('late watcher', () => late.endAsync());
  const retained: StatusMessage[] = [];
  late.on('message', (_t, p) => p.length && retained.push(JSON.parse(p.toString())));
  await late.subscribeAsync(statusTopic(site, device), { qos: 1 });
  await until(() => retained.length === 1, 20_000, 'the retained birth');
  assert.equal(retained[0]!.state, 'online');
  assert.match(retained[0]!.epoch ?? '', /^[0-9a-f]{16}$/, "the birth announces the outbox's sequence epoch");
  await stopLink();
  await until(() => retained.length === 2, 20_000, 'the clean-stop status');
  assert.equal(retained[1]!.state, 'offline');
  assert.ok(check(retained[1], SCHEMAS.status).ok);
});

test("link: a clean stop sends what it just queued (its cameras' last windows) without waiting for the drain rate", { timeout: 60_000 }, async (t) => {
  // One token every 10 s: without the stop's own send, the last rows would wait far beyond its grace.
  const { log, lines } = logLines();
  const { release, site, device, link } = await openLink(t, 0.1, undefined, log);
  const sub = await machineClient('watch-stop');
  release('watcher', () => sub.endAsync());
  const seqs: number[] = [];
  const states: string[] = [];
  sub.on('message', (topic, payload) => {
    if (!payload.length) return;
    const v = JSON.parse(payload.toString()) as { seq: number; state: string };
    if (topic.endsWith('/status')) states.push(v.state);
    else seqs.push(v.seq);
  });
  await sub.subscribeAsync([summaryTopic(site, device, 'cam'), statusTopic(site, device)], { qos: 1 });
  release('retained status', () => clearRetainedStatus(site, device));
  const send = (): number => link.summary({ camera: 'cam', window, dropped: 0, errors: 0, drift });
  link.start();
  const stopLink = release('link', () => link.stop());
  await until(() => states.includes('online'), 10_000, 'the birth');
  // The in-flight window's worth goes at once and spends the tokens.
  for (let i = 0; i < INFLIGHT; i++) send();
  await until(() => seqs.length === INFLIGHT && link.outbox.size === 0, 10_000, 'the first rows');
  // What a stop queues last, then the stop itself.
  for (let i = 0; i < 3; i++) send();
  await stopLink();
  assert.equal(link.outbox.size, 0, 'nothing left in the outbox for the next start');
  assert.ok(!lines.some((l) => l.msg.startsWith('stopped with summaries in the outbox')), 'an empty outbox is not reported at the stop');
  await until(() => seqs.length === INFLIGHT + 3 && states.includes('offline'), 20_000, 'the last rows and the offline status');
  assert.deepEqual(seqs, Array.from({ length: INFLIGHT + 3 }, (_, i) => i + 1));
});

test('link: acknowledgements the database cannot delete (a full disk) do not end the agent; the rows go with a later one', { timeout: 60_000 }, async (t) => {
  // The fault suite's full disk found it: a PUBACK's DELETE refused inside mqtt.js's callback threw
  // out of it and ended the process. Here the database refuses every write (query_only), for real.
  const refused: unknown[] = [];
  const { link, db, seqs, send } = await refusingLink(t, 'watch-refused', (e) => (refused.push(e), false));
  // The watcher's copies come on another connection than the PUBACKs: wait for them.
  await until(() => seqs.length >= 3, 10_000, "the watcher's three summaries");
  assert.deepEqual(seqs, [1, 2, 3], 'sent once each');
  assert.equal(link.outbox.size, 0, 'acknowledged: nothing waits');
  assert.equal(link.outbox.undeleted, 3);
  assert.equal(rowsIn(db), 3, 'still in the database');
  assert.ok(refused.length >= 1 && refused.every((e) => /readonly/.test((e as Error).message)), 'each refusal went to the storage watch');
  db.pragma('query_only = OFF');
  send();
  await until(() => link.publisher.counters.acked === 4, 10_000, 'the fourth acknowledgement');
  assert.equal(link.outbox.size, 0, 'the later acknowledgement deleted the rows kept before it');
  assert.equal(link.outbox.undeleted, 0);
  assert.equal(rowsIn(db), 0);
  await until(() => seqs.length >= 4, 10_000, "the watcher's fourth summary");
  assert.deepEqual(seqs, [1, 2, 3, 4], 'nothing sent twice');
});

test('link: rows kept on a full disk are not sent again when the connection comes back', { timeout: 60_000 }, async (t) => {
  // A reconnect sends again what the last connection left unanswered: the kept rows, delivered
  // already, must not go out again with every reconnect (nor be kept again, once per repeat).
  const { link, db, clientId, seqs, send } = await refusingLink(t, 'watch-kept-reconnect', () => false);
  for (let cut = 1; cut <= 3; cut++) {
    // The broker drops the link's connection: another client takes its client id, and leaves.
    const kicker = await connectAsync(MACHINE_BROKER, { clientId, connectTimeout: 5000 });
    await kicker.endAsync();
    await until(() => link.publisher.counters.connects === cut + 1 && link.publisher.connected, 10_000, `reconnect ${cut}`);
  }
  assert.equal(link.outbox.undeleted, 3, 'each kept once');
  db.pragma('query_only = OFF');
  send(); // goes out on the last connection
  await until(() => seqs.includes(4) && link.outbox.undeleted === 0, 10_000, 'the fourth summary');
  assert.deepEqual(seqs, [1, 2, 3, 4], 'each sent once, across three reconnects');
  assert.equal(link.publisher.counters.acked, 4);
  assert.equal(rowsIn(db), 0);
});

test('link: each full-disk episode logs one warning, and one line when its rows are deleted, also when the storage watch ends it', { timeout: 60_000 }, async (t) => {
  const { log, lines } = logLines();
  // The storage watch's part: on its third report it makes room (here: the database takes writes again).
  let reports = 0;
  const { release, site, device, link, db } = await openLink(
    t,
    1000,
    () => {
      if (++reports !== 3) return false;
      db.pragma('query_only = OFF');
      return true;
    },
    log,
  );
  release('retained status', () => clearRetainedStatus(site, device));
  const send = (): number => link.summary({ camera: 'cam', window, dropped: 0, errors: 0, drift });
  const outboxLines = (): string[] => lines.filter((l) => l.msg.startsWith('outbox:')).map((l) => (l.level === LEVEL.warn ? 'warn' : l.level === LEVEL.info ? 'info' : `level ${l.level}`));
  for (let i = 0; i < 3; i++) send();
  db.pragma('query_only = ON');
  link.start();
  const stop = release('link', () => link.stop());
  await until(() => link.publisher.counters.acked === 3, 10_000, 'three acknowledgements');
  assert.equal(reports, 3, 'each refusal reported');
  assert.equal(link.outbox.undeleted, 0, 'the room the watch made was used at once');
  assert.equal(rowsIn(db), 0);
  assert.deepEqual(outboxLines(), ['warn', 'info'], 'the episode: one warning, and its end');
  // A second episode warns again.
  await stop();
  for (let i = 0; i < 2; i++) send();
  db.pragma('query_only = ON');
  link.start();
  release('link again', () => link.stop());
  await until(() => link.publisher.counters.acked === 5, 10_000, 'two more acknowledgements');
  assert.deepEqual(outboxLines(), ['warn', 'info', 'warn']);
  assert.equal(link.outbox.undeleted, 2);
});

test('link: a stop whose messages the broker never acknowledges still closes the connection', { timeout: 60_000 }, async (t) => {
  // A broker that stops answering at shutdown: the stop gives up after its grace, and must not leave
  // the socket open behind it (the agent exits when its event loop is empty; an open socket keeps it
  // up until systemd kills it).
  const proxy = await FlakyProxy.start(Number(new URL(MACHINE_BROKER).port || 1883), { maxDelayMs: 0, cutMinMs: 0, cutMaxMs: 0, refuseRate: 0 });
  t.after(() => proxy.close());
  const { log, lines } = logLines();
  const { release, site, device, link } = await openLink(t, 1000, undefined, log, proxy.url);
  release('retained status', () => clearRetainedStatus(site, device));
  link.start();
  release('link', () => link.stop());
  await until(() => link.publisher.connected, 10_000, 'the birth');
  proxy.hold();
  link.summary({ camera: 'cam', window, dropped: 0, errors: 0, drift });
  await until(() => link.publisher.counters.published === 1, 10_000, 'the summary sent');
  await link.publisher.stop(200);
  await until(() => proxy.clientsClosed === 1, 10_000, 'the connection closed by the stop');
  assert.equal(link.outbox.size, 1, 'the unacknowledged summary stays for the next start');
  const said = lines.filter((l) => l.msg.startsWith('stopped with summaries in the outbox'));
  assert.deepEqual(said.map((l) => [l.level, l.backlog]), [[LEVEL.info, 1]], 'the stop says what stays for the next start');
});

test('link: a stop while the broker cannot be reached keeps the summaries for the next start, and says so', { timeout: 60_000 }, async (t) => {
  const { log, lines } = logLines();
  // Nothing listens on port 1: every connect is refused, and the link waits in its back-off.
  const { release, link } = await openLink(t, 1000, undefined, log, 'mqtt://127.0.0.1:1');
  link.summary({ camera: 'cam', window, dropped: 0, errors: 0, drift });
  link.summary({ camera: 'cam', window, dropped: 0, errors: 0, drift });
  link.start();
  const stop = release('link', () => link.stop());
  await until(() => lines.filter((l) => l.msg === 'broker connection error').length >= 2, 10_000, 'two refused connects');
  await stop();
  assert.equal(link.outbox.size, 2, 'both summaries stay in the outbox');
  const said = lines.filter((l) => l.msg.startsWith('stopped with summaries in the outbox'));
  assert.deepEqual(said.map((l) => [l.level, l.backlog]), [[LEVEL.info, 2]]);
});

test("link: a connection's Last Will, birth and clean-stop offline share one status seq; the next connection's is higher, also after a restart", { timeout: 60_000 }, async (t) => {
  const { release, site, device, link, db, clientId } = await openLink(t, 1000);
  const sub = await machineClient('watch-status-seq');
  release('watcher', () => sub.endAsync());
  const statuses: StatusMessage[] = [];
  sub.on('message', (_topic, payload) => payload.length && statuses.push(JSON.parse(payload.toString()) as StatusMessage));
  await sub.subscribeAsync(statusTopic(site, device), { qos: 1 });
  release('retained status', () => clearRetainedStatus(site, device));
  link.start();
  const stopLink = release('link', () => link.stop());
  await until(() => statuses.some((s) => s.state === 'online'), 10_000, 'the birth');
  // The broker drops the connection (another client takes its id): it publishes the Will.
  const kicker = await connectAsync(MACHINE_BROKER, { clientId, connectTimeout: 5000 });
  await kicker.endAsync();
  await until(() => link.publisher.counters.connects === 2 && statuses.filter((s) => s.state === 'online').length === 2, 10_000, 'the second birth');
  await stopLink();
  await until(() => statuses.some((s) => s.stopReason), 20_000, 'the clean-stop offline');
  // The same database, a new process: its first connection comes after the last.
  const again = new DeviceLink(db, { site, device, version: '0.1.0', model: { name: 'm.onnx', sha256: SHA }, provider: 'cpu', providers: ['cpu'], cameras: ['cam'], windowSeconds: 60 }, { url: MACHINE_BROKER, client: { clientId: `${clientId}-2`, reconnectPeriod: 0 }, drainPerSecond: 1000, maxInflight: INFLIGHT, outboxMaxRows: 1000, backoff: { initialMs: 100, maxMs: 500, jitter: 0 } }, silentLogger);
  again.start();
  release('second link', () => again.stop());
  await until(() => statuses.filter((s) => s.state === 'online').length === 3, 10_000, 'the birth after the restart');
  const seen = statuses.map((s) => (s.stopReason ? 'stop' : s.state === 'offline' ? 'will' : 'birth'));
  assert.deepEqual(seen, ['birth', 'will', 'birth', 'stop', 'birth']);
  const seqs = statuses.map((s) => s.seq!);
  assert.ok(seqs.every((s) => Number.isInteger(s) && s >= 1), JSON.stringify(seqs));
  // (A connect attempt that fails uses up a seq as well: later, not next.)
  assert.ok(seqs[1] === seqs[0] && seqs[2]! > seqs[1]! && seqs[3] === seqs[2] && seqs[4]! > seqs[3]!, `one seq per connection, rising: ${JSON.stringify(seqs)}`);
  for (const s of statuses) {
    assert.equal(s.epoch, link.outbox.epoch, 'every status names the epoch its seq counts in');
    const v = check(s, SCHEMAS.status);
    assert.ok(v.ok, v.ok ? '' : v.reason);
  }
});
