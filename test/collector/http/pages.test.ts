/**
 * Issue 11, finding 7: /api/v1/cameras and /devices answered 20k names in one 3-5 MB response. Every
 * list route is paged now: a limit, and a cursor handed out in x-next-cursor (and Link rel="next").
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { Registry } from 'prom-client';
import { buildHttp } from '../../../collector/http/server.js';
import { RuleEngine } from '../../../collector/rules/engine.js';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import { SCHEMAS } from '../../../protocol/messages.js';
import { SHA, summaryMsg } from '../../helpers/collector.js';

const SETTINGS = { driftForMs: 0, driftClearMs: 0, driftMinSeverity: 'warn', offlineSilenceMs: 60_000, stalledWindows: 3, modelChangedHoldMs: 60_000, resendMs: 60_000, runbookUrl: 'r' } as const;

async function api(t: TestContext): Promise<{ app: ReturnType<typeof buildHttp>; store: SqliteStore; rules: RuleEngine }> {
  const store = new SqliteStore(join(await mkdtemp(join(tmpdir(), 'driftline-pages-')), 'c.db'));
  const rules = new RuleEngine(store, SETTINGS, () => undefined);
  const app = buildHttp({ store, rules, metrics: new Registry(), ackToken: '', health: () => ({ broker: true }) });
  t.after(async () => {
    await app.close();
    store.close();
  });
  return { app, store, rules };
}

/** Follows x-next-cursor from `first` to the end; returns every page's rows and the Link headers seen. */
async function allPages<T>(app: ReturnType<typeof buildHttp>, first: string): Promise<{ pages: T[][]; links: string[] }> {
  const pages: T[][] = [];
  const links: string[] = [];
  let url: string | undefined = first;
  while (url) {
    const r: LightMyRequestResponse = await app.inject({ url });
    assert.equal(r.statusCode, 200, r.body);
    pages.push(r.json<T[]>());
    const next = r.headers['x-next-cursor'] as string | undefined;
    if (next) links.push(String(r.headers.link));
    url = next ? `${first}${first.includes('?') ? '&' : '?'}cursor=${next}` : undefined;
  }
  return { pages, links };
}

test('1,200 cameras on 60 devices come in pages of 500, each once, in order', async (t) => {
  const { app, store } = await api(t);
  const now = Date.now();
  store.beginBatch();
  for (let d = 0; d < 60; d++) {
    const device = `edge-${String(d).padStart(2, '0')}`;
    store.putStatus({ schema: SCHEMAS.status, site: 'plant', device, state: 'online', ts: now, agent: { version: '1' }, model: { name: 'm', sha256: SHA }, provider: 'cpu', providers: ['cpu'], cameras: [], windowSeconds: 60 }, now);
    for (let c = 0; c < 20; c++) {
      const m = summaryMsg('plant', device, `cam-${String(c).padStart(2, '0')}`, 1);
      store.addSummary(m, now, JSON.stringify(m));
    }
  }
  store.commitBatch();
  const cams = await allPages<{ device: string; camera: string }>(app, '/api/v1/cameras');
  assert.deepEqual(cams.pages.map((p) => p.length), [500, 500, 200]);
  const keys = cams.pages.flat().map((c) => `${c.device}/${c.camera}`);
  assert.equal(new Set(keys).size, 1200, 'no camera twice');
  assert.deepEqual(keys, [...keys].sort(), 'in (site, device, camera) order');
  assert.match(cams.links[0]!, /^<\/api\/v1\/cameras\?cursor=[A-Za-z0-9_-]+>; rel="next"$/);
  const devs = await allPages<{ device: string }>(app, '/api/v1/devices?limit=25');
  assert.deepEqual(devs.pages.map((p) => p.length), [25, 25, 10]);
  assert.equal(new Set(devs.pages.flat().map((d) => d.device)).size, 60);
  for (const bad of ['x', 'WyJhIl0', Buffer.from('[1,2,3]').toString('base64url'), '%%%']) {
    const r = await app.inject({ url: `/api/v1/cameras?cursor=${bad}` });
    assert.equal(r.statusCode, 400, `cursor ${bad}: ${r.body}`);
  }
});

test('alerts and a camera timeline page too', async (t) => {
  const { app, store, rules } = await api(t);
  const t0 = Date.now();
  for (let i = 0; i < 7; i++) {
    for (let seq = 1; seq <= 2; seq++) {
      const m = summaryMsg('p', `dev-${i}`, 'c', seq, { status: 'alert', drivers: [{ key: 'psi:brightness', value: 0.6, warn: 0.1, alert: 0.25, level: 'alert' }] });
      store.addSummary(m, t0 + i, JSON.stringify(m));
      rules.onSummary(m, t0 + i);
    }
  }
  const alerts = await allPages<{ id: string }>(app, '/api/v1/alerts?limit=3');
  assert.deepEqual(alerts.pages.map((p) => p.length), [3, 3, 1]);
  assert.equal(new Set(alerts.pages.flat().map((a) => a.id)).size, 7);
  for (let seq = 3; seq <= 9; seq++) {
    const m = summaryMsg('p', 'dev-0', 'c', seq);
    store.addSummary(m, t0, JSON.stringify(m));
  }
  const latest = (await app.inject({ url: '/api/v1/cameras/p/dev-0/c/timeline?limit=4' })).json<{ seq: number }[]>();
  assert.deepEqual(latest.map((r) => r.seq), [6, 7, 8, 9]);
  const older = (await app.inject({ url: `/api/v1/cameras/p/dev-0/c/timeline?limit=4&before=${latest[0]!.seq}` })).json<{ seq: number }[]>();
  assert.deepEqual(older.map((r) => r.seq), [2, 3, 4, 5]);
});
