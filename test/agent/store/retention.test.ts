import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../../../agent/store/database.js';
import { FrameWriter } from '../../../agent/store/frame-writer.js';
import { recordOver } from '../../../agent/telemetry/frame-record.js';
import { Retention } from '../../../agent/store/retention.js';
import { LineCamera } from '../../../agent/synth/camera.js';
import { DEFAULT_CONDITIONS } from '../../../agent/synth/conditions.js';
import { FrameStats } from '../../../agent/telemetry/frame-stats.js';
import { releaser } from '../../helpers/ports.js';

const DAY = 86_400_000;

function onDisk(file: string): number {
  let wal = 0;
  try {
    wal = statSync(`${file}-wal`).size;
  } catch {
    wal = 0;
  }
  return statSync(file).size + wal;
}

test('over a long synthetic run the database stays under its byte budget and keeps the newest rows', async (t) => {
  const release = releaser(t);
  const file = join(await mkdtemp(join(tmpdir(), 'driftline-ret-')), 'agent.db');
  const db = openDatabase(file);
  release('database', () => db.close());
  db.prepare("INSERT INTO cameras (id, name) VALUES (1, 'line-1')").run();
  const budget = 2 * 1024 * 1024;
  const writer = new FrameWriter(db, { flushMs: 3_600_000, capacity: 5_000 });
  release('writer', () => writer.close());
  const retention = new Retention(db, { frameMaxAgeMs: 7 * DAY, windowMaxAgeMs: 90 * DAY, maxBytes: budget });
  // Real statistics of a few synthetic frames, cycled: the run is about rows, not rendering.
  const cam = new LineCamera(320, 240, 1);
  const fs = new FrameStats();
  const stats = Array.from({ length: 8 }, (_, i) => Float64Array.from(fs.compute(cam.next({ ...DEFAULT_CONDITIONS, gain: 1 - i * 0.05 }).data, 320, 240)));
  const det = new Float64Array(6).fill(3);
  const rec = recordOver(stats[0]!, { values: det, classCounts: new Uint32Array(0), confHist: new Uint32Array(0) });
  rec.stageMs.set([1, 2, 0.1]);
  let frame = 0;
  let peak = 0;
  let deleted = 0;
  const t0 = Date.now();
  for (let batch = 0; batch < 60; batch++) {
    for (let i = 0; i < 2_000; i++, frame++) {
      rec.ts = t0 + frame * 33;
      rec.index = frame;
      rec.frameStats = stats[frame % 8]!;
      writer.add(1, rec);
    }
    writer.flush();
    deleted += retention.enforce(t0 + frame * 33).framesDeleted;
    peak = Math.max(peak, onDisk(file));
  }
  assert.ok(frame === 120_000);
  assert.ok(deleted > 50_000, `old frames were deleted (${deleted})`);
  assert.ok(peak <= budget, `peak on disk ${peak} bytes > budget ${budget}`);
  const range = db.prepare('SELECT min(frame) AS lo, max(frame) AS hi, count(*) AS n FROM frames').get() as { lo: number; hi: number; n: number };
  assert.equal(range.hi, frame - 1, 'the newest frame is kept');
  assert.equal(range.n, range.hi - range.lo + 1, 'what remains is one contiguous, newest run');
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
});

test('age limits delete old frames and windows and nothing newer', async (t) => {
  const db = openDatabase(join(await mkdtemp(join(tmpdir(), 'driftline-ret-')), 'agent.db'));
  t.after(() => db.close());
  db.prepare("INSERT INTO cameras (id, name) VALUES (1, 'c')").run();
  const now = 100 * DAY;
  const ins = db.prepare('INSERT INTO frames (camera_id, ts, frame) VALUES (1, ?, ?)');
  for (let d = 0; d < 10; d++) ins.run(now - d * DAY, d);
  const win = db.prepare("INSERT INTO windows (camera_id, start_ts, end_ts, frames, dropped, errors, stats) VALUES (1, ?, ?, 1, 0, 0, '{}')");
  for (let d = 0; d < 100; d += 10) win.run(now - d * DAY - 1, now - d * DAY);
  const r = new Retention(db, { frameMaxAgeMs: 7 * DAY + 1, windowMaxAgeMs: 50 * DAY + 1, maxBytes: 1 << 30 }).enforce(now);
  assert.equal(r.framesDeleted, 2);
  assert.equal(r.windowsDeleted, 4);
  assert.deepEqual((db.prepare('SELECT frame FROM frames ORDER BY frame').all() as { frame: number }[]).map((x) => x.frame), [0, 1, 2, 3, 4, 5, 6, 7]);
});
