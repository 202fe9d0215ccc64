import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import { SQLITE_MIGRATIONS } from '../../../collector/store/sqlite-schema.js';
import { migrate } from '../../../lib/sqlite-migrations.js';
import { isDriftlineError } from '../../../lib/errors.js';
import { SCHEMAS, type StatusMessage } from '../../../protocol/messages.js';
import { summaryMsg } from '../../helpers/collector.js';
import { handlers } from '../../../collector/ingest/handlers.js';
import { RuleEngine } from '../../../collector/rules/engine.js';
import { silentLogger } from '../../../lib/log.js';
import { MAX_SEQ_JUMP, storeCases } from './store-cases.js';

const file = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'driftline-store-')), 'c.db');

/** A database as a collector of schema version `version` left it: its migrations, nothing later. */
function olderDatabase(f: string, version: number): Database.Database {
  const db = new Database(f);
  migrate(db, SQLITE_MIGRATIONS.slice(0, version), 'collector');
  return db;
}

/** Opens a store that is closed when the test ends (a second close() is a no-op). */
function open(t: TestContext, f: string): SqliteStore {
  const s = new SqliteStore(f);
  t.after(() => s.close());
  return s;
}

/** The store's own connection: a test fills its disk (max_page_count) or reads its tables through it. */
const dbOf = (s: SqliteStore): Database.Database => (s as unknown as { db: Database.Database }).db;

/** A full disk for this connection: `spare` pages more, then SQLITE_FULL. */
const fillDisk = (db: Database.Database, spare = 0): void => void db.pragma(`max_page_count = ${(db.pragma('page_count', { simple: true }) as number) + spare}`);
/** Room again (SQLite's own largest page count). */
const freeDisk = (db: Database.Database): void => void db.pragma('max_page_count = 1073741823');

/** Stores padded summaries of one camera from seq `from` on until the disk is full; returns the seq that failed. */
function writeUntilFull(s: SqliteStore, camera: string, from: number, receivedTs: number): number {
  let seq = from;
  assert.throws(() => {
    for (; ; seq++) s.addSummary(summaryMsg('p', 'e', camera, seq), receivedTs, JSON.stringify({ ...summaryMsg('p', 'e', camera, seq), pad: 'x'.repeat(3000) }));
  }, /full/);
  return seq;
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
  const pages = (s: SqliteStore): number => dbOf(s).pragma('cache_size', { simple: true }) as number;
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
  const raw = olderDatabase(f, 3);
  const record = { schema: SCHEMAS.alert, id: 'old', rule: 'drift', fingerprint: 'drift/p/e/c', state: 'resolved', severity: 'warning', labels: { site: 'p', device: 'e', camera: 'c' }, annotations: {}, startsAt: 'x', updatedAt: 'y' };
  raw.prepare("INSERT INTO alerts (id, fingerprint, state, starts_at, updated_at, record) VALUES ('old', 'drift/p/e/c', 'resolved', 'x', 'y', ?)").run(JSON.stringify(record));
  raw.close();
  const s = open(t, f);
  assert.deepEqual(s.alerts({ site: 'p', device: 'e', camera: 'c', limit: 5 }).map((a) => a.id), ['old']);
});

storeCases('sqlite', async (t) => {
  const store = open(t, await file());
  const rules = new RuleEngine(store, { driftForMs: 300_000, driftClearMs: 600_000, driftMinSeverity: 'warn', offlineSilenceMs: 3_600_000, stalledWindows: 3, modelChangedHoldMs: 60_000, resendMs: 60_000, runbookUrl: 'r' }, () => undefined);
  const gaps = { count: 0 };
  const h = handlers(store, rules, silentLogger, gaps, { maxSeqJump: MAX_SEQ_JUMP });
  const one = <T>(f: () => T): T => {
    store.beginBatch();
    const r = f();
    store.commitBatch();
    return r;
  };
  return {
    q: store,
    gaps,
    lateFills: false,
    status: async (m, at) => one(() => h.status(m, at)),
    summary: async (m, at, timeProblem) => one(() => h.summary(m, at, JSON.stringify(m), timeProblem)),
    event: async (e, at) => one(() => h.event(e, at, JSON.stringify(e))),
    burst: async (ms, at) => Promise.all(one(() => ms.map((m) => h.summary(m, at, JSON.stringify(m))))),
    saveAlert: async (a) => store.saveAlert(a),
  };
});

