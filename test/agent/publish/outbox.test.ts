import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Outbox, RETRY_BATCH } from '../../../agent/publish/outbox.js';
import { openDatabase, type Db } from '../../../agent/store/database.js';
import { fill, tmpfs } from '../../faults/disk.js';
import { releaser } from '../../helpers/ports.js';

const row = (seq: number) => ({ topic: 't', payload: JSON.stringify({ seq }) });

/** A new agent database, closed when the test ends. */
async function freshDb(t: TestContext): Promise<Db> {
  const db = openDatabase(join(await mkdtemp(join(tmpdir(), 'driftline-outbox-')), 'a.db'));
  t.after(() => db.close());
  return db;
}

/** Acknowledges `ids` while the database refuses every write (a disk full to the last byte): each ack throws, and its row is kept. */
function ackRefused(db: Db, o: Outbox, ids: readonly number[]): void {
  db.pragma('query_only = ON');
  for (const id of ids) assert.throws(() => o.ack(id), /readonly/);
  db.pragma('query_only = OFF');
}

test('outbox: seq per stream survives a reopen; rows come back in order until acknowledged', async (t) => {
  const f = join(await mkdtemp(join(tmpdir(), 'driftline-outbox-')), 'a.db');
  let db = openDatabase(f);
  t.after(() => db.close()); // whichever is open when the test ends (closing twice is harmless)
  let o = new Outbox(db, 1000);
  assert.equal(o.oldestTs(), undefined, 'empty: nothing waits');
  const before = Date.now();
  assert.deepEqual([o.enqueue('a/summary', row), o.enqueue('a/summary', row), o.enqueue('b/summary', row), o.enqueue('a/event', row)], [1, 2, 1, 1]);
  const first = o.next(0, 10).rows;
  assert.deepEqual(first.map((r) => JSON.parse(r.payload).seq), [1, 2, 1, 1]);
  const oldest = o.oldestTs()!;
  assert.ok(oldest >= before && oldest <= Date.now(), 'when the oldest waiting message was stored');
  o.ack(first[0]!.id);
  assert.equal(o.size, 3);
  db.close();
  db = openDatabase(f);
  o = new Outbox(db, 1000);
  assert.equal(o.size, 3, 'unacknowledged rows survive the restart');
  assert.equal(o.enqueue('a/summary', row), 3, 'seq continues');
  assert.deepEqual(o.next(0, 10).rows.map((r) => JSON.parse(r.payload).seq), [2, 1, 1, 3], 'oldest first');
  assert.deepEqual(o.next(o.next(0, 2).through, 10).rows.map((r) => JSON.parse(r.payload).seq), [1, 3], 'paging by id');
});

test('outbox: bounded, dropping the oldest; a failed build consumes no seq', async (t) => {
  const db = await freshDb(t);
  const o = new Outbox(db, 100);
  for (let i = 0; i < 150; i++) o.enqueue('c/summary', row);
  assert.equal(o.size, 100);
  assert.equal(o.dropped, 50);
  assert.equal(JSON.parse(o.next(0, 1).rows[0]!.payload).seq, 51);
  assert.throws(() => o.enqueue('c/summary', () => { throw new Error('disk full'); }), /disk full/);
  assert.equal(o.enqueue('c/summary', row), 151, 'the failed message did not use up a seq');
});

test('outbox on a full disk: the write fails cleanly, nothing half-stored, seq continues once there is room', async (t) => {
  const { DeviceLink } = await import('../../../agent/publish/link.js');
  const { silentLogger } = await import('../../../lib/log.js');
  const db = await freshDb(t);
  const identity = { site: 's', device: 'd', version: '1', model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60 };
  // Never started: this is about storing, not sending.
  const link = new DeviceLink(db, identity, { url: 'mqtt://127.0.0.1:1', client: {}, drainPerSecond: 1, maxInflight: 1, outboxMaxRows: 1000, backoff: { initialMs: 1, maxMs: 1, jitter: 0 } }, silentLogger);
  assert.equal(link.event('c', 'stalled', 'first'), 1);
  const pages = db.pragma('page_count', { simple: true }) as number;
  db.pragma(`max_page_count = ${pages}`); // SQLite's own "database or disk is full"
  let failed = 0;
  for (let i = 0; i < 50; i++) if (link.event('c', 'sourceError', 'x'.repeat(900)) === 0) failed++;
  assert.ok(failed > 0, 'the disk filled up');
  assert.equal(link.lost, failed);
  const stored = link.outbox.size;
  db.pragma('max_page_count = 1073741823');
  const seq = link.event('c', 'resumed', 'room again');
  assert.equal(seq, stored + 1, 'no seq was used up by a message that was not stored');
  assert.deepEqual(link.outbox.next(0, 1000).rows.map((r) => JSON.parse(r.payload).seq), Array.from({ length: stored + 1 }, (_, i) => i + 1));
});

