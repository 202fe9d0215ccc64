/**
 * Issue 11, finding 4: `?limit=Infinity` gave HTTP 500 with SQLite's error in the body. Every query
 * value is now validated to a finite range, and a 5xx body never carries an internal error. A
 * generated fuzz of the API (paths, queries, bodies, headers) gets no 5xx.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { Rng } from '../../../agent/synth/rng.js';
import { buildHttp } from '../../../collector/http/server.js';
import { RuleEngine } from '../../../collector/rules/engine.js';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import { pino } from 'pino';
import { summaryMsg } from '../../helpers/collector.js';

const SETTINGS = { driftForMs: 0, driftClearMs: 0, driftMinSeverity: 'warn', offlineSilenceMs: 60_000, stalledWindows: 3, modelChangedHoldMs: 60_000, resendMs: 60_000, runbookUrl: 'r' } as const;

async function api(t: import('node:test').TestContext, logged: string[] = []): Promise<{ app: ReturnType<typeof buildHttp>; store: SqliteStore; alertId: string }> {
  const store = new SqliteStore(join(await mkdtemp(join(tmpdir(), 'driftline-http-fuzz-')), 'c.db'));
  const rules = new RuleEngine(store, SETTINGS, () => undefined);
  for (let seq = 1; seq <= 5; seq++) {
    const m = summaryMsg('p', 'e', 'c1', seq, seq >= 4 ? { status: 'alert', drivers: [{ key: 'psi:brightness', value: 0.6, warn: 0.1, alert: 0.25, level: 'alert' }] } : {});
    store.addSummary(m, Date.now(), JSON.stringify(m));
    rules.onSummary(m, Date.now());
  }
  const log = pino({ level: 'error' }, { write: (s: string) => void logged.push(s) });
  const app = buildHttp({ store, rules, metrics: new Registry(), ackToken: 'tok-123', log, health: () => ({ broker: true }) });
  t.after(async () => {
    await app.close();
    store.close();
  });
  const alertId = rules.firing[0]!.id;
  return { app, store, alertId };
}

test('limits outside 1..10000, written any way, are a 400 that says the range', async (t) => {
  const { app } = await api(t);
  for (const q of ['Infinity', '1e400', '-1', '0', '1e3', '10001', 'NaN', '0x10', '1.5', '', '%00', '99999999999999999999']) {
    for (const path of ['/api/v1/alerts', '/api/v1/cameras/p/e/c1/timeline']) {
      const r = await app.inject({ url: `${path}?limit=${q}` });
      assert.equal(r.statusCode, 400, `${path}?limit=${q}: ${r.body}`);
      assert.match(r.json<{ message: string }>().message, /limit must be a whole number from 1 to 10000/);
    }
  }
  assert.equal((await app.inject({ url: '/api/v1/alerts?limit=10000&state=all' })).statusCode, 200);
  assert.equal((await app.inject({ url: '/api/v1/cameras/p/e/c1/timeline?limit=2' })).json<unknown[]>().length, 2);
});

test('a server error answers 500 without its internals, and logs them with the route', async (t) => {
  const logged: string[] = [];
  const { app, store } = await api(t, logged);
  store.close(); // the database goes away under the API
  const r = await app.inject({ url: '/api/v1/alerts' });
  assert.equal(r.statusCode, 500);
  assert.deepEqual(r.json(), { error: 'internal error', message: 'the collector could not answer this request; its log has the details' });
  assert.doesNotMatch(r.body, /sqlite|database|SQLITE|stack|\.ts/);
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /"route":"\/api\/v1\/alerts".*"msg":"HTTP request failed"/);
});

test('a generated fuzz of 5,000 requests (paths, queries, bodies, headers) gets no 5xx', { timeout: 120_000 }, async (t) => {
  const { app, alertId } = await api(t);
  const rng = new Rng(11);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;
  const junk = (): string =>
    pick(['', 'x', '%00', '..', '%2e%2e', 'a'.repeat(5000), '\u{1F600}', '-1', 'Infinity', '1e400', 'NaN', 'null', '[]', '{}', '<script>', "' OR 1=1 --", 'c%2B1', '%ZZ', String(rng.next()), alertId, alertId.toUpperCase()]);
  const paths = [
    () => '/',
    () => '/healthz',
    () => '/metrics',
    () => '/api/v1/devices',
    () => '/api/v1/cameras',
    () => `/api/v1/cameras/${pick(['p', junk()])}/${pick(['e', junk()])}/${pick(['c1', junk()])}/timeline`,
    () => '/api/v1/alerts',
    () => `/api/v1/alerts/${pick([alertId, junk()])}`,
    () => `/api/v1/alerts/${pick([alertId, junk()])}/ack`,
    () => `/${junk()}/${junk()}`,
  ];
  const params = ['limit', 'state', 'since', junk()];
  const bodies = [undefined, '', '{', 'null', '[]', '{"by":"ana"}', '{"by":"ana","comment":"ok"}', '{"by":""}', `{"by":"${'a'.repeat(20_000)}"}`, '{"by":1}', '{"by":"a","x":1}', '\u0000\u0001', JSON.stringify({ by: 'a', comment: { nested: [1, 2, 3] } })];
  const statuses: Record<number, number> = {};
  for (let i = 0; i < 5000; i++) {
    const query = Array.from({ length: Math.floor(rng.next() * 4) }, () => `${encodeURIComponent(pick(params))}=${encodeURIComponent(pick(['1', '500', 'all', 'firing', 'resolved', '2026-11-29T00:00:00Z', 'yesterday', junk()]))}`).join('&');
    const headers: Record<string, string> = {};
    if (rng.next() < 0.5) headers.authorization = pick(['Bearer tok-123', 'Bearer wrong', 'Bearer', 'Basic Zm9vOmJhcg==', 'tok-123', 'Bearer ' + 'x'.repeat(4096)]);
    if (rng.next() < 0.5) headers['content-type'] = pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'garbage']);
    const r = await app.inject({ method: pick(['GET', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']) as 'GET', url: `${pick(paths)()}${query ? `?${query}` : ''}`, headers, payload: pick(bodies) });
    statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
    assert.ok(r.statusCode < 500, `request ${i} answered ${r.statusCode}: ${r.body.slice(0, 300)}`);
  }
  t.diagnostic(`statuses: ${JSON.stringify(statuses)}`);
  assert.ok((statuses[200] ?? 0) > 200 && (statuses[400] ?? 0) > 200 && (statuses[404] ?? 0) > 100, 'the fuzz reached real answers as well as refusals');
});