test('a device read on every summary comes from memory: its last seen moves with each message, as the table will say', async (t) => {
  const f = await file();
  const s = open(t, f);
  assert.equal(s.device('p', 'e'), undefined, 'no row yet');
  const birth: StatusMessage = { schema: SCHEMAS.status, site: 'p', device: 'e', state: 'online', ts: 1, agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60 };
  s.putStatus({ ...birth }, 1000);
  assert.deepEqual(s.device('p', 'e'), { site: 'p', device: 'e', state: 'online', lastSeen: 1000, status: birth });
  s.beginBatch();
  s.addSummary(summaryMsg('p', 'e', 'c', 1), 5000);
  s.addSummary(summaryMsg('p', 'e', 'c', 2), 4000); // older receive time: last seen stays at the latest
  s.commitBatch();
  assert.equal(s.device('p', 'e')!.lastSeen, 5000, 'moved on without a flush');
  const reader = new Database(f, { readonly: true });
  t.after(() => reader.close());
  const table = (): number => (reader.prepare("SELECT last_seen AS t FROM devices WHERE site = 'p' AND device = 'e'").get() as { t: number }).t;
  assert.equal(table(), 1000, 'the table is written with the bookkeeping, later');
  s.flush();
  assert.equal(table(), 5000, 'and then says the same');
  assert.deepEqual(s.devices(), [s.device('p', 'e')]);
  s.putStatus({ ...birth, state: 'offline', stopReason: 'upgrade' }, 6000);
  assert.equal(s.device('p', 'e')!.state, 'offline', 'a new status is read again');
  assert.equal(s.device('p', 'e')!.status.stopReason, 'upgrade');
  assert.equal(s.device('p', 'e')!.lastSeen, 6000);
  s.addEvent({ schema: SCHEMAS.event, site: 'p', device: 'e', camera: 'c', seq: 1, ts: 1, kind: 'stalled', message: 'x' }, 7000);
  assert.equal(s.device('p', 'e')!.lastSeen, 7000, 'events count as seen too');
  s.addSummary(summaryMsg('q', 'nobody', 'c', 1), 8000);
  assert.equal(s.device('q', 'nobody'), undefined, 'a device that never said hello has no row');
});

test('a new database has 16 KiB pages; one made before keeps its own', async (t) => {
  const page = (s: SqliteStore): number => dbOf(s).pragma('page_size', { simple: true }) as number;
  assert.equal(page(open(t, await file())), 16_384);
  const old = await file();
  const db = new Database(old);
  db.pragma('journal_mode = WAL');
  db.close();
  const s = open(t, old);
  assert.equal(page(s), 4096);
  s.addSummary(summaryMsg('p', 'e', 'c', 1), 1);
  assert.deepEqual(s.summaries('p', 'e', 'c').map((m) => m.seq), [1]);
});

