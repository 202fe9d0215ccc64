/**
 * A full disk under the collector's store: commits fail and roll back (the broker re-delivers), the
 * timed bookkeeping write fails too and is retried, and nothing throws out of a timer (it used to
 * crash the process). Once space is back, the store goes on, the cameras table never claims a
 * last seq whose summary was rolled back, and every stored summary has its key. Needs root for a small tmpfs; skipped otherwise.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import { summaryMsg } from '../../helpers/collector.js';
import { releaser } from '../../helpers/ports.js';

const root = process.getuid?.() === 0;

test('a full disk: failed commits roll back, the bookkeeping timer survives, and the store goes on when space is back', { skip: !root && 'needs root to mount a tmpfs' }, async (t) => {
  const release = releaser(t);
  const dir = mkdtempSync(join(tmpdir(), 'driftline-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
  release('tmpfs', () => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  const uncaught: Error[] = [];
  const onUncaught = (e: Error): void => void uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  release('uncaught listener', () => process.off('uncaughtException', onUncaught));
  const store = new SqliteStore(join(dir, 'c.db'), 200);
  release('store', () => store.close());
  let seq = 0;
  const batch = (n: number): boolean => {
    store.beginBatch();
    for (let i = 0; i < n; i++) {
      const m = summaryMsg('s', 'd', 'c', ++seq);
      store.addSummary(m, Date.now(), JSON.stringify(m));
    }
    // A read inside the batch (the rules may read) writes the keys of every row not yet indexed, into
    // the batch: a failed COMMIT takes them back, those of rows committed before it included.
    assert.equal(store.summary('s', 'd', 'c', seq)?.seq, seq);
    try {
      store.commitBatch();
      return true;
    } catch {
      seq -= n; // rolled back: the broker would deliver these again
      return false;
    }
  };
  for (let i = 0; i < 3; i++) assert.ok(batch(1));
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  for (const size of [1 << 20, 4096, 512, 1]) {
    const b = Buffer.alloc(size, 1);
    try {
      for (;;) writeSync(fd, b);
    } catch {
      // full at this block size: try a smaller one
    }
  }
  closeSync(fd);
  let failed = 0;
  for (let k = 0; k < 5; k++) if (!batch(30)) failed++;
  assert.ok(failed > 0, 'the disk is full: commits fail');
  await new Promise((r) => setTimeout(r, 1000)); // bookkeeping ticks on a full disk
  assert.deepEqual(uncaught, [], 'nothing thrown out of a timer');
  rmSync(filler);
  assert.ok(batch(30), 'space is back: commits succeed');
  store.flush();
  const db = new Database(join(dir, 'c.db'), { readonly: true });
  release('reader', () => db.close());
  const stored = (db.prepare('SELECT max(seq) AS seq FROM summaries').get() as { seq: number }).seq;
  const claimed = (db.prepare('SELECT last_seq AS seq FROM cameras').get() as { seq: number }).seq;
  assert.equal(stored, seq, 'every committed summary is there, and only those');
  assert.equal(claimed, stored, 'the cameras table claims exactly the last stored seq');
  assert.deepEqual(
    store.summaries('s', 'd', 'c').map((m) => m.seq),
    Array.from({ length: seq }, (_, i) => i + 1),
    'every committed summary is found by its key',
  );
});
