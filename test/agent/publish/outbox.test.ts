import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Outbox } from '../../../agent/publish/outbox.js';
import { openDatabase } from '../../../agent/store/database.js';

const row = (seq: number) => ({ topic: 't', payload: JSON.stringify({ seq }) });

test('outbox: seq per stream survives a reopen; rows come back in order until acknowledged', async (t) => {
  const f = join(await mkdtemp(join(tmpdir(), 'driftline-outbox-')), 'a.db');
  let db = openDatabase(f);
  t.after(() => db.close()); // whichever is open when the test ends (closing twice is harmless)
  let o = new Outbox(db, 1000);
  assert.equal(o.oldestTs(), undefined, 'empty: nothing waits');
  const before = Date.now();
  assert.deepEqual([o.enqueue('a/summary', row), o.enqueue('a/summary', row), o.enqueue('b/summary', row), o.enqueue('a/event', row)], [1, 2, 1, 1]);
  const first = o.next(0, 10);
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
  assert.deepEqual(o.next(0, 10).map((r) => JSON.parse(r.payload).seq), [2, 1, 1, 3], 'oldest first');
  assert.deepEqual(o.next(o.next(0, 2)[1]!.id, 10).map((r) => JSON.parse(r.payload).seq), [1, 3], 'paging by id');
});

test('outbox: bounded, dropping the oldest; a failed build consumes no seq', async (t) => {
  const db = openDatabase(join(await mkdtemp(join(tmpdir(), 'driftline-outbox-')), 'a.db'));
  t.after(() => db.close());
  const o = new Outbox(db, 100);
  for (let i = 0; i < 150; i++) o.enqueue('c/summary', row);
  assert.equal(o.size, 100);
  assert.equal(o.dropped, 50);
  assert.equal(JSON.parse(o.next(0, 1)[0]!.payload).seq, 51);
  assert.throws(() => o.enqueue('c/summary', () => { throw new Error('disk full'); }), /disk full/);
  assert.equal(o.enqueue('c/summary', row), 151, 'the failed message did not use up a seq');
});

test('outbox on a full disk: the write fails cleanly, nothing half-stored, seq continues once there is room', async (t) => {
  const { DeviceLink } = await import('../../../agent/publish/link.js');
  const { silentLogger } = await import('../../../lib/log.js');
  const db = openDatabase(join(await mkdtemp(join(tmpdir(), 'driftline-outbox-')), 'a.db'));
  t.after(() => db.close());
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
  assert.deepEqual(link.outbox.next(0, 1000).map((r) => JSON.parse(r.payload).seq), Array.from({ length: stored + 1 }, (_, i) => i + 1));
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

test('outbox: an acknowledgement the database refuses keeps its id; the next one that succeeds deletes both', async (t) => {
  const db = openDatabase(join(await mkdtemp(join(tmpdir(), 'driftline-outbox-')), 'a.db'));
  t.after(() => db.close());
  const o = new Outbox(db, 100);
  for (let i = 0; i < 3; i++) o.enqueue('c/summary', row);
  const [a, b, c] = o.next(0, 3).map((r) => r.id);
  db.pragma('query_only = ON'); // every write refused, as on a disk full to the last byte
  assert.throws(() => o.ack(a!), /readonly/);
  assert.equal(o.size, 3);
  assert.equal(o.undeleted, 1);
  assert.throws(() => o.retryAcks(), /readonly/);
  assert.equal(o.undeleted, 1, 'kept when refused again');
  db.pragma('query_only = OFF');
  o.ack(b!);
  assert.equal(o.undeleted, 0);
  assert.equal(o.size, 1);
  assert.deepEqual(o.next(0, 10).map((r) => r.id), [c]);
});
