import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import { isDriftlineError } from '../../../lib/errors.js';
import { SCHEMAS } from '../../../protocol/messages.js';
import { summaryMsg } from '../../helpers/collector.js';

const file = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'driftline-store-')), 'c.db');

/** Opens a store that is closed when the test ends, unless the test closed it (close() is not idempotent). */
function open(t: TestContext, f: string): SqliteStore {
  const s = new SqliteStore(f);
  const close = s.close.bind(s);
  let closed = false;
  s.close = () => {
    if (!closed) close();
    closed = true;
  };
  t.after(() => s.close());
  return s;
}

test('summaries: dedupe on (site, device, camera, seq), previous seq reported, kept across reopen', async (t) => {
  const f = await file();
  const s = open(t, f);
  assert.deepEqual(s.addSummary(summaryMsg('p', 'e', 'c', 1), 10), { result: 'stored', previousSeq: 0 });
  assert.deepEqual(s.addSummary(summaryMsg('p', 'e', 'c', 1, { status: 'alert' }), 11), { result: 'duplicate', previousSeq: 1 });
  assert.deepEqual(s.addSummary(summaryMsg('p', 'e', 'c', 3), 12), { result: 'stored', previousSeq: 1 });
  assert.deepEqual(s.addSummary(summaryMsg('p', 'e', 'c', 2), 13), { result: 'stored', previousSeq: 3 }, 'a late one still fills its gap');
  assert.deepEqual(s.addSummary(summaryMsg('p', 'e2', 'c', 1), 14).result, 'stored', 'another device has its own sequence');
  s.close();
  const again = open(t, f);
  assert.deepEqual(again.summaries('p', 'e', 'c').map((m) => [m.seq, m.status]), [[1, 'ok'], [2, 'ok'], [3, 'ok']]);
  assert.deepEqual(again.cameras().map((c) => [c.device, c.lastSeq]), [['e', 3], ['e2', 1]], 'the camera row tracks the highest seq');
  const latest = again.cameras().find((c) => c.device === 'e')!;
  assert.equal(again.summary('p', 'e', 'c', latest.lastSeq)?.seq, 3, 'the latest window by its primary key');
  assert.equal(again.summary('p', 'e', 'c', 9), undefined);
  const ev = { schema: SCHEMAS.event, site: 'p', device: 'e', camera: 'c', seq: 1, ts: 1, kind: 'stalled' as const, message: 'x' };
  assert.equal(again.addEvent(ev, 1), 'stored');
  assert.equal(again.addEvent(ev, 2), 'duplicate');
  again.close();
});

test('retention deletes old summaries, events and resolved alerts, never a firing one', async (t) => {
  const s = open(t, await file());
  s.addSummary(summaryMsg('p', 'e', 'c', 1), 1_000);
  s.addSummary(summaryMsg('p', 'e', 'c', 2), 90_000);
  const base = { schema: SCHEMAS.alert, rule: 'drift', severity: 'warning' as const, labels: {}, annotations: {}, startsAt: new Date(0).toISOString() };
  s.saveAlert({ ...base, id: 'old-resolved', fingerprint: 'f1', state: 'resolved', updatedAt: new Date(1_000).toISOString() });
  s.saveAlert({ ...base, id: 'old-firing', fingerprint: 'f2', state: 'firing', updatedAt: new Date(1_000).toISOString() });
  assert.equal(s.prune(100_000, 50_000, 50_000), 2);
  assert.deepEqual(s.summaries('p', 'e', 'c').map((m) => m.seq), [2]);
  assert.deepEqual(s.alerts({ limit: 10 }).map((a) => a.id), ['old-firing']);
  s.close();
});