test('outbox: its sequence epoch stays with the database, and a new database has a new one', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-outbox-'));
  const open = (name: string): Outbox => {
    const db = openDatabase(join(dir, name));
    t.after(() => db.close());
    return new Outbox(db, 100);
  };
  const first = open('a.db').epoch;
  assert.match(first, /^[0-9a-f]{16}$/);
  assert.equal(open('a.db').epoch, first, 'reopened: the same epoch, seqs go on');
  assert.notEqual(open('b.db').epoch, first, 'a new database starts seqs at 1 under a new epoch');
});

test('outbox: an acknowledgement the database refuses keeps its row: not sent again, not waiting, deleted by retryAcks', async (t) => {
  const db = await freshDb(t);
  const o = new Outbox(db, 100);
  for (let i = 0; i < 4; i++) o.enqueue('c/summary', row);
  const [a, b, c, d] = o.next(0, 4).rows.map((r) => r.id);
  db.pragma('query_only = ON'); // every write refused, as on a disk full to the last byte
  assert.throws(() => o.ack(a!), /readonly/);
  assert.throws(() => o.ack(c!), /readonly/);
  assert.equal(o.undeleted, 2);
  assert.equal(o.size, 2, 'kept rows are acknowledged: they do not wait');
  assert.deepEqual(o.next(0, 10).rows.map((r) => r.id), [b, d], 'nor are they handed out again (a reconnect asks from 0)');
  assert.equal(o.next(0, 1).through, b, 'the cursor passes over the kept row before');
  assert.equal(o.next(b!, 1).through, d, 'and over the one between');
  assert.throws(() => o.retryAcks(), /readonly/);
  assert.equal(o.undeleted, 2, 'kept when refused again');
  db.pragma('query_only = OFF');
  o.ack(b!);
  assert.equal(o.undeleted, 2, 'an acknowledgement deletes its own row only');
  assert.equal(o.retryAcks(), 0);
  assert.equal(o.undeleted, 0);
  assert.equal(o.size, 1);
  assert.equal((db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n, 1, 'the kept rows are gone from the table');
  assert.deepEqual(o.next(0, 10).rows.map((r) => r.id), [d]);
});

test('outbox: the oldest waiting message is the oldest row not kept', async (t) => {
  const db = await freshDb(t);
  const o = new Outbox(db, 100);
  o.enqueue('c/summary', row);
  const [a] = o.next(0, 1).rows.map((r) => r.id);
  db.prepare('UPDATE outbox SET created_ts = 1000 WHERE id = ?').run([a]); // stored long ago
  o.enqueue('c/summary', row);
  assert.equal(o.oldestTs(), 1000);
  db.pragma('query_only = ON');
  assert.throws(() => o.ack(a!), /readonly/);
  assert.ok(o.oldestTs()! > 1000, 'the kept row, delivered, does not age the backlog');
  db.pragma('query_only = OFF');
  o.ack(o.next(0, 1).rows[0]!.id);
  assert.equal(o.oldestTs(), undefined, 'nothing waits');
});

test('outbox: kept rows are deleted a bounded batch at a time, each in one transaction', async (t) => {
  const db = await freshDb(t);
  const o = new Outbox(db, 10_000);
  const n = RETRY_BATCH * 2 + 7;
  for (let i = 0; i < n; i++) o.enqueue('c/summary', row);
  const ids = o.next(0, n).rows.map((r) => r.id);
  ackRefused(db, o, ids);
  assert.equal(o.undeleted, n);
  const changes0 = (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  assert.equal(o.retryAcks(), n - RETRY_BATCH, 'one batch');
  assert.equal((db.prepare('SELECT total_changes() AS n').get() as { n: number }).n - changes0, RETRY_BATCH);
  assert.equal((db.prepare('SELECT min(id) AS id FROM outbox').get() as { id: number }).id, ids[RETRY_BATCH], 'the first acknowledged went first');
  assert.equal(o.retryAcks(), 7);
  assert.equal(o.retryAcks(), 0);
  assert.equal(o.size, 0);
});

test('outbox: trimming a full outbox removes kept rows first and does not count them as dropped', async (t) => {
  const db = await freshDb(t);
  const o = new Outbox(db, 3);
  for (let i = 0; i < 3; i++) o.enqueue('c/summary', row);
  ackRefused(db, o, o.next(0, 3).rows.map((r) => r.id));
  o.enqueue('c/summary', row);
  assert.equal(o.dropped, 0, 'the trimmed row had been delivered');
  assert.equal(o.undeleted, 2);
  assert.equal(o.size, 1);
  for (let i = 0; i < 3; i++) o.enqueue('c/summary', row);
  assert.equal(o.undeleted, 0);
  assert.equal(o.dropped, 1, 'only a row that never went out counts as dropped');
  assert.equal(o.size, 3);
});

test('outbox: a trim the database refuses takes its message back: no seq used, nothing stored twice', async (t) => {
  const db = await freshDb(t);
  const o = new Outbox(db, 2);
  assert.deepEqual([o.enqueue('c/summary', row), o.enqueue('c/summary', row)], [1, 2]);
  // Inserts work, deletes are refused: the trim fails after the message's insert.
  db.exec("CREATE TEMP TRIGGER refuse_delete BEFORE DELETE ON main.outbox BEGIN SELECT RAISE(ABORT, 'delete refused'); END");
  assert.throws(() => o.enqueue('c/summary', row), /delete refused/);
  assert.equal((db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n, 2, 'the message went back with its trim');
  assert.equal(o.size, 2);
  db.exec('DROP TRIGGER refuse_delete');
  assert.equal(o.enqueue('c/summary', row), 3, 'its seq was not used up');
  assert.deepEqual(o.next(0, 10).rows.map((r) => JSON.parse(r.payload).seq), [2, 3]);
  assert.equal(o.dropped, 1);
});

test('outbox: a kept batch the database refuses is tried one row at a time, and batches grow again from one; an unknown id is not kept', async (t) => {
  const db = await freshDb(t);
  const o = new Outbox(db, 100);
  for (let i = 0; i < 3; i++) o.enqueue('c/summary', row);
  const [a, b, c] = o.next(0, 3).rows.map((r) => r.id);
  ackRefused(db, o, [999]);
  assert.equal(o.undeleted, 0, 'no such row: nothing to keep');
  ackRefused(db, o, [a!, b!, c!]);
  // The second row's delete is refused: the batch of three rolls back, the first goes alone.
  db.exec(`CREATE TEMP TRIGGER refuse_b BEFORE DELETE ON main.outbox WHEN old.id = ${b} BEGIN SELECT RAISE(ABORT, 'delete refused'); END`);
  assert.equal(o.retryAcks(), 2, 'the first row deleted on its own');
  assert.throws(() => o.retryAcks(), /delete refused/);
  assert.equal(o.undeleted, 2, 'both still kept');
  db.exec('DROP TRIGGER refuse_b');
  assert.equal(o.retryAcks(), 1, 'after a refused batch, one row at a time');
  assert.equal(o.retryAcks(), 0, 'then two');
  assert.equal((db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n, 0);
});

test('status seqs: each is stored, synced, before it is handed out; a database that refuses the write hands out none, and the next goes on after the last stored', async (t) => {
  const f = join(await mkdtemp(join(tmpdir(), 'driftline-outbox-')), 'a.db');
  const db = openDatabase(f);
  t.after(() => db.close());
  const o = new Outbox(db, 100);
  const synchronous = db.pragma('synchronous', { simple: true });
  assert.equal(o.nextStatusSeq(), 1);
  assert.equal(o.nextStatusSeq(), 2);
  assert.equal(db.pragma('synchronous', { simple: true }), synchronous, "the database's own setting is back");
  const other = openDatabase(f);
  t.after(() => other.close());
  assert.deepEqual(other.prepare("SELECT seq FROM publish_seq WHERE stream = '$status'").get(), { seq: 2 }, 'what was handed out is in the file');
  db.pragma('query_only = ON'); // a disk full to the last byte
  assert.equal(o.nextStatusSeq(), undefined);
  assert.equal(db.pragma('synchronous', { simple: true }), synchronous);
  db.pragma('query_only = OFF');
  assert.equal(o.nextStatusSeq(), 3, 'never one handed out twice');
  assert.equal(new Outbox(db, 100).nextStatusSeq(), 4, 'kept across restarts');
});

test('status seqs on a disk full to the last byte: none is handed out that the file does not hold', async (t) => {
  const release = releaser(t);
  const disk = await tmpfs(release, '4m');
  if (!disk) {
    t.skip('needs root to mount a tmpfs');
    return;
  }
  const db = openDatabase(join(disk, 'a.db'));
  release('database', () => db.close());
  const o = new Outbox(db, 100);
  assert.equal(o.nextStatusSeq(), 1);
  fill(disk);
  // The write's page fits in the database's cache; its commit, appending to the WAL, does not fit on the disk.
  const got = Array.from({ length: 20 }, () => o.nextStatusSeq());
  const stored = (db.prepare("SELECT seq FROM publish_seq WHERE stream = '$status'").get() as { seq: number }).seq;
  const handed = got.filter((s) => s !== undefined);
  assert.ok(got.includes(undefined), `the disk refused some: ${JSON.stringify(got)}`);
  assert.equal(new Set(handed).size, handed.length, `each handed out once: ${JSON.stringify(got)}`);
  assert.ok(handed.every((s) => s <= stored), `every one handed out is stored (${stored}): ${JSON.stringify(got)}`);
});
