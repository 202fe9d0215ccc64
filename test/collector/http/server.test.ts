import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import { Registry } from 'prom-client';
import { buildHttp } from '../../../collector/http/server.js';
import { RuleEngine } from '../../../collector/rules/engine.js';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import { statusTopic, summaryTopic } from '../../../protocol/topics.js';
import { SCHEMAS } from '../../../protocol/messages.js';
import { SHA, summaryMsg, testCollector, uniqueName, untilSubscribed } from '../../helpers/collector.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

test('HTTP API over the embedded broker: devices, cameras, timeline, alerts, token-protected acknowledge, metrics', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const c = await testCollector({ http: { ackToken: 'tok-123' }, rules: { driftForSeconds: 0 } });
  release('collector', () => c.stop());
  const mq = await connectAsync(c.brokerUrl, { clientId: uniqueName('api-test-device') });
  release('device client', () => mq.endAsync());
  await untilSubscribed(c);
  const birth = { schema: SCHEMAS.status, site: 'p', device: 'e', state: 'online', ts: Date.now(), agent: { version: '0.1.0' }, model: { name: 'm.onnx', sha256: SHA }, provider: 'cpu', providers: ['cpu'], cameras: ['c1'], windowSeconds: 60 };
  await mq.publishAsync(statusTopic('p', 'e'), JSON.stringify(birth), { qos: 1, retain: true });
  for (let seq = 1; seq <= 3; seq++) {
    const drivers = seq === 3 ? [{ key: 'psi:brightness', value: 0.6, warn: 0.1, alert: 0.25, level: 'alert' as const }] : [];
    await mq.publishAsync(summaryTopic('p', 'e', 'c1'), JSON.stringify(summaryMsg('p', 'e', 'c1', seq, { status: seq === 3 ? 'alert' : 'ok', drivers })), { qos: 1 });
  }
  await until(() => c.rules.firing.some((a) => a.rule === 'drift'), 10_000, 'the drift alert');
  const get = async (path: string): Promise<{ status: number; body: unknown }> => {
    const r = await fetch(`${c.httpUrl}${path}`);
    return { status: r.status, body: await r.json() };
  };
  const devices = (await get('/api/v1/devices')).body as { site: string; state: string; cameras: string[] }[];
  assert.deepEqual(devices.map((x) => [x.site, x.state, x.cameras]), [['p', 'online', ['c1']]]);
  const cameras = (await get('/api/v1/cameras')).body as { camera: string; lastSeq: number; lastStatus: string }[];
  assert.deepEqual(cameras.map((x) => [x.camera, x.lastSeq, x.lastStatus]), [['c1', 3, 'alert']]);
  const timeline = (await get('/api/v1/cameras/p/e/c1/timeline')).body as { seq: number; status: string; drivers: unknown[] }[];
  assert.deepEqual(timeline.map((x) => [x.seq, x.status, x.drivers.length]), [[1, 'ok', 0], [2, 'ok', 0], [3, 'alert', 1]]);
  assert.equal((await get('/api/v1/cameras/p/e/c1/timeline?limit=0')).status, 400, 'query validated');
  assert.equal((await get('/api/v1/cameras/p/e/c%2B1/timeline')).status, 400, 'path validated');
  const alerts = (await get('/api/v1/alerts')).body as { id: string; rule: string; labels: Record<string, string> }[];
  assert.deepEqual(alerts.map((a) => [a.rule, a.labels.camera]), [['drift', 'c1']]);
  const id = alerts[0]!.id;
  assert.equal((await get(`/api/v1/alerts/${id}`)).status, 200);
  assert.equal((await get('/api/v1/alerts/0123456789abcdef')).status, 404);

  const ack = (headers: Record<string, string>, body: unknown, alertId = id) =>
    fetch(`${c.httpUrl}/api/v1/alerts/${alertId}/ack`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  assert.equal((await ack({}, { by: 'ana' })).status, 401, 'no token');
  assert.equal((await ack({ authorization: 'Bearer wrong' }, { by: 'ana' })).status, 401, 'wrong token');
  assert.equal((await ack({ authorization: 'Bearer tok-123' }, { who: 'ana' })).status, 400, 'body validated');
  assert.equal((await ack({ authorization: 'Bearer tok-123' }, { by: 'ana' }, '0123456789abcdef')).status, 404);
  const ok = await ack({ authorization: 'Bearer tok-123' }, { by: 'ana', comment: 'technician on the way' });
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { ack: { by: string } }).ack.by, 'ana');
  assert.equal(((await get(`/api/v1/alerts/${id}`)).body as { ack: { comment: string } }).ack.comment, 'technician on the way');

  const html = await (await fetch(`${c.httpUrl}/`)).text();
  assert.match(html, /<title>Driftline collector<\/title>/);
  const metrics = await (await fetch(`${c.httpUrl}/metrics`)).text();
  assert.match(metrics, /driftline_collector_messages_total\{kind="summary",result="accepted"\} 3/);
  assert.match(metrics, /driftline_collector_alerts_firing\{rule="drift",severity="critical"\} 1/);
  assert.match(metrics, /driftline_collector_devices\{state="online"\} 1/);
  assert.match(metrics, /driftline_collector_broker_connected 1/);
});

