import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openDatabase } from '../../../agent/store/database.js';
import { FRAME_COLUMNS, FrameWriter } from '../../../agent/store/frame-writer.js';
import { recordOver } from '../../../agent/telemetry/frame-record.js';
import { endProcess, releaser } from '../../helpers/ports.js';

const tmp = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'driftline-fw-')), 'agent.db');

test('rows are batched in memory and written in one transaction per flush, values intact', async (t) => {
  const release = releaser(t);
  const db = openDatabase(await tmp());
  release('database', () => db.close());
  db.prepare("INSERT INTO cameras (id, name) VALUES (7, 'cam')").run();
  const flushes: number[] = [];
  const w = new FrameWriter(db, { flushMs: 3_600_000, onFlush: (n) => flushes.push(n) });
  release('writer', () => w.close());
  const stats = Float64Array.from({ length: 12 }, (_, i) => i + 0.5);
  const det = Float64Array.from({ length: 6 }, (_, i) => 100 + i);
  const rec = recordOver(stats, { values: det, classCounts: new Uint32Array(0), confHist: new Uint32Array(0) });
  rec.stageMs.set([1.5, 2.5, 3.5]);
  for (let i = 0; i < 250; i++) {
    rec.ts = 1_000 + i;
    rec.index = i;
    w.add(7, rec);
  }
  assert.equal(w.pending, 250);
  assert.equal((db.prepare('SELECT count(*) AS n FROM frames').get() as { n: number }).n, 0, 'nothing written before the flush');
  assert.equal(w.flush(), 250);
  assert.deepEqual(flushes, [250]);
  const row = db.prepare('SELECT * FROM frames WHERE frame = 249').get() as Record<string, number>;
  assert.equal(Object.keys(row).length, FRAME_COLUMNS);
  assert.deepEqual([row.camera_id, row.ts, row.brightness, row.entropy, row.detections, row.mean_aspect, row.postprocess_ms], [7, 1249, 0.5, 11.5, 100, 105, 3.5]);
});

test('a full ring drops and counts new rows instead of blocking; a failed flush keeps its rows', async (t) => {
  const release = releaser(t);
  const file = await tmp();
  const db = openDatabase(file);
  release('database', () => db.close());
  db.prepare("INSERT INTO cameras (id, name) VALUES (1, 'cam')").run();
  db.pragma('busy_timeout = 50');
  const errors: string[] = [];
  const w = new FrameWriter(db, { flushMs: 3_600_000, capacity: 10, onFlush: (_n, e) => e && errors.push(e.message) });
  release('writer', () => w.close());
  const z = new Float64Array(12);
  const rec = recordOver(z, { values: z, classCounts: new Uint32Array(0), confHist: new Uint32Array(0) });
  for (let i = 0; i < 15; i++) {
    rec.ts = rec.index = i;
    w.add(1, rec);
  }
  assert.equal(w.pending, 10);
  assert.equal(w.dropped, 5);
  // Another connection holds the write lock: the flush fails, nothing is lost.
  const other = new Database(file);
  const closeOther = release('the other connection', () => other.close());
  other.exec('BEGIN IMMEDIATE');
  assert.equal(w.flush(), 0);
  assert.equal(w.flushErrors, 1);
  assert.match(errors[0] ?? '', /locked|busy/i);
  assert.equal(w.pending, 10);
  other.exec('ROLLBACK');
  await closeOther();
  assert.equal(w.flush(), 10);
  assert.deepEqual((db.prepare('SELECT frame FROM frames ORDER BY frame').all() as { frame: number }[]).map((r) => r.frame), [...Array(10).keys()]);
});

test('kill -9 during heavy writing leaves an intact database holding every committed batch', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const file = await tmp();
  const fixture = new URL('./fixtures/heavy-writer.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
  release('writer process', () => endProcess(child));
  const committed: number[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  // Kill at an arbitrary point well into the run (while a batch is being written).
  const killAt = 40 + (process.pid % 17);
  await new Promise<void>((resolve, reject) => {
    void exited.then(() => reject(new Error(`the writer exited after ${committed.length} batches, before it was killed`)));
    child.stdout.on('data', (d: string) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) committed.push(Number(l.split(' ')[1]));
      if (committed.length >= killAt) resolve();
    });
  });
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  const db = new Database(file);
  release('database', () => db.close());
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  const total = (db.prepare('SELECT count(*) AS n FROM frames').get() as { n: number }).n;
  assert.equal(total % 500, 0, 'only whole batches: each transaction is all or nothing');
  const perBatch = db.prepare('SELECT count(*) AS n FROM frames WHERE frame >= ? AND frame < ?');
  for (const b of committed) assert.equal((perBatch.get(b * 500, (b + 1) * 500) as { n: number }).n, 500, `batch ${b} reported committed is complete`);
  assert.ok(total / 500 >= committed.length);
});
