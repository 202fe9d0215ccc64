/**
 * Leadership on PostgreSQL advisory locks, on a real database: one leader among three; a second
 * process with a running replica's id is refused; when the leader's connection ends, a standby leads
 * within its poll; a replica that is gone is reported dead once, locked for the one taking over.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type pg from 'pg';
import { Leadership } from '../../../collector/cluster/leadership.js';
import { PostgresStore } from '../../../collector/store/postgres-store.js';
import { isDriftlineError } from '../../../lib/errors.js';
import { silentLogger } from '../../../lib/log.js';
import { testClient, testDatabase } from '../../helpers/postgres.js';
import { sleep, until } from '../../helpers/wait.js';

async function database(t: TestContext): Promise<string> {
  const url = await testDatabase(t, 'lead');
  await (await PostgresStore.open(url, { maxSeqJump: 10 })).close(); // migrated
  return url;
}

/** How many sessions the replica `id`'s lock connection has on the server (0 or 1). */
async function sessions(admin: pg.Client, id: string): Promise<number> {
  return (await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1", [`driftline-collector ${id}`])).rows[0]!.n;
}

function replica(t: TestContext, url: string, clientId: string, events: string[], terms: number[] = []): Leadership {
  const l = new Leadership({
    url,
    clientId,
    pollMs: 100,
    log: silentLogger,
    onLead: async (term) => {
      events.push(`${clientId} leads`);
      terms.push(term);
    },
    onStandby: (why) => void events.push(`${clientId} stands by (${why})`),
  });
  t.after(() => l.stop());
  return l;
}

test('one leader of three; a stopped leader is replaced by a standby; the same client id twice is refused', async (t) => {
  const url = await database(t);
  const events: string[] = [];
  const [a, b, c] = [replica(t, url, 'a', events), replica(t, url, 'b', events), replica(t, url, 'c', events)];
  await a.start();
  await b.start();
  await c.start();
  await until(() => [a, b, c].filter((x) => x.isLeader).length === 1, 5000, 'one leader');
  assert.equal(a.isLeader, true, 'the first to try leads');
  const twin = new Leadership({ url, clientId: 'b', pollMs: 100, log: silentLogger, onLead: async () => undefined, onStandby: () => undefined });
  await assert.rejects(twin.start(), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_REPLICA_ID') && /broker\.clientId b/.test((e as Error).message));
  await a.stop();
  // How soon is not asserted here (a loaded machine's commits decide it); the 15-s takeover after a
  // kill -9 is test/e2e/replicas.test.ts's.
  await until(() => b.isLeader || c.isLeader, 5000, 'a standby to lead');
  assert.deepEqual(events.filter((e) => e.endsWith('leads')).length, 2);
  assert.ok(events.includes('a stands by (stopped)'), events.join(', '));
  const next = b.isLeader ? b : c;
  assert.deepEqual(await next.deadReplicas(300), [], 'a free lock, seen once, may be a blip');
  await sleep(300);
  const dead = await next.deadReplicas(300);
  assert.deepEqual(dead.map((d) => d.clientId), ['a'], 'the stopped replica, not the running one');
  await dead[0]!.release();
  assert.deepEqual(await next.deadReplicas(0), [], 'taken over: gone from the list');
  const again = replica(t, url, 'a', events);
  await again.start();
  assert.equal(again.isLeader, false, 'back, as a standby');
});

test('a stop while the lock connection is being made again: the new connection is closed and the replica never leads', async (t) => {
  const url = await database(t);
  const events: string[] = [];
  const r = replica(t, url, 'r', events);
  await r.start();
  await until(() => r.isLeader, 5000, 'r to lead');
  const admin = await testClient(t, url);
  // Hold r's registration row, so that its next connection waits in its INSERT INTO replicas.
  const holder = await testClient(t, url);
  await holder.query('BEGIN');
  await holder.query("SELECT 1 FROM replicas WHERE client_id = 'r' FOR UPDATE");
  await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'driftline-collector r'");
  await until(() => !r.isLeader, 5000, 'r to notice it lost the lock');
  const waiting = async (): Promise<boolean> =>
    (await admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'driftline-collector r' AND wait_event_type = 'Lock'")).rowCount === 1;
  await until(waiting, 5000, 'the reconnection to wait on the held row');
  const stopping = r.stop();
  await holder.query('COMMIT'); // the reconnection completes after the stop
  await stopping;
  // The server may still be ending the closed session: wait for it, up to 10 s.
  await until(async () => (await sessions(admin, 'r')) === 0, 10_000, "the stopped replica's session to end");
  assert.equal(await sessions(admin, 'r'), 0, 'no session of the stopped replica is left');
  assert.equal(r.isLeader, false);
  assert.deepEqual(events, ['r leads', 'r stands by (lost)'], 'it did not lead again after its stop');
});

test('a dead replica handed over and abandoned (its takeover failed) can start again, however often it was handed over', async (t) => {
  const url = await database(t);
  const events: string[] = [];
  const [a, b] = [replica(t, url, 'a', events), replica(t, url, 'b', events)];
  await a.start();
  await b.start();
  await until(() => a.isLeader, 5000, 'a to lead');
  await b.stop();
  await a.deadReplicas(0); // first seen free
  for (let i = 0; i < 2; i++) {
    const dead = await a.deadReplicas(0);
    assert.deepEqual(dead.map((d) => d.clientId), ['b']);
    await dead[0]!.abandon();
  }
  const again = replica(t, url, 'b', events);
  await again.start(); // refused (DRIFTLINE_ERR_REPLICA_ID) while the leader still held b's id
  assert.equal(again.isLeader, false);
});

test('a running replica whose connection blipped is not taken for dead', async (t) => {
  const url = await database(t);
  const events: string[] = [];
  const a = replica(t, url, 'a', events);
  await a.start();
  await until(() => a.isLeader, 5000, 'a to lead');
  // b polls every 2 s: after its connection is cut, its id's lock stays free until its next poll.
  const b = new Leadership({ url, clientId: 'b', pollMs: 2000, log: silentLogger, onLead: async () => undefined, onStandby: () => undefined });
  t.after(() => b.stop());
  await b.start();
  const admin = await testClient(t, url);
  await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'driftline-collector b'");
  await until(async () => (await sessions(admin, 'b')) === 0, 10_000, "b's connection to go");
  assert.deepEqual(await a.deadReplicas(1000), [], "b's lock is free, but only just: it may be back");
  await until(async () => (await sessions(admin, 'b')) === 1, 10_000, 'b to connect again on its next poll');
  await sleep(1000);
  assert.deepEqual(await a.deadReplicas(1000), [], 'b is back: not dead');
  await b.stop();
  assert.deepEqual(await a.deadReplicas(1000), [], 'stopped: seen free once');
  await sleep(1000);
  assert.deepEqual((await a.deadReplicas(1000)).map((d) => d.clientId), ['b'], 'still free a second later: gone');
});

test('a replica that stands down (it is stopping) does not take the lead; another does', async (t) => {
  const url = await database(t);
  const events: string[] = [];
  const [a, b, c] = [replica(t, url, 'a', events), replica(t, url, 'b', events), replica(t, url, 'c', events)];
  await a.start();
  await until(() => a.isLeader, 5000, 'a to lead');
  await b.start();
  b.standDown(); // b is being stopped: its commits may take seconds yet
  await a.stop();
  await sleep(500); // five of b's polls
  assert.equal(b.isLeader, false, 'b, stopping, does not take the lead');
  await c.start();
  await until(() => c.isLeader, 5000, 'c to lead');
  assert.ok(!events.includes('b leads'), events.join(', '));
});

/** Advisory locks replica `id`'s connection holds: its own id's, and the leader's when it has it. */
async function locks(admin: pg.Client, id: string): Promise<number> {
  return (await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1", [`driftline-collector ${id}`])).rows[0]!.n;
}

/**
 * b stands down while its check, having taken the leader lock, waits on `hold` (a statement an
 * admin transaction makes wait: b's row, or the leader term an earlier leader's write holds).
 */
async function standDownWhileTaking(t: TestContext, hold: string): Promise<void> {
  const url = await database(t);
  const events: string[] = [];
  const admin = await testClient(t, url);
  const [a, b] = [replica(t, url, 'a', events), replica(t, url, 'b', events)];
  await a.start();
  await until(() => a.isLeader, 5000, 'a to lead');
  await b.start();
  await admin.query('BEGIN');
  await admin.query(hold);
  try {
    await a.stop();
    await until(async () => (await locks(admin, 'b')) === 2, 5000, 'b to take the leader lock');
    b.standDown(); // b is being stopped, in the middle of that check
  } finally {
    await admin.query('COMMIT');
  }
  await until(async () => (await locks(admin, 'b')) === 1, 5000, 'b to give the leader lock back');
  await sleep(300);
  assert.equal(b.isLeader, false, 'b, stopping, does not lead');
  assert.ok(!events.includes('b leads'), events.join(', '));
}

test('a replica that stands down while it is taking the lock gives it back at once: while it marks its row', (t) => standDownWhileTaking(t, 'LOCK TABLE replicas IN EXCLUSIVE MODE'));

test('a replica that stands down while it is taking the lock gives it back at once: while its term waits for an earlier leader\'s write', (t) =>
  standDownWhileTaking(t, 'SELECT term FROM leader_term WHERE id = 1 FOR SHARE'));

test('each leadership takes the next term on its lock; a leader that resigns (a write of it fenced) stands by, and another leads', async (t) => {
  const url = await database(t);
  const events: string[] = [];
  const terms: number[] = [];
  const [a, b] = [replica(t, url, 'a', events, terms), replica(t, url, 'b', events, terms)];
  await a.start();
  await until(() => a.isLeader, 5000, 'a to lead');
  await b.start();
  a.resign('a write of this leader was refused for a later leader term');
  assert.equal(a.isLeader, false);
  assert.ok(events.includes('a stands by (lost)'), events.join(', '));
  await until(() => b.isLeader || a.isLeader, 5000, 'a replica to lead again');
  assert.equal(terms.length, 2);
  assert.ok(terms[1]! > terms[0]!, `a later term: ${terms.join(', ')}`);
  const admin = await testClient(t, url);
  assert.equal((await admin.query<{ term: string }>('SELECT term::text AS term FROM leader_term')).rows[0]!.term, String(terms[1]), 'the one in the database');
});