test('a database from a newer collector is refused with a coded error', async (t) => {
  const f = await file();
  open(t, f).close();
  const raw = new Database(f);
  t.after(() => raw.close());
  raw.pragma('user_version = 99');
  raw.close();
  assert.throws(() => new SqliteStore(f), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_STORE') && /newer than this collector/.test(e.message));
});

test("the page cache is the configured size, not better-sqlite3's 16 MiB build default", async (t) => {
  const pages = (s: SqliteStore): number => (s as unknown as { db: Database.Database }).db.pragma('cache_size', { simple: true }) as number;
  const a = open(t, await file());
  assert.equal(pages(a), -4096, '4 MiB by default, in KiB (a negative cache_size)');
  const b = new SqliteStore(await file(), undefined, { cacheBytes: 1 << 20 });
  t.after(() => b.close());
  assert.equal(pages(b), -1024);
});

test('alerts by what they are about: site, device, camera, with state and pages; one camera by its key', async (t) => {
  const s = open(t, await file());
  const base = { schema: SCHEMAS.alert, severity: 'warning' as const, annotations: {}, startsAt: new Date(0).toISOString() };
  const alert = (id: string, rule: string, state: 'firing' | 'resolved', at: number, labels: Record<string, string>) =>
    s.saveAlert({ ...base, id, rule, fingerprint: `${rule}/${id}`, state, updatedAt: new Date(at).toISOString(), labels });
  alert('a1', 'drift', 'resolved', 1000, { site: 'p', device: 'e', camera: 'c1' });
  alert('a2', 'drift', 'resolved', 2000, { site: 'p', device: 'e', camera: 'c1' });
  alert('a3', 'drift', 'firing', 3000, { site: 'p', device: 'e', camera: 'c1' });
  alert('a4', 'drift', 'resolved', 4000, { site: 'p', device: 'e', camera: 'c2' });
  alert('a5', 'deviceOffline', 'resolved', 5000, { site: 'p', device: 'e' });
  alert('a6', 'drift', 'resolved', 6000, { site: 'p', device: 'other', camera: 'c1' });
  alert('a7', 'drift', 'resolved', 7000, { site: 'q', device: 'e', camera: 'c1' });
  const ids = (o: Parameters<typeof s.alerts>[0]) => s.alerts(o).map((a) => a.id);
  assert.deepEqual(ids({ state: 'resolved', site: 'p', device: 'e', camera: 'c1', limit: 10 }), ['a2', 'a1'], "a camera's resolved history, newest first");
  assert.deepEqual(ids({ site: 'p', device: 'e', camera: 'c1', limit: 10 }), ['a3', 'a2', 'a1']);
  assert.deepEqual(ids({ state: 'firing', site: 'p', device: 'e', camera: 'c1', limit: 10 }), ['a3']);
  assert.deepEqual(ids({ site: 'p', device: 'e', limit: 10 }), ['a5', 'a4', 'a3', 'a2', 'a1'], "a device's, its cameras' included");
  assert.deepEqual(ids({ site: 'p', limit: 10 }), ['a6', 'a5', 'a4', 'a3', 'a2', 'a1']);
  assert.deepEqual(ids({ site: 'p', device: 'e', camera: 'c1', limit: 2, before: [new Date(3000).toISOString(), 'a3'] }), ['a2', 'a1'], 'pages on (updatedAt, id)');
  assert.deepEqual(ids({ limit: 3 }), ['a7', 'a6', 'a5'], 'unfiltered as before');

  s.addSummary(summaryMsg('p', 'e', 'c1', 4, { status: 'warn' }), 10);
  assert.deepEqual(s.camera('p', 'e', 'c1') && [s.camera('p', 'e', 'c1')!.lastSeq, s.camera('p', 'e', 'c1')!.lastStatus], [4, 'warn'], 'the in-memory bookkeeping is written before the read');
  assert.equal(s.camera('p', 'e', 'nope'), undefined);
});

test('migration 4 files the alerts already stored under their labels', async (t) => {
  const f = await file();
  // A version-3 database: the first three migrations, as an older collector left them, with an alert.
  open(t, f).close();
  const raw = new Database(f);
  raw.exec("DROP INDEX alerts_scope; ALTER TABLE alerts DROP COLUMN site; ALTER TABLE alerts DROP COLUMN device; ALTER TABLE alerts DROP COLUMN camera; PRAGMA user_version = 3");
  const record = { schema: SCHEMAS.alert, id: 'old', rule: 'drift', fingerprint: 'drift/p/e/c', state: 'resolved', severity: 'warning', labels: { site: 'p', device: 'e', camera: 'c' }, annotations: {}, startsAt: 'x', updatedAt: 'y' };
  raw.prepare("INSERT INTO alerts (id, fingerprint, state, starts_at, updated_at, record) VALUES ('old', 'drift/p/e/c', 'resolved', 'x', 'y', ?)").run(JSON.stringify(record));
  raw.close();
  const s = open(t, f);
  assert.deepEqual(s.alerts({ site: 'p', device: 'e', camera: 'c', limit: 5 }).map((a) => a.id), ['old']);
});
