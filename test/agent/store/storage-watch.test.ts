import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemClock } from '../../../lib/clock.js';
import { Outbox } from '../../../agent/publish/outbox.js';
import { openDatabase } from '../../../agent/store/database.js';
import { FrameWriter } from '../../../agent/store/frame-writer.js';
import { recordOver } from '../../../agent/telemetry/frame-record.js';
import { Retention } from '../../../agent/store/retention.js';
import { isDiskFull, StorageWatch, type StorageFull, type StorageRecovered } from '../../../agent/store/storage-watch.js';
import { releaser } from '../../helpers/ports.js';

const DAY = 86_400_000;

test('a store that fills (SQLite max_page_count): the failed write sheds frames, is retried and fits; full and recovered are reported once each, in order, even when the first report could not be queued', async (t) => {
  const release = releaser(t);
  const db = openDatabase(join(await mkdtemp(join(tmpdir(), 'driftline-full-')), 'agent.db'));
  release('database', () => db.close());
  db.prepare("INSERT INTO cameras (id, name) VALUES (1, 'cam')").run();
  const writer = new FrameWriter(db, { flushMs: 3_600_000, capacity: 2000 });
  release('writer', () => writer.close());
  const outbox = new Outbox(db, 10_000);
  const stats = new Float64Array(64).fill(0.5);
  const rec = recordOver(stats, { values: stats, classCounts: new Uint32Array(0), confHist: new Uint32Array(0) });
  rec.stageMs.set([1, 2, 3]);
  const flushOne = (): number => {
    for (let i = 0; i < 500; i++) {
      rec.ts = Date.now();
      rec.index = i;
      writer.add(1, rec);
    }
    return writer.flush();
  };
  for (let i = 0; i < 4; i++) assert.equal(flushOne(), 500);
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`); // SQLite's own "database or disk is full"

  const reports: (StorageFull | StorageRecovered)[] = [];
  let refuse = 1; // the first report finds no room in the outbox either
  const offer = (r: StorageFull | StorageRecovered): boolean => (refuse-- > 0 ? false : (reports.push(r), true));
  const retention = new Retention(db, { frameMaxAgeMs: 7 * DAY, windowMaxAgeMs: 90 * DAY, maxBytes: 1 << 30 });
  let senders = 0;
  const sender = (r: StorageFull | StorageRecovered): (() => boolean) => {
    senders++;
    return () => offer(r);
  };
  const watch = new StorageWatch(retention, { minFreeBytes: 0, clock: systemClock, onFull: sender, onRecovered: sender });

  let failure: unknown;
  try {
    outbox.enqueue('cam/summary', (seq) => ({ topic: 't', payload: 'x'.repeat(20_000) + seq }));
  } catch (e) {
    failure = e;
  }
  assert.ok(isDiskFull(failure), `the outbox write fails with the disk full: ${String(failure)}`);
  assert.equal(isDiskFull(new Error('SQLITE_BUSY: database is locked')), false);
  const before = (db.prepare('SELECT count(*) AS n FROM frames').get() as { n: number }).n;
  assert.equal(watch.writeFailed(failure), true, 'space was shed: worth a retry');
  assert.ok(watch.full);
  const after = (db.prepare('SELECT count(*) AS n FROM frames').get() as { n: number }).n;
  assert.ok(after < before && after > 0, `the oldest frames went, not all of them: ${before} -> ${after}`);
  const seq = outbox.enqueue('cam/summary', (s) => ({ topic: 't', payload: 'x'.repeat(20_000) + s }));
  assert.equal(seq, 1, 'the retried write fits, and takes the seq the failed one did not consume');
  assert.equal(watch.writeFailed(new Error('SQLITE_BUSY: database is locked')), false, 'other errors are not disk full');
  assert.deepEqual(reports, [], 'the full report is kept for later');

  // The next retention pass: still full (a write failed since the last pass), the report goes now.
  const pass = retention.enforce();
  watch.afterPass(pass);
  assert.equal(reports.length, 1);
  assert.equal((reports[0] as unknown as StorageFull).framesShed, before - after);
  assert.match((reports[0] as unknown as StorageFull).error, /full/);
  assert.ok(watch.full, 'a pass right after a failed write does not call it recovered');
  watch.afterPass(retention.enforce());
  assert.equal(watch.full, false);
  assert.equal(reports.length, 2);
  assert.ok('fullForSeconds' in reports[1]!);
  watch.afterPass(retention.enforce());
  assert.equal(reports.length, 2, 'each change is reported once');
  assert.ok(outbox.size >= 1, 'the outbox was never shed');
  assert.equal(senders, 2, 'one sender per report, retried as it is: it can remember what it already sent');
});

test('the files given by shedFilesWith go first: a disk-full write that freed only them is worth a retry, and a pass under the floor sheds them again', () => {
  const db = openDatabase(':memory:');
  try {
    const retention = new Retention(db, { frameMaxAgeMs: 7 * DAY, windowMaxAgeMs: 90 * DAY, maxBytes: 1 << 30 });
    const watch = new StorageWatch(retention, { minFreeBytes: 1000, clock: systemClock, onFull: () => () => true, onRecovered: () => () => true });
    let shed = 0;
    watch.shedFilesWith(() => {
      shed++;
      return 4096;
    });
    assert.equal(watch.writeFailed(new Error('database or disk is full')), true, 'the files freed room');
    assert.equal(shed, 1);
    assert.equal(watch.writeFailed(new Error('SQLITE_BUSY: database is locked')), false);
    assert.equal(shed, 1, 'only for lack of space');
    watch.afterPass({ framesDeleted: 0, windowsDeleted: 0, bytesBefore: 0, bytesAfter: 0, freeBytes: 10 });
    assert.equal(shed, 2, 'under the free-space floor');
    watch.afterPass({ framesDeleted: 0, windowsDeleted: 0, bytesBefore: 0, bytesAfter: 0, freeBytes: 1 << 30 });
    assert.equal(shed, 2, 'not with room to spare');
  } finally {
    db.close();
  }
});