test('migration 5: summaries stored under the old primary key keep their ids, order and dedupe; their keys are built', async (t) => {
  const f = await file();
  const raw = olderDatabase(f, 4);
  const insert = raw.prepare('INSERT INTO summaries (site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  // Interleaved cameras, a late seq, and a hole in the rowids (a row deleted): ids are kept as they were.
  const rows: [string, string, number][] = [['e', 'c1', 1], ['e', 'c2', 1], ['e', 'c1', 3], ['f', 'c1', 7], ['e', 'c1', 2], ['e', 'c2', 2]];
  for (const [device, camera, seq] of rows) {
    const m = summaryMsg('p', device, camera, seq);
    insert.run(['p', device, camera, seq, m.start, m.end, m.status, m.frames, 100 + seq, JSON.stringify(m)]);
  }
  raw.prepare("DELETE FROM summaries WHERE device = 'e' AND camera = 'c2' AND seq = 1").run();
  const before = raw.prepare('SELECT rowid AS id, device, camera, seq FROM summaries ORDER BY rowid').all();
  raw.close();
  const bytes = statSync(f).size; // before: the upgrade grows the file

  const upgrades: unknown[] = [];
  const s = new SqliteStore(f, 500, { onUpgrade: (u) => upgrades.push(u) });
  t.after(() => s.close());
  assert.deepEqual(upgrades, [{ from: 4, to: SQLITE_MIGRATIONS.length, bytes }], 'told once, before, with the file size');
  const db = dbOf(s);
  assert.equal(db.pragma('user_version', { simple: true }), SQLITE_MIGRATIONS.length);
  assert.deepEqual(db.prepare('SELECT id, device, camera, seq FROM summaries ORDER BY id').all(), before, 'every row, under its old rowid');
  assert.deepEqual(
    db.prepare('SELECT c.device, c.camera, k.seq, k.rid FROM summary_keys k JOIN summary_cameras c ON c.id = k.cam ORDER BY k.rid').all(),
    (before as { id: number; device: string; camera: string; seq: number }[]).map((r) => ({ device: r.device, camera: r.camera, seq: r.seq, rid: r.id })),
    'one key per row',
  );
  assert.deepEqual(s.summaries('p', 'e', 'c1').map((m) => m.seq), [1, 2, 3], 'read in seq order');
  assert.equal(s.lastSeq('p', 'e', 'c1'), 3);
  assert.equal(s.addSummary(summaryMsg('p', 'e', 'c1', 2), 200).result, 'duplicate', 'a seq stored before the migration is a repeat');
  assert.equal(s.addSummary(summaryMsg('p', 'e', 'c2', 1), 200).result, 'stored', 'a deleted one may come again');
  assert.deepEqual(s.addSummary(summaryMsg('p', 'f', 'c1', 8), 200), { result: 'stored', previousSeq: 7 });
  assert.deepEqual(s.summaries('p', 'e', 'c2').map((m) => m.seq), [1, 2]);
  const fresh = new SqliteStore(await file(), 500, { onUpgrade: (u) => upgrades.push(u) });
  fresh.close();
  assert.equal(upgrades.length, 1, 'a new database is made, not upgraded');
});

test('summary keys: written with the bookkeeping, read whole before that, and rebuilt after a crash', async (t) => {
  const f = await file();
  const s = open(t, f);
  const keys = (db: Database.Database): number => (db.prepare('SELECT count(*) AS n FROM summary_keys').get() as { n: number }).n;
  const reader = new Database(f, { readonly: true });
  t.after(() => reader.close());
  s.beginBatch();
  for (let seq = 1; seq <= 5; seq++) s.addSummary(summaryMsg('p', 'e', 'c', seq), seq);
  s.commitBatch();
  assert.equal(keys(reader), 0, 'committed rows, keys not yet written');
  assert.deepEqual(s.summaries('p', 'e', 'c').map((m) => m.seq), [1, 2, 3, 4, 5], 'a read indexes first');
  assert.equal(keys(reader), 5);

  // A late seq, then the same again before any flush: the second is a repeat.
  s.addSummary(summaryMsg('p', 'e', 'c', 9), 10);
  assert.equal(s.addSummary(summaryMsg('p', 'e', 'c', 7), 11).result, 'stored', 'a late one fills its gap');
  assert.equal(s.addSummary(summaryMsg('p', 'e', 'c', 7), 12).result, 'duplicate', 'and is a repeat at once');
  assert.equal(s.addSummary(summaryMsg('p', 'e', 'c', 9), 13).result, 'duplicate');
  assert.equal(s.addSummary(summaryMsg('p', 'e', 'c', 8), 14).result, 'stored');

  // A crash: rows committed after the last flush, keys not written. The next store indexes them before reading.
  s.addSummary(summaryMsg('p', 'e', 'c', 10), 20);
  s.addSummary(summaryMsg('p', 'e', 'd', 1), 21);
  const crashed = new Database(f);
  t.after(() => crashed.close());
  assert.equal(keys(crashed), 7, 'the last three rows (seqs 8 and 10, and d 1) have no keys yet');
  const again = new SqliteStore(f);
  t.after(() => again.close());
  assert.equal(again.lastSeq('p', 'e', 'c'), 10);
  assert.equal(again.lastSeq('p', 'e', 'd'), 1);
  assert.equal(again.addSummary(summaryMsg('p', 'e', 'c', 10), 30).result, 'duplicate', 'a row stored after the last flush is known');
  assert.deepEqual(again.summaries('p', 'e', 'c').map((m) => m.seq), [1, 2, 3, 4, 5, 7, 8, 9, 10]);
  assert.equal(keys(crashed), 10);
});

test('summary keys: a COMMIT that fails takes back the keys its batch wrote, and a repeat after it is still a repeat', async (t) => {
  const s = open(t, await file());
  const db = dbOf(s);
  // A COMMIT that fails for certain: a deferred foreign key left dangling (a full disk does it in disk-full.test.ts).
  db.pragma('foreign_keys = ON');
  db.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)');
  s.beginBatch();
  for (let seq = 1; seq <= 3; seq++) s.addSummary(summaryMsg('p', 'e', 'c', seq), seq);
  s.commitBatch(); // committed; their keys wait for the next flush or read
  s.beginBatch();
  s.addSummary(summaryMsg('p', 'e', 'c', 4), 4);
  assert.deepEqual(s.summaries('p', 'e', 'c').map((m) => m.seq), [1, 2, 3, 4], 'a read inside the batch writes the keys of all four');
  db.exec('INSERT INTO child VALUES (1)');
  assert.throws(() => s.commitBatch(), /FOREIGN KEY/);
  // The broker delivers the refused burst again, with a repeat of an earlier seq.
  assert.equal(s.addSummary(summaryMsg('p', 'e', 'c', 3), 5).result, 'duplicate', 'seq 3 was committed before the failed batch');
  assert.deepEqual(s.addSummary(summaryMsg('p', 'e', 'c', 4), 5), { result: 'stored', previousSeq: 3 });
  assert.deepEqual(s.summaries('p', 'e', 'c').map((m) => m.seq), [1, 2, 3, 4]);
  assert.equal((db.prepare('SELECT count(*) AS n FROM summaries').get() as { n: number }).n, 4, 'each seq stored once');
});

