import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openDatabase } from '../../../agent/store/database.js';
import { FrameWriter } from '../../../agent/store/frame-writer.js';
import { recordOver } from '../../../agent/telemetry/frame-record.js';
import { MIGRATIONS } from '../../../agent/store/migrations.js';
import { DETECTION_FEATURES } from '../../../agent/telemetry/detection-stats.js';
import { FRAME_FEATURES } from '../../../agent/telemetry/frame-stats.js';

test('a database of an agent before detection-level OOD (schema 3) gains frames.ood_detections; its rows stay, new rows fill it', async (t) => {
  const file = join(await mkdtemp(join(tmpdir(), 'driftline-migrate-')), 'agent.db');
  // The database as the previous agent left it: migrations 1-3 and a frame.
  const old = new Database(file);
  for (const m of MIGRATIONS.slice(0, 3)) old.exec(m);
  old.pragma('user_version = 3');
  old.prepare("INSERT INTO cameras (name) VALUES ('line-1')").run();
  old.prepare('INSERT INTO frames (camera_id, ts, frame, detections, uncertain) VALUES (1, 1000, 1, 3, 1)').run();
  old.close();

  const db = openDatabase(file);
  t.after(() => db.close());
  assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  const columns = (db.prepare('PRAGMA table_info(frames)').all() as { name: string }[]).map((c) => c.name);
  assert.ok(columns.includes('ood_detections'), columns.join(', '));
  assert.deepEqual(db.prepare('SELECT detections, uncertain, ood_detections FROM frames').all(), [{ detections: 3, uncertain: 1, ood_detections: null }]);
  const writer = new FrameWriter(db, { flushMs: 60_000 });
  const ds = new Float64Array(DETECTION_FEATURES.length);
  ds[DETECTION_FEATURES.indexOf('oodDetections')] = 2;
  const rec = recordOver(new Float64Array(FRAME_FEATURES.length), { values: ds, classCounts: new Uint32Array(0), confHist: new Uint32Array(0) });
  rec.ts = 2000;
  rec.index = 2;
  rec.stageMs.set([1, 2, 3]);
  writer.add(1, rec);
  assert.equal(writer.close(), 1);
  assert.deepEqual(db.prepare('SELECT ood_detections FROM frames WHERE frame = 2').get(), { ood_detections: 2 });
});
