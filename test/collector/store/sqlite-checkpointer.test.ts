/**
 * WAL checkpoints on a worker thread (sqlite-checkpointer.ts): a store that writes a lot asks for
 * them and they happen off the event loop; the WAL stays bounded; closing waits for the worker's
 * connection, and every committed summary is there when the database is opened again. A store that
 * stays small never starts the worker.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import { summaryMsg } from '../../helpers/collector.js';
import { until } from '../../helpers/wait.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a store that writes a lot checkpoints on a worker thread; the WAL stays near its bound; nothing is lost at close', { timeout: 120_000 }, async (t) => {
  const f = join(await mkdtemp(join(tmpdir(), 'driftline-ckpt-')), 'c.db');
  const store = new SqliteStore(f, undefined, { walBytes: 8 << 20 });
  let open = true;
  t.after(() => open && store.close());
  const pad = 'x'.repeat(4000); // about a real summary's size
  let seq = 0;
  let maxWal = 0;
  for (let b = 0; b < 120; b++) {
    store.beginBatch();
    for (let i = 0; i < 100; i++) {
      const m = summaryMsg('p', 'e', `c${i % 10}`, Math.floor(seq++ / 10) + 1);
      store.addSummary(m, 1, JSON.stringify({ ...m, pad }));
    }
    store.commitBatch();
    await turn(); // the event loop turns between bursts, as under the subscriber
    maxWal = Math.max(maxWal, statSync(`${f}-wal`).size);
  }
  const written = seq * 4000;
  // The worker's first checkpoint: its start, better-sqlite3's load and the fsyncs may take seconds on a loaded machine.
  await until(() => (store.checkpoints?.done ?? 0) > 0, 30_000, 'the first checkpoint on the worker');
  assert.ok(store.checkpoints, 'the worker started');
  assert.ok(store.checkpoints.done > 0, `checkpoints ran on the worker: ${JSON.stringify(store.checkpoints)}`);
  assert.equal(store.checkpoints.failures, 0);
  // The WAL starts over at its bound, once the worker has copied what was committed before; while a
  // checkpoint's fsyncs last, commits go on and the file grows past the bound by what they write
  // (about 5 MB on a slow VM disk, where an fsync takes 50-130 ms). Bounded means it never holds what
  // was written since the start: the file stays under half of it.
  assert.ok(maxWal < written / 2, `the WAL (${maxWal} bytes at most) started over near its 8 MiB bound, of ${written} bytes written`);
  const t0 = performance.now();
  store.close();
  open = false;
  assert.ok(performance.now() - t0 < 5000, 'close waited for the worker, not for ever');
  const db = new Database(f, { readonly: true });
  t.after(() => db.close());
  assert.equal((db.prepare('SELECT count(*) AS n FROM summaries').get() as { n: number }).n, seq, 'every committed summary is there');
});

test('a store that stays small starts no worker', async (t) => {
  const store = new SqliteStore(join(await mkdtemp(join(tmpdir(), 'driftline-ckpt-')), 'c.db'));
  t.after(() => store.close());
  for (let seq = 1; seq <= 50; seq++) {
    store.beginBatch();
    store.addSummary(summaryMsg('p', 'e', 'c', seq), 1);
    store.commitBatch();
  }
  assert.equal(store.checkpoints, undefined);
});
