import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Outbox } from '../../../agent/publish/outbox.js';
import { openDatabase } from '../../../agent/store/database.js';

const row = (seq: number) => ({ topic: 't', payload: JSON.stringify({ seq }) });

test('outbox: seq per stream survives a reopen; rows come back in order until acknowledged', async () => {
  const f = join(await mkdtemp(join(tmpdir(), 'driftline-outbox-')), 'a.db');
  let db = openDatabase(f);
  let o = new Outbox(db, 1000);
  assert.deepEqual([o.enqueue('a/summary', row), o.enqueue('a/summary', row), o.enqueue('b/summary', row), o.enqueue('a/event', row)], [1, 2, 1, 1]);
  const first = o.next(0, 10);
  assert.deepEqual(first.map((r) => JSON.parse(r.payload).seq), [1, 2, 1, 1]);
  o.ack(first[0]!.id);
  assert.equal(o.size, 3);
  db.close();
  db = openDatabase(f);
  o = new Outbox(db, 1000);
  assert.equal(o.size, 3, 'unacknowledged rows survive the restart');
  assert.equal(o.enqueue('a/summary', row), 3, 'seq continues');
  assert.deepEqual(o.next(0, 10).map((r) => JSON.parse(r.payload).seq), [2, 1, 1, 3], 'oldest first');
  assert.deepEqual(o.next(o.next(0, 2)[1]!.id, 10).map((r) => JSON.parse(r.payload).seq), [1, 3], 'paging by id');
  db.close();
});

test('outbox: bounded, dropping the oldest; a failed build consumes no seq', async () => {
  const db = openDatabase(join(await mkdtemp(join(tmpdir(), 'driftline-outbox-')), 'a.db'));
  const o = new Outbox(db, 100);
  for (let i = 0; i < 150; i++) o.enqueue('c/summary', row);
  assert.equal(o.size, 100);
  assert.equal(o.dropped, 50);
  assert.equal(JSON.parse(o.next(0, 1)[0]!.payload).seq, 51);
  assert.throws(() => o.enqueue('c/summary', () => { throw new Error('disk full'); }), /disk full/);
  assert.equal(o.enqueue('c/summary', row), 151, 'the failed message did not use up a seq');
  db.close();
});