test('acknowledge is refused when no token is configured', { timeout: 30_000 }, async (t) => {
  const c = await testCollector();
  t.after(() => c.stop());
  const r = await fetch(`${c.httpUrl}/api/v1/alerts/0123456789abcdef/ack`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body: '{"by":"a"}' });
  assert.equal(r.status, 403);
  assert.match(((await r.json()) as { message: string }).message, /http\.ackToken/);
});

test('the page\'s API: a camera with its thresholds and firing alerts, timeline levels, alerts by camera, 304 while nothing changed', async (t) => {
  const store = new SqliteStore(join(await mkdtemp(join(tmpdir(), 'driftline-page-api-')), 'c.db'));
  const rules = new RuleEngine(store, { driftForMs: 0, driftClearMs: 0, driftMinSeverity: 'warn', offlineSilenceMs: 60_000, stalledWindows: 3, modelChangedHoldMs: 60_000, resendMs: 60_000, runbookUrl: () => 'http://collector.example/runbook' }, () => undefined);
  const app = buildHttp({ store, rules, metrics: new Registry(), ackToken: '', health: () => ({ broker: true }) });
  t.after(async () => {
    await app.close();
    store.close();
  });
  store.putStatus({ schema: SCHEMAS.status, site: 'p', device: 'e', state: 'online', ts: 0, agent: { version: '1' }, model: { name: 'm', sha256: SHA }, provider: 'cpu', providers: ['cpu'], cameras: ['c1', 'c2', 'quiet'], windowSeconds: 60 }, 0);
  const drivers = [{ key: 'psi:brightness', value: 0.4, warn: 0.1, alert: 0.25, level: 'alert' as const }];
  const feed = (camera: string, seq: number, o: Parameters<typeof summaryMsg>[4]) => {
    const m = summaryMsg('p', 'e', camera, seq, o);
    store.addSummary(m, m.end);
    rules.onSummary(m, m.end + 1000);
  };
  feed('c1', 1, { status: 'ok', familyScores: { illumination: 0.3, model: 0.5 } });
  feed('c1', 2, { status: 'insufficient' });
  feed('c1', 3, { status: 'alert', drivers, familyScores: { illumination: 3, model: 0.7 } });
  feed('c1', 4, { status: 'alert', drivers }); // an older agent: no family scores, placed by its drivers
  feed('c2', 1, { status: 'ok' });

  const timeline = await app.inject('/api/v1/cameras/p/e/c1/timeline');
  assert.equal(timeline.statusCode, 200);
  const rows = timeline.json() as { seq: number; status: string; level: number | null; familyScores?: Record<string, number> }[];
  assert.deepEqual(rows.map((r) => [r.seq, r.status, r.level === null ? null : +r.level.toFixed(6)]), [[1, 'ok', 0.5], [2, 'insufficient', null], [3, 'alert', 3], [4, 'alert', 3]]);
  assert.deepEqual(rows[0]!.familyScores, { illumination: 0.3, model: 0.5 });

  const cam = await app.inject('/api/v1/cameras/p/e/c1');
  assert.equal(cam.statusCode, 200, cam.body);
  const c = cam.json() as { lastSeq: number; lastStatus: string; levels: { warn: number; alert: number }; deviceState: string; windowSeconds: number; alerts: { id: string; rule: string; evidence: { driftStart: { seq: number } } }[] };
  assert.deepEqual([c.lastSeq, c.lastStatus, c.deviceState, c.windowSeconds], [4, 'alert', 'online', 60]);
  assert.deepEqual(c.levels, { warn: 1, alert: 2 }, 'where the timeline\'s level puts the thresholds');
  assert.deepEqual(c.alerts.map((a) => [a.rule, a.evidence.driftStart.seq]), [['drift', 3]], 'its firing alert, with where the drift started');
  const quiet = await app.inject('/api/v1/cameras/p/e/quiet');
  assert.equal(quiet.statusCode, 200, 'a camera the device announced, before its first window');
  assert.deepEqual([quiet.json().lastSeq, quiet.json().lastStatus], [0, null]);
  assert.equal((await app.inject('/api/v1/cameras/p/e/nope')).statusCode, 404);
  assert.equal((await app.inject('/api/v1/cameras/p/e/no%20pe')).statusCode, 400);

  // Alerts of one camera; a camera needs its device and site.
  const id = c.alerts[0]!.id;
  assert.deepEqual((await app.inject('/api/v1/alerts?state=all&site=p&device=e&camera=c1')).json().map((a: { id: string }) => a.id), [id]);
  assert.deepEqual((await app.inject('/api/v1/alerts?state=all&site=p&device=e&camera=c2')).json(), []);
  assert.deepEqual((await app.inject('/api/v1/alerts?state=resolved&site=p&device=e')).json(), []);
  const bad = await app.inject('/api/v1/alerts?camera=c1');
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().message, /site/);

  // Polling: the same answer again is a 304, a changed one a 200 with a new tag.
  const first = await app.inject('/api/v1/cameras');
  const tag = first.headers.etag as string;
  assert.match(tag, /^W\/".+"$/);
  assert.equal(first.headers['cache-control'], 'no-cache');
  const same = await app.inject({ url: '/api/v1/cameras', headers: { 'if-none-match': tag } });
  assert.equal(same.statusCode, 304);
  assert.equal(same.body, '');
  feed('c2', 2, { status: 'warn', drivers });
  const changed = await app.inject({ url: '/api/v1/cameras', headers: { 'if-none-match': tag } });
  assert.equal(changed.statusCode, 200);
  assert.notEqual(changed.headers.etag, tag);
});
