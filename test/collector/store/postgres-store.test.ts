/**
 * The PostgreSQL store: the shared store cases (store-cases.ts), then what only it has: migrations
 * shared by replicas starting at once, two replicas storing one camera at the same time, the feed
 * the leader reads (each stored row once, whatever order transactions commit in), acknowledgements
 * that survive the leader writing the alert again, and retention in batches.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { clusterHandlers } from '../../../collector/cluster/handlers.js';
import { beginTerm, FencedError, PostgresStore, PRUNE_BATCH, type FeedCursor } from '../../../collector/store/postgres-store.js';
import { PG_MIGRATIONS } from '../../../collector/store/postgres-schema.js';
import type { AlertRecord } from '../../../collector/store/store.js';
import { isDriftlineError } from '../../../lib/errors.js';
import { silentLogger } from '../../../lib/log.js';
import { SCHEMAS, type StatusMessage, type SummaryMessage } from '../../../protocol/messages.js';
import { summaryMsg } from '../../helpers/collector.js';
import { horizonPastCommitted, putStatus, testClient, testDatabase } from '../../helpers/postgres.js';
import { sleep, until } from '../../helpers/wait.js';
import { MAX_SEQ_JUMP, storeCases, type Backend } from './store-cases.js';

async function openStore(t: TestContext, url?: string, maxSeqJump = MAX_SEQ_JUMP): Promise<PostgresStore> {
  const s = await PostgresStore.open(url ?? (await testDatabase(t, 'store')), { maxSeqJump });
  t.after(() => s.close());
  return s;
}

async function backend(t: TestContext): Promise<Backend> {
  const store = await openStore(t);
  const gaps = { count: 0 };
  const h = clusterHandlers(store, silentLogger, gaps, MAX_SEQ_JUMP);
  // Committed, and the devices' last-seen times written (every 500 ms otherwise, as SQLite's bookkeeping).
  const one = async <T>(f: () => T): Promise<Awaited<T>> => {
    store.beginBatch();
    const r = f();
    await store.commitBatch();
    await store.flushSeen();
    return await r;
  };
  return {
    q: store,
    gaps,
    lateFills: true,
    status: (m, at) => putStatus(store, m, at),
    summary: (m, at, timeProblem) => one(() => h.summary(m, at, JSON.stringify(m), timeProblem)),
    event: (e, at) => one(() => h.event(e, at, JSON.stringify(e))),
    burst: async (ms, at) => {
      store.beginBatch();
      const ps = ms.map((m) => h.summary(m, at, JSON.stringify(m)));
      await store.commitBatch();
      return Promise.all(ps);
    },
    saveAlert: (a) => store.saveAlert(a),
  };
}

storeCases('postgres', backend);

const raw = (m: SummaryMessage): string => JSON.stringify(m);

test('postgres: three replicas opening one new database at once migrate it once', async (t) => {
  const url = await testDatabase(t, 'migrate');
  const stores = await Promise.all([0, 1, 2].map(() => openStore(t, url)));
  const c = await testClient(t, url);
  assert.deepEqual((await c.query('SELECT version FROM schema_version')).rows, [{ version: PG_MIGRATIONS.length }]);
  assert.equal(stores.length, 3);
});

test('postgres: a replica that starts while another migrates waits for it, past the pool\'s lock and query limits', async (t) => {
  const url = await testDatabase(t, 'migrate-wait');
  const admin = await testClient(t, url);
  // Another replica's migration, longer than this replica's sessions may wait for a lock or an answer.
  await admin.query("SELECT pg_advisory_lock(hashtext('driftline-migrate'))");
  const opening = PostgresStore.open(url, { maxSeqJump: 10, limits: { lock_timeout: 200, statement_timeout: 300, query_timeout: 400 } });
  // It waits on the migration lock (in this database: other files' replicas take advisory locks
  // too), then longer than its pool's limits.
  const waiting = async (): Promise<boolean> =>
    (await admin.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).rows[0].n > 0;
  await until(waiting, 10_000, 'the new replica waiting for the migration lock');
  await sleep(1000);
  assert.ok(await waiting(), 'still waiting, past its lock, statement and query limits');
  await admin.query("SELECT pg_advisory_unlock(hashtext('driftline-migrate'))");
  const store = await opening;
  t.after(() => store.close());
  assert.deepEqual((await admin.query('SELECT version FROM schema_version')).rows, [{ version: PG_MIGRATIONS.length }]);
});

test('postgres: a database of schema version 3 is migrated in place and goes on storing where it was', async (t) => {
  const url = await testDatabase(t, 'upgrade');
  const c = await testClient(t, url);
  // What a collector of version 3 left: its migrations, and summaries stored through its function.
  await c.query('CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (3)');
  for (const m of PG_MIGRATIONS.slice(0, 3)) await c.query(m);
  const old = [1, 2, 3].map((seq) => summaryMsg('p', 'e', 'c1', seq));
  const col = <T>(f: (m: SummaryMessage) => T): T[] => old.map(f);
  await c.query(
    'SELECT * FROM driftline_ingest_summaries($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::integer[], $9::bigint[], $10::text[], $11::text[], 10)',
    [col((m) => m.site), col((m) => m.device), col((m) => m.camera), col((m) => m.seq), col((m) => m.start), col((m) => m.end), col((m) => m.status), col((m) => m.frames), col(() => 1), col(raw), col(() => null)],
  );
  const store = await openStore(t, url);
  assert.deepEqual((await c.query('SELECT version FROM schema_version')).rows, [{ version: PG_MIGRATIONS.length }]);
  const h = clusterHandlers(store, silentLogger, { count: 0 }, MAX_SEQ_JUMP);
  store.beginBatch();
  const outcomes = [2, 3, 4, 5].map((seq) => h.summary(summaryMsg('p', 'e', 'c1', seq), 2, raw(summaryMsg('p', 'e', 'c1', seq))));
  await store.commitBatch();
  assert.deepEqual(await Promise.all(outcomes), ['duplicate', 'duplicate', 'stored', 'stored']);
  assert.deepEqual((await store.summaries('p', 'e', 'c1')).map((m) => m.seq), [1, 2, 3, 4, 5]);
  assert.equal((await store.camera('p', 'e', 'c1'))?.lastSeq, 5);
});

test('postgres: migration 5 keeps each device\'s last epoch from its stored status, so a new one after an offline status is seen', async (t) => {
  const url = await testDatabase(t, 'epochs');
  const c = await testClient(t, url);
  await c.query('CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (4)');
  for (const m of PG_MIGRATIONS.slice(0, 4)) await c.query(m);
  const status = (device: string, extra: Record<string, unknown>): string => JSON.stringify({ schema: SCHEMAS.status, site: 'p', device, state: 'online', ts: 1, ...extra });
  await c.query(`INSERT INTO devices (site, device, state, last_seen, status) VALUES ('p', 'a', 'online', 1, $1), ('p', 'b', 'online', 1, $2), ('p', 'n', 'online', 1, $3)`, [
    status('a', { epoch: 'aaaa' }),
    status('b', { model: { name: 'with a "quote" \\ and a nul \u0000', sha256: 'x' }, epoch: 'bbbb' }),
    status('n', {}),
  ]);
  await openStore(t, url);
  assert.deepEqual((await c.query('SELECT device, epoch FROM devices ORDER BY device')).rows, [
    { device: 'a', epoch: 'aaaa' },
    { device: 'b', epoch: 'bbbb' },
    { device: 'n', epoch: null },
  ]);
});

test('postgres: migration 8 takes each device\'s last status receive time from its stored statuses, not from its last message', async (t) => {
  const url = await testDatabase(t, 'received');
  const c = await testClient(t, url);
  await c.query('CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (7)');
  for (const m of PG_MIGRATIONS.slice(0, 7)) await c.query(m);
  const birth = JSON.stringify({ schema: SCHEMAS.status, site: 'p', device: 'a', state: 'online', ts: 1 });
  // Its birth was received at 1000; summaries since, at 9000 last (by a replica whose clock runs ahead).
  // (Migration 7 took it from last_seen.)
  await c.query(`INSERT INTO devices (site, device, state, last_seen, status, status_received) VALUES ('p', 'a', 'online', 9000, $1, 9000), ('p', 'q', 'online', 700, $1, 700)`, [birth]);
  const earlierWill = JSON.stringify({ schema: SCHEMAS.status, site: 'p', device: 'a', state: 'offline', ts: 0 });
  await c.query(`INSERT INTO statuses (site, device, received_ts, payload) VALUES ('p', 'a', 400, $1), ('p', 'a', 1000, $1), ('p', 'a', 1200, $2)`, [birth, earlierWill]); // the Will: committed before the birth
  const s = await openStore(t, url);
  assert.deepEqual((await c.query('SELECT device, status_received FROM devices ORDER BY device')).rows, [
    { device: 'a', status_received: '1000' },
    { device: 'q', status_received: '700' }, // no status stored: its last message
  ]);
  // Its Last Will, received at 5000 by a replica whose clock is behind, marks it offline.
  const will = { schema: SCHEMAS.status, site: 'p', device: 'a', state: 'offline' as const, ts: 2 };
  await putStatus(s, will, 5000);
  assert.equal((await s.device('p', 'a'))?.state, 'offline');
});

test('postgres: a burst of new and late summaries is stored in arrival order, which is the order the leader reads', async (t) => {
  const store = await openStore(t);
  const h = clusterHandlers(store, silentLogger, { count: 0 }, MAX_SEQ_JUMP);
  const burst = async (seqs: number[]): Promise<string[]> => {
    store.beginBatch();
    const out = seqs.map((seq) => h.summary(summaryMsg('p', 'e', 'c1', seq), 1, raw(summaryMsg('p', 'e', 'c1', seq))));
    await store.commitBatch();
    return Promise.all(out);
  };
  await burst([1, 2]);
  // 5 and 6 are new; 3 and 4 come late (another replica had them), each filling its gap.
  assert.deepEqual(await burst([5, 3, 6, 4]), ['stored', 'stored', 'stored', 'stored']);
  const order = await store.pool.query<{ seq: number }>("SELECT seq FROM summaries WHERE camera = 'c1' ORDER BY id");
  assert.deepEqual(order.rows.map((r) => r.seq), [1, 2, 5, 3, 6, 4]);
  assert.equal((await store.camera('p', 'e', 'c1'))?.lastSeq, 6);
});

test('postgres: a database from a newer collector is refused with a coded error that hides the password', async (t) => {
  const url = await testDatabase(t, 'newer');
  await openStore(t, url); // migrated to the current version
  const c = await testClient(t, url);
  await c.query('UPDATE schema_version SET version = 99');
  const withPassword = url.replace('postgres@', 'postgres:s3cret@');
  await assert.rejects(PostgresStore.open(withPassword, { maxSeqJump: 10 }), (e: unknown) => {
    assert.ok(isDriftlineError(e, 'DRIFTLINE_ERR_STORE'));
    assert.match((e as Error).message, /newer than this collector/);
    assert.doesNotMatch((e as Error).message, /s3cret/);
    return true;
  });
  await assert.rejects(PostgresStore.open('postgres://nobody@127.0.0.1:1/none', { maxSeqJump: 10 }), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_STORE'));
});

test('postgres: two replicas storing one camera at once, 400 summaries each in bursts of 20, with overlaps: every seq once, the last seq right', async (t) => {
  const url = await testDatabase(t, 'race');
  // A late one is stored within maxSeqJump of the camera's last: here one replica may run 400 ahead.
  const [a, b] = [await openStore(t, url, 1000), await openStore(t, url, 1000)];
  const out = { stored: 0, duplicate: 0, gaps: 0 };
  const run = async (s: PostgresStore, seqs: number[]): Promise<void> => {
    const gaps = { count: 0 };
    const h = clusterHandlers(s, silentLogger, gaps, 1000);
    for (let i = 0; i < seqs.length; i += 20) {
      s.beginBatch();
      const ps = seqs.slice(i, i + 20).flatMap((seq) => ['c1', 'c2'].map((cam) => h.summary(summaryMsg('p', 'e', cam, seq), 1, raw(summaryMsg('p', 'e', cam, seq)))));
      await s.commitBatch();
      for (const r of await Promise.all(ps)) out[r === 'stored' ? 'stored' : 'duplicate']++;
    }
    out.gaps += gaps.count;
  };
  // A takes the odd seqs and B the even ones (a shared subscription's split), and both get 1..40 again (redeliveries).
  const odd = Array.from({ length: 200 }, (_, i) => 2 * i + 1);
  const even = odd.map((x) => x + 1);
  await Promise.all([run(a, [...odd, ...Array.from({ length: 40 }, (_, i) => i + 1)]), run(b, [...even, ...Array.from({ length: 40 }, (_, i) => i + 1)])]);
  for (const cam of ['c1', 'c2']) {
    const seqs = (await a.summaries('p', 'e', cam)).map((m) => m.seq);
    assert.deepEqual(seqs, Array.from({ length: 400 }, (_, i) => i + 1), `${cam}: every seq, once (late ones fill their gaps)`);
    assert.equal((await a.camera('p', 'e', cam))?.lastSeq, 400);
  }
  assert.equal(out.stored, 800, 'what was reported stored is what is stored');
  assert.equal(out.duplicate, 2 * 2 * 240 - 800, 'the redeliveries are repeats');
});

test('postgres: the feed gives each stored row once, in transaction order, including a transaction that commits late', async (t) => {
  const url = await testDatabase(t, 'feed');
  const s = await openStore(t, url);
  const cursor: FeedCursor = { status: ['1', 0], summary: ['1', 0], event: ['1', 0] };
  const seen: number[] = [];
  const drain = async (): Promise<void> => {
    for (const r of await s.feed(cursor, await s.horizon(), 1000)) if (r.kind === 'summary') seen.push(r.m.seq);
  };
  // A transaction that inserts and stays open while another stores and commits later seqs.
  const slow = await testClient(t, url);
  await slow.query('BEGIN');
  await slow.query("INSERT INTO summaries (site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload) VALUES ('p', 'e', 'slow', 1, 0, 0, 'ok', 1, 5, $1)", [raw(summaryMsg('p', 'e', 'slow', 1))]);
  s.beginBatch();
  const ps = [1, 2, 3].map((q) => s.stageSummary(summaryMsg('p', 'e', 'c', q), 10 + q, raw(summaryMsg('p', 'e', 'c', q))));
  await s.commitBatch();
  await Promise.all(ps);
  await drain();
  assert.deepEqual(seen, [], 'nothing past an open transaction is final yet');
  await slow.query('COMMIT');
  await horizonPastCommitted(s); // another test file's open transaction could hold the horizon back
  await drain();
  assert.deepEqual(seen, [1, 1, 2, 3], 'the late commit first (it began first), each once');
  await drain();
  assert.equal(seen.length, 4, 'read again: nothing new');
  const recent = await s.recentSummaries(12, await s.horizon());
  assert.deepEqual(recent.map((r) => r.m.seq), [2, 3], 'the replay window, by receive time');
});

test('postgres: a feed read that fails part-way moves the cursor past nothing: the next read gives the same rows', async (t) => {
  const url = await testDatabase(t, 'feedfail');
  const s = await openStore(t, url);
  const cursor: FeedCursor = { status: ['1', 0], summary: ['1', 0], event: ['1', 0] };
  const will = { schema: SCHEMAS.status, site: 'p', device: 'e', state: 'offline' as const, ts: 5 };
  await putStatus(s, will, 5);
  await horizonPastCommitted(s); // another test file's open transaction could hold the horizon back
  // The statuses are read, then the summaries' query fails (here: the table is briefly not there).
  const admin = await testClient(t, url);
  await admin.query('ALTER TABLE summaries RENAME TO summaries_away');
  await assert.rejects(s.feed(cursor, await s.horizon(), 1000), /summaries/);
  await admin.query('ALTER TABLE summaries_away RENAME TO summaries');
  const rows = await s.feed(cursor, await s.horizon(), 1000);
  assert.deepEqual(
    rows.map((r) => [r.kind, r.m.device, r.kind === 'status' ? r.m.state : '']),
    [['status', 'e', 'offline']],
    'the Last Will read before the failure is given again, not skipped',
  );
  assert.deepEqual(await s.feed(cursor, await s.horizon(), 1000), [], 'and once only');
});

test('postgres: an acknowledgement made on any replica stays when the leader writes the alert again; one firing alert per fingerprint', async (t) => {
  const s = await openStore(t);
  const a = { schema: SCHEMAS.alert, id: 'a1', rule: 'drift', fingerprint: 'drift/p/e/c', state: 'firing' as const, severity: 'warning' as const, labels: { site: 'p', device: 'e', camera: 'c' }, annotations: {}, startsAt: 'x', updatedAt: '2026-01-01T00:00:00.000Z' };
  await s.saveAlert(a);
  const acked = await s.acknowledge('a1', { by: 'ops', comment: 'on it', at: '2026-01-01T00:01:00.000Z' });
  assert.equal(acked?.ack?.by, 'ops');
  await s.saveAlert({ ...a, severity: 'critical', updatedAt: '2026-01-01T00:02:00.000Z' });
  const now = await s.alert('a1');
  assert.equal(now?.severity, 'critical');
  assert.deepEqual(now?.ack, { by: 'ops', comment: 'on it', at: '2026-01-01T00:01:00.000Z' });
  assert.equal(await s.acknowledge('nope', { by: 'x', comment: '', at: 'y' }), undefined);
  await assert.rejects(s.saveAlert({ ...a, id: 'a2' }), /alerts_one_firing/, 'a second firing alert for one fingerprint is refused');
  assert.deepEqual((await s.undelivered(['webhook'], 0)).map((u) => [u.alert.id, u.sinks]), [['a1', ['webhook']]]);
  await s.delivered('a1', 'webhook', 'firing', 'critical', 1);
  assert.deepEqual(await s.undelivered(['webhook'], 0), [], 'delivered: a new leader does not send it again');
  await s.saveAlert({ ...a, state: 'resolved', severity: 'critical', updatedAt: '2026-01-01T00:03:00.000Z' });
  assert.deepEqual((await s.undelivered(['webhook'], 0)).map((u) => [u.alert.id, u.alert.state]), [['a1', 'resolved']], 'its resolve is not delivered yet');
  // An earlier leader's firing write, queued before it lost the lead, lands after the resolve.
  await s.saveAlert({ ...a, severity: 'critical', updatedAt: '2026-01-01T00:02:30.000Z' });
  assert.equal((await s.alert('a1'))?.state, 'resolved', 'a resolved alert stays resolved');
  await s.delivered('a1', 'webhook', 'resolved', 'critical', 3);
  // A firing send that the old leader abandoned at the handover finishes only now.
  await s.delivered('a1', 'webhook', 'firing', 'critical', 2);
  assert.deepEqual(await s.undelivered(['webhook'], 0), [], 'the resolve stays recorded as delivered');
  assert.deepEqual(await s.alerts({ state: 'firing', limit: 10 }), []);
});

test(`postgres: retention deletes in batches of ${PRUNE_BATCH} rows, each its own transaction`, async (t) => {
  const url = await testDatabase(t, 'prune');
  const s = await openStore(t, url);
  const c = await testClient(t, url);
  const n = 2 * PRUNE_BATCH + 123;
  await c.query(
    "INSERT INTO summaries (site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload) SELECT 'p', 'e', 'c', g, 0, 0, 'ok', 1, g, '{}' FROM generate_series(1, $1) g",
    [n],
  );
  const deleted = await s.prune(n - 100 + 50_000, 50_000, 1e12);
  assert.equal(deleted, n - 101);
  assert.equal(s.pruneStats.batches >= 3 + 3, true, `${s.pruneStats.batches} batches`);
  assert.equal((await c.query('SELECT count(*)::int AS n FROM summaries')).rows[0].n, 101);
});

test('postgres: a session the server ends in the middle of a burst refuses that burst; the process and the store go on', async (t) => {
  const url = await testDatabase(t, 'terminated');
  const s = await openStore(t, url);
  s.beginBatch();
  const first = s.stageSummary(summaryMsg('p', 'e', 'c', 1), 1, raw(summaryMsg('p', 'e', 'c', 1)));
  await s.commitBatch();
  assert.equal((await first).handled, 'stored');
  // Another replica's burst holds the camera row, so this burst's write waits inside its transaction.
  const other = await testClient(t, url);
  await other.query('BEGIN');
  await other.query("SELECT 1 FROM cameras WHERE camera = 'c' FOR UPDATE");
  s.beginBatch();
  const second = s.stageSummary(summaryMsg('p', 'e', 'c', 2), 2, raw(summaryMsg('p', 'e', 'c', 2)));
  const commit = s.commitBatch();
  second.catch(() => undefined);
  const admin = await testClient(t, url);
  let ended = 0;
  for (let i = 0; i < 100 && !ended; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const r = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()");
    ended = r.rowCount ?? 0;
  }
  assert.equal(ended, 1, 'the waiting ingest session was ended by the server');
  // Without a listener on the checked-out client, its 'error' event would have ended this process here.
  await assert.rejects(commit, /terminat/i, 'the burst is refused: the broker delivers it again');
  await assert.rejects(second, /terminat/i);
  await other.query('ROLLBACK');
  s.beginBatch();
  const again = s.stageSummary(summaryMsg('p', 'e', 'c', 2), 3, raw(summaryMsg('p', 'e', 'c', 2)));
  await s.commitBatch();
  assert.equal((await again).handled, 'stored', 'the redelivered burst is stored on a new session');
  assert.deepEqual((await s.summaries('p', 'e', 'c')).map((m) => m.seq), [1, 2]);
});

test('postgres: a burst the server picks as a deadlock\'s victim is written again, not refused', async (t) => {
  // Which side the server refuses depends on which waited first, by its one check deadlock_timeout
  // (1 s) after each wait began: a machine that stalls for a second between the two waits makes the
  // other side the victim. That run proves nothing either way, and the scenario starts over.
  for (let attempt = 1; ; attempt++) {
    if (await deadlockVictim(t, attempt)) return;
    if (attempt === 3) assert.fail('in 3 tries the other session, not the burst, was the deadlock\'s victim: the machine stalled for over a second between the two waits each time');
    t.diagnostic(`try ${attempt}: the other session waited over deadlock_timeout after the burst, and was the victim; trying again`);
  }
});

/** The deadlock test's scenario on a database of its own: false when the other session, not the burst, was the victim. */
async function deadlockVictim(t: TestContext, attempt: number): Promise<boolean> {
  const url = await testDatabase(t, `deadlock${attempt}`);
  const s = await openStore(t, url);
  s.beginBatch();
  const first = s.stageSummary(summaryMsg('p', 'e', 'x', 1), 1, raw(summaryMsg('p', 'e', 'x', 1)));
  await s.commitBatch();
  assert.equal((await first).handled, 'stored');
  // Another replica's burst holds camera x's row ...
  const other = await testClient(t, url);
  await other.query('BEGIN');
  await other.query("SELECT 1 FROM cameras WHERE camera = 'x' FOR UPDATE");
  // ... while this burst creates camera y's row, then waits for x's.
  s.beginBatch();
  const burst = [summaryMsg('p', 'e', 'x', 2), summaryMsg('p', 'e', 'y', 1)].map((m, i) => s.stageSummary(m, 2 + i, raw(m)));
  const commit = s.commitBatch();
  const admin = await testClient(t, url);
  const waiting = async (): Promise<number> =>
    (await admin.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")).rowCount ?? 0;
  for (let i = 0; i < 100 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await waiting(), 1, 'this burst waits for camera x');
  // The other burst now creates camera y too: each waits for the other. This burst waited first, so
  // the server's check (deadlock_timeout after it began waiting) finds the cycle there and refuses it.
  const otherInsert = other.query("INSERT INTO cameras (site, device, camera, last_seq, last_end, last_status, last_received) VALUES ('p', 'e', 'y', 0, 0, '', 0) ON CONFLICT DO NOTHING");
  try {
    await otherInsert;
  } catch (e) {
    if ((e as { code?: string }).code !== '40P01') throw e;
    // The burst's check came before the other session waited: the other was refused instead.
    await other.query('ROLLBACK');
    await commit;
    return false;
  }
  // The refused burst was rolled back and is waiting again, for x; the other replica commits.
  for (let i = 0; i < 100 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(s.writeStats.retried, 1, 'the burst was refused once and written again');
  await other.query('COMMIT');
  await commit;
  assert.deepEqual((await Promise.all(burst)).map((o) => o.handled), ['stored', 'stored']);
  assert.deepEqual((await s.summaries('p', 'e', 'x')).map((m) => m.seq), [1, 2]);
  assert.deepEqual((await s.summaries('p', 'e', 'y')).map((m) => m.seq), [1]);
  return true;
}

test('postgres: after a refused burst, a burst with nothing to store is not refused with it', async (t) => {
  const s = await openStore(t);
  s.beginBatch();
  // A value the database cannot take: the commit fails (as a failover or a deadlock would).
  const bad = s.stageSummary({ ...summaryMsg('p', 'e', 'c', 1), frames: 1.5 }, 1, '{}');
  bad.catch(() => undefined);
  await assert.rejects(s.commitBatch());
  s.beginBatch();
  await s.commitBatch(); // nothing staged: its messages were refused before the store (malformed, say)
  s.beginBatch();
  await s.commitBatch();
  s.beginBatch();
  const good = s.stageSummary(summaryMsg('p', 'e', 'c', 1), 2, raw(summaryMsg('p', 'e', 'c', 1)));
  await s.commitBatch();
  assert.equal((await good).handled, 'stored');
});

test('postgres: every session of the store has its time limits on the server', async (t) => {
  const s = await openStore(t);
  const { rows } = await s.pool.query<{ statement_timeout: string; lock_timeout: string; idle: string }>(
    "SELECT current_setting('statement_timeout') AS statement_timeout, current_setting('lock_timeout') AS lock_timeout, current_setting('idle_in_transaction_session_timeout') AS idle",
  );
  assert.deepEqual(rows[0], { statement_timeout: '55s', lock_timeout: '30s', idle: '30s' });
});

test('postgres: the leaders\' recorded feed position only moves forward, table by table', async (t) => {
  const s = await openStore(t);
  assert.equal(await s.feedPosition(), undefined, 'nothing recorded on a new database');
  await s.saveFeedPosition({ status: ['10', 5], summary: ['12', 7], event: ['9', 1] }, 1000);
  // A leader that has lost the lead writes late, with older positions for two tables and a newer one for the third.
  await s.saveFeedPosition({ status: ['10', 4], summary: ['11', 99], event: ['9', 2] }, 900);
  assert.deepEqual(await s.feedPosition(), { cursor: { status: ['10', 5], summary: ['12', 7], event: ['9', 2] }, at: 1000 });
});

test('postgres: a new epoch waits for another replica\'s burst of the old epoch still in flight, and counts after it', async (t) => {
  const url = await testDatabase(t, 'epochrace');
  const s = await openStore(t, url);
  const h = clusterHandlers(s, silentLogger, { count: 0 }, MAX_SEQ_JUMP);
  const birth = (epoch: string) => ({ schema: SCHEMAS.status, site: 'p', device: 'e', state: 'online' as const, ts: 1, agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60, epoch });
  const status = async (m: ReturnType<typeof birth>): Promise<void> => {
    s.beginBatch();
    const p = s.stageStatus(m, 1, JSON.stringify(m));
    await s.commitBatch();
    await p;
  };
  await status(birth('aaaa'));
  s.beginBatch();
  const first = [1, 2, 3].map((q) => h.summary(summaryMsg('p', 'e', 'c', q), 2, raw(summaryMsg('p', 'e', 'c', q))));
  await s.commitBatch();
  await Promise.all(first);
  // Another replica stores seqs 4 and 5 of the old epoch: its transaction holds the camera row and is not committed yet.
  const other = await testClient(t, url);
  await other.query('BEGIN');
  await other.query("SELECT 1 FROM cameras WHERE site = 'p' AND device = 'e' AND camera = 'c' FOR UPDATE");
  for (const q of [4, 5]) await other.query("INSERT INTO summaries (site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload) VALUES ('p', 'e', 'c', $1, 0, 0, 'ok', 1, 3, $2)", [q, raw(summaryMsg('p', 'e', 'c', q))]);
  await other.query("UPDATE cameras SET last_seq = 5 WHERE site = 'p' AND device = 'e' AND camera = 'c'");
  const reborn = status(birth('bbbb')); // this replica: the device comes back re-imaged
  await new Promise((r) => setTimeout(r, 300));
  await other.query('COMMIT');
  await reborn;
  s.beginBatch();
  const next = [1, 2].map((q) => h.summary(summaryMsg('p', 'e', 'c', q), 4, raw(summaryMsg('p', 'e', 'c', q))));
  await s.commitBatch();
  assert.deepEqual(await Promise.all(next), ['stored', 'stored'], 'the new epoch\'s first seqs are new');
  assert.deepEqual((await s.summaries('p', 'e', 'c')).map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7]);
});

test('postgres: a burst with the old epoch\'s last windows, a new-epoch birth and the new windows stores each in its epoch', async (t) => {
  const s = await openStore(t);
  const h = clusterHandlers(s, silentLogger, { count: 0 }, MAX_SEQ_JUMP);
  const birth = (epoch: string) => ({ schema: SCHEMAS.status, site: 'p', device: 'e', state: 'online' as const, ts: 1, agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60, epoch });
  const old = (q: number): SummaryMessage => summaryMsg('p', 'e', 'c', q, { status: 'ok' });
  const neu = (q: number): SummaryMessage => summaryMsg('p', 'e', 'c', q, { status: 'alert' });
  /** One burst, in this arrival order. */
  const burst = async (items: (SummaryMessage | ReturnType<typeof birth>)[]): Promise<unknown[]> => {
    s.beginBatch();
    const out = items.map((m) => ('state' in m ? s.stageStatus(m, 1, JSON.stringify(m)).then(() => 'status') : h.summary(m, 1, raw(m))));
    await s.commitBatch();
    return Promise.all(out);
  };
  await burst([birth('aaaa')]);
  await burst([1, 2, 3].map(old));
  // As the broker hands a queued session over after an outage: the old epoch's last windows, the
  // re-imaged device's birth, and its first windows, in one burst.
  assert.deepEqual(await burst([old(4), old(5), birth('bbbb'), neu(1), neu(2), neu(3)]), ['stored', 'stored', 'status', 'stored', 'stored', 'stored']);
  assert.deepEqual((await s.summaries('p', 'e', 'c')).map((m) => `${m.seq}:${m.status}`), ['1:ok', '2:ok', '3:ok', '4:ok', '5:ok', '6:alert', '7:alert', '8:alert'], 'the old windows at their own seqs, the new ones after them');
  assert.equal((await s.camera('p', 'e', 'c'))?.lastStatus, 'alert', 'the latest verdict is the new epoch\'s');
  assert.deepEqual(await burst([4, 5, 6].map(neu)), ['stored', 'stored', 'stored'], 'the new epoch goes on');
});

test('postgres: a device\'s last-seen time moves only with what was stored, and a failed write of it is tried again', async (t) => {
  const url = await testDatabase(t, 'seen');
  const s = await openStore(t, url);
  const birth = { schema: SCHEMAS.status, site: 'p', device: 'e', state: 'online' as const, ts: 1, agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60 };
  s.beginBatch();
  const born = s.stageStatus(birth, 100, JSON.stringify(birth));
  await s.commitBatch();
  await born;
  // A burst the database refuses: its summary was never stored, so the device was not seen then.
  s.beginBatch();
  const refused = s.stageSummary({ ...summaryMsg('p', 'e', 'c', 1), frames: 1.5 }, 900, '{}');
  refused.catch(() => undefined);
  await assert.rejects(s.commitBatch());
  await s.flushSeen();
  assert.equal((await s.device('p', 'e'))?.lastSeen, 100, 'a rolled-back burst moves nothing');
  s.beginBatch();
  const stored = s.stageSummary(summaryMsg('p', 'e', 'c', 1), 500, raw(summaryMsg('p', 'e', 'c', 1)));
  await s.commitBatch();
  await stored;
  const admin = await testClient(t, url);
  await admin.query('ALTER TABLE devices RENAME TO devices_away');
  await assert.rejects(s.flushSeen());
  await admin.query('ALTER TABLE devices_away RENAME TO devices');
  await s.flushSeen();
  assert.equal((await s.device('p', 'e'))?.lastSeen, 500, 'the time a failed flush held is written by the next');
});

test('postgres: statuses with the agent\'s status seq are ordered by it, whatever the replicas\' clocks or a late delivery say', async (t) => {
  const s = await openStore(t);
  const epoch = 'e1';
  const birth = (seq: number, ts = seq * 1000) => ({ schema: SCHEMAS.status, site: 'p', device: 'e', state: 'online' as const, ts, agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60, epoch, seq });
  const will = (seq: number) => ({ schema: SCHEMAS.status, site: 'p', device: 'e', state: 'offline' as const, ts: seq * 1000, epoch, seq });
  const put = (m: object, receivedTs: number): Promise<void> => putStatus(s, m as StatusMessage, receivedTs);
  const state = async (): Promise<[string | undefined, number | undefined]> => {
    const d = await s.device('p', 'e');
    return [d?.state, d?.status.seq];
  };
  await put(birth(1), 10_000);
  await put(birth(2), 20_000); // the device reconnected
  // Connection 1's Will, which the broker held for a replica that died, stored when the leader took
  // that session over: received last, but from an earlier connection.
  await put(will(1), 30_000);
  assert.deepEqual(await state(), ['online', 2], 'a late Will of an earlier connection does not mark the device offline');
  // Connection 2's Will, received by a replica whose clock runs 15 s behind: it ends connection 2.
  await put(will(2), 16_000);
  assert.deepEqual(await state(), ['offline', 2], 'the Will of the current connection marks it offline, whatever the receiving clock');
  await put(birth(2), 40_000); // connection 2's birth again (a redelivery): the Will ended that connection
  assert.deepEqual(await state(), ['offline', 2]);
  await put(birth(3, 500), 15_000); // connection 3, from a replica behind and a device clock reset to 1970
  assert.deepEqual(await state(), ['online', 3], 'the next connection brings it back');
  const kept = await s.pool.query<{ seq: number; state: string; superseded: boolean }>("SELECT (payload::json->>'seq')::int AS seq, payload::json->>'state' AS state, superseded FROM statuses ORDER BY id");
  assert.deepEqual(kept.rows.map((r) => `${r.state} ${r.seq}${r.superseded ? ' superseded' : ''}`), ['online 1', 'online 2', 'offline 1 superseded', 'offline 2', 'online 2 superseded', 'online 3']);
  // An agent without the status seq (an older version): receive time decides, as before.
  const legacy = { schema: SCHEMAS.status, site: 'p', device: 'e', state: 'offline' as const, ts: 1 };
  await put(legacy, 14_000);
  assert.deepEqual(await state(), ['online', 3], 'received before the status the row holds');
  await put(legacy, 17_000);
  assert.deepEqual(await state(), ['offline', undefined], 'by receive time, against the status the row holds');
});

test('postgres: a connection\'s clean-stop offline and its Will (the broker sent both) are ordered as received', async (t) => {
  const s = await openStore(t);
  const put = (m: object, receivedTs: number): Promise<void> => putStatus(s, m as StatusMessage, receivedTs);
  const base = { schema: SCHEMAS.status, site: 'p', device: 's', epoch: 'e1', seq: 3 };
  await put({ ...base, state: 'online', ts: 1, agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60 }, 1000);
  await put({ ...base, state: 'offline', ts: 3, stopReason: 'upgrade' }, 3000);
  await put({ ...base, state: 'offline', ts: 1 }, 2900); // the Will, received just before, committed after
  assert.equal((await s.device('p', 's'))?.status.stopReason, 'upgrade', 'a planned stop stays one');
});

test('postgres: a Last Will committed after the next birth (two replicas) does not mark the device offline, nor reach the rules', async (t) => {
  const s = await openStore(t);
  const cursor: FeedCursor = { status: ['1', 0], summary: ['1', 0], event: ['1', 0] };
  const birth = (ts: number) => ({ schema: SCHEMAS.status, site: 'p', device: 'e', state: 'online' as const, ts, agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60 });
  const will = { schema: SCHEMAS.status, site: 'p', device: 'e', state: 'offline' as const, ts: 1000 };
  const put = (m: object, receivedTs: number): Promise<void> => putStatus(s, m as StatusMessage, receivedTs);
  await put(birth(1000), 1000);
  await horizonPastCommitted(s); // another test file's open transaction could hold the horizon back
  assert.equal((await s.feed(cursor, await s.horizon(), 100)).length, 1, 'the first birth is read');
  // The device reconnects: the broker sends the old connection's Will (received at 1990 by one
  // replica) and then the new birth (received at 2000 by another), whose burst commits first.
  await put(birth(2000), 2000);
  await put(will, 1990);
  await horizonPastCommitted(s);
  const d = await s.device('p', 'e');
  assert.equal(d?.state, 'online', 'the device row keeps the latest status received');
  assert.equal(d?.status.ts, 2000);
  const fed = await s.feed(cursor, await s.horizon(), 100);
  assert.deepEqual(fed.map((r) => (r.kind === 'status' ? r.m.state : r.kind)), ['online'], 'the superseded Will is not fed to the rules');
  const kept = await s.pool.query<{ state: string; superseded: boolean }>("SELECT payload::json->>'state' AS state, superseded FROM statuses ORDER BY id");
  assert.deepEqual(kept.rows, [{ state: 'online', superseded: false }, { state: 'online', superseded: false }, { state: 'offline', superseded: true }], 'kept in the history, marked');
  // In order, a Will does mark the device offline.
  await put(will, 2100);
  assert.equal((await s.device('p', 'e'))?.state, 'offline');
});

test('postgres: a leader term fences the writes of earlier terms, and waits for those already in flight', async (t) => {
  const url = await testDatabase(t, 'fence');
  const s = await openStore(t, url);
  const admin = await testClient(t, url);
  const alert = (id: string): AlertRecord => ({ schema: SCHEMAS.alert, id, rule: 'drift', fingerprint: `drift/p/e/${id}`, state: 'firing', severity: 'warning', labels: { site: 'p', device: 'e', camera: id }, annotations: {}, startsAt: '2026-12-02T00:00:00.000Z', updatedAt: '2026-12-02T00:00:00.000Z' });
  const first = await beginTerm(s.pool);
  await s.saveAlert(alert('a1'), first);
  await s.saveFeedPosition({ status: ['5', 1], summary: ['5', 1], event: ['5', 1] }, 1000, first);
  // An earlier term's write is in flight (its check done, its row not yet written) when the next term begins.
  await admin.query('BEGIN');
  await admin.query('SELECT term FROM leader_term WHERE id = 1 FOR SHARE');
  let second: number | undefined;
  const beginning = beginTerm(s.pool).then((n) => (second = n));
  await sleep(300);
  assert.equal(second, undefined, 'the next term waits for the write in flight');
  await admin.query('COMMIT');
  await beginning;
  assert.equal(second, first + 1);
  // From now on, the earlier term writes nothing.
  await assert.rejects(s.saveAlert(alert('a2'), first), (e: unknown) => e instanceof FencedError && e.term === first && e.current === second);
  await assert.rejects(s.saveFeedPosition({ status: ['9', 9], summary: ['9', 9], event: ['9', 9] }, 2000, first), FencedError);
  assert.equal(await s.alert('a2'), undefined);
  assert.deepEqual((await s.feedPosition())?.cursor.summary, ['5', 1]);
  await s.saveAlert(alert('a3'), second);
  assert.equal((await s.alert('a3'))?.state, 'firing', "the current term's writes go on");
});

test('postgres: taking a term with a bound gives up on the server after it, leaving no lock or transaction behind', async (t) => {
  const url = await testDatabase(t, 'term-wait');
  await openStore(t, url); // migrated
  const [admin, candidate] = [await testClient(t, url), await testClient(t, url)];
  await admin.query('BEGIN');
  await admin.query('SELECT term FROM leader_term WHERE id = 1 FOR SHARE'); // an earlier leader's write, stuck
  await assert.rejects(beginTerm(candidate, 300), (e: unknown) => (e as { code?: string }).code === '55P03');
  const [r] = (await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1 AND state = 'idle'", [(candidate as unknown as { processID: number }).processID])).rows;
  assert.equal(r!.n, 1, 'the candidate session is idle, in no transaction');
  await admin.query('COMMIT');
  assert.equal(await beginTerm(candidate, 300), 1, 'and takes the term once the write is done');
});