test('a batch SQLite rolls back itself (a write fails with SQLITE_FULL): nothing of it stays, in the table or in memory', async (t) => {
  const s = open(t, await file());
  const db = dbOf(s);
  s.addSummary(summaryMsg('p', 'e', 'a', 1), 1);
  s.flush();
  fillDisk(db, 2); // the disk fills up
  s.beginBatch();
  const seq = writeUntilFull(s, 'b', 1, 2);
  assert.ok(seq > 2, 'some of the batch was written before the disk filled');
  assert.equal(db.inTransaction, false, 'SQLite ended the transaction: every write of the batch is undone');
  assert.throws(() => s.addSummary(summaryMsg('p', 'e', 'b', seq + 1), 2), /rolled back/, 'no write lands outside the batch');
  assert.throws(() => s.beginBatch(), /rolled back/, 'nor in a next batch before this one is refused');
  assert.throws(() => s.commitBatch(), /rolled back/, 'and its commit says so: the burst is refused');
  assert.doesNotThrow(() => s.commitBatch(), 'the batch is over');
  freeDisk(db); // space is back
  // The broker delivers the burst again; a camera new since then gets an id of its own.
  assert.equal(s.lastSeq('p', 'e', 'b'), 0, 'no seq of the rolled-back batch is claimed');
  assert.deepEqual(s.addSummary(summaryMsg('p', 'e', 'b', 1), 3), { result: 'stored', previousSeq: 0 });
  assert.equal(s.addSummary(summaryMsg('p', 'e', 'c', 1), 3).result, 'stored');
  assert.equal(s.addSummary(summaryMsg('p', 'e', 'c', 2), 3).result, 'stored');
  assert.deepEqual(s.summaries('p', 'e', 'b').map((m) => `${m.camera}/${m.seq}`), ['b/1']);
  assert.deepEqual(s.summaries('p', 'e', 'c').map((m) => `${m.camera}/${m.seq}`), ['c/1', 'c/2']);
  assert.deepEqual(s.summaries('p', 'e', 'a').map((m) => m.seq), [1]);

  // The disk fills again during a batch, and the collector stops: the store still closes, and says why.
  fillDisk(db);
  s.beginBatch();
  writeUntilFull(s, 'c', 3, 4);
  assert.throws(() => s.close(), /rolled back/);
  assert.equal(db.open, false, 'closed all the same');
});

test('a full disk: reads answer from the keys written so far, dedupe refuses to guess, and the rest is indexed once there is room', async (t) => {
  const f = await file();
  const s = open(t, f);
  const db = dbOf(s);
  s.addSummary(summaryMsg('p', 'e', 'c', 1), 1);
  s.flush();
  s.beginBatch();
  for (let seq = 2; seq <= 3000; seq++) s.addSummary(summaryMsg('p', 'e', 'c', seq), seq);
  s.commitBatch(); // 2,999 rows whose keys wait for the next flush
  fillDisk(db); // not one page more
  assert.deepEqual(s.summaries('p', 'e', 'c').map((m) => m.seq), [1], 'the keys written so far; no throw');
  assert.equal(s.summary('p', 'e', 'c', 2), undefined);
  assert.equal(s.timeline('p', 'e', 'c', 0, 10).length, 1);
  (s as unknown as { cams: Map<string, unknown> }).cams.clear(); // as after a restart: the camera's last seq is read again
  assert.throws(() => s.lastSeq('p', 'e', 'c'), /full/, 'dedupe does not guess: it needs every key');
  freeDisk(db);
  assert.equal(s.summaries('p', 'e', 'c').length, 3000, 'room again: every row found');
  assert.equal(s.lastSeq('p', 'e', 'c'), 3000);
});

test('a batch that ends unseen (a read or a rule contained the error): nothing writes outside it, and its commit refuses it', async (t) => {
  const f = await file();
  const s = open(t, f);
  const db = dbOf(s);
  const birth = (epoch: string): StatusMessage => ({ schema: SCHEMAS.status, site: 'p', device: 'e', state: 'online', ts: 1, epoch, agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60 });
  s.putStatus(birth('A'), 1);
  s.addSummary(summaryMsg('p', 'e', 'c', 1), 1);
  s.flush();
  s.beginBatch();
  s.newEpoch('p', 'e'); // a new epoch inside the batch: its offsets are cached
  assert.deepEqual(s.seqOffsets('p', 'e', 'c'), { summary: 1, event: 0 });
  for (let seq = 2; seq <= 3000; seq++) s.addSummary(summaryMsg('p', 'e', 'c', seq, { status: 'alert' }), 1000 + seq);
  fillDisk(db); // the disk is full now
  s.timeline('p', 'e', 'c', 0, 5); // an API read between the burst's messages and its commit: its indexing fails, unseen
  assert.equal(db.inTransaction, false, 'the read ended the batch');
  freeDisk(db); // even with room again, until the batch's commit:
  assert.deepEqual(s.cameras().map((c) => [c.camera, c.lastSeq, c.lastStatus]), [['c', 1, 'ok']], 'the bookkeeping of the rolled-back rows is not written');
  assert.throws(() => s.newEpoch('p', 'e'), /rolled back/, 'no epoch written on its own');
  assert.equal((db.prepare('SELECT count(*) AS n FROM epochs').get() as { n: number }).n, 0);
  assert.throws(() => s.commitBatch(), /rolled back/);
  assert.deepEqual(s.seqOffsets('p', 'e', 'c'), { summary: 0, event: 0 }, 'the rolled-back epoch is forgotten');
  // Delivered again: the same seqs, stored once, under the seqs they had.
  for (let seq = 2; seq <= 4; seq++) assert.equal(s.addSummary(summaryMsg('p', 'e', 'c', seq), 5000).result, 'stored');
  assert.deepEqual(s.summaries('p', 'e', 'c').map((m) => m.seq), [1, 2, 3, 4]);
  s.close();
  assert.doesNotThrow(() => s.close(), 'a second close is a no-op');
});

test('a rolled-back batch takes only its own bookkeeping: that of the batches committed before it is still written', async (t) => {
  const f = await file();
  const s = new SqliteStore(f, 60_000); // no timed flush during the test
  t.after(() => s.close());
  const db = dbOf(s);
  s.addSummary(summaryMsg('p', 'e', 'a', 1), 1);
  s.flush();
  s.beginBatch(); // committed; its bookkeeping waits for the next flush
  for (let seq = 2; seq <= 5; seq++) s.addSummary(summaryMsg('p', 'e', 'a', seq, { status: 'alert' }), 10);
  s.commitBatch();
  s.beginBatch(); // the next burst, of camera b, reads the cameras (a flush inside the batch) and then meets a full disk
  s.addSummary(summaryMsg('p', 'e', 'b', 1), 20);
  assert.deepEqual(s.cameras().map((c) => [c.camera, c.lastSeq]), [['a', 5], ['b', 1]], 'a read inside the batch sees it');
  fillDisk(db);
  writeUntilFull(s, 'b', 2, 20);
  assert.throws(() => s.commitBatch(), /rolled back/);
  freeDisk(db);
  assert.deepEqual(
    s.cameras().map((c) => [c.camera, c.lastSeq, c.lastStatus, c.lastReceived]),
    [['a', 5, 'alert', 10]],
    "camera a's committed windows are still in the bookkeeping; b's rolled-back ones are not",
  );
});
