import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../../../agent/store/database.js';
import { MIGRATIONS } from '../../../agent/store/migrations.js';
import { isDriftlineError } from '../../../lib/errors.js';

test('a new database is WAL, incremental auto-vacuum, fully migrated; reopening migrates nothing', async (t) => {
  const file = join(await mkdtemp(join(tmpdir(), 'driftline-db-')), 'sub', 'agent.db');
  const db = openDatabase(file);
  t.after(() => db.close());
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('auto_vacuum', { simple: true }), 2);
  assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  db.prepare("INSERT INTO cameras (name) VALUES ('a')").run();
  const schema = db.pragma('schema_version', { simple: true }); // bumped by any change to the schema
  db.close();
  const again = openDatabase(file);
  t.after(() => again.close());
  assert.equal(again.pragma('schema_version', { simple: true }), schema, 'the schema was not touched');
  assert.equal(again.pragma('user_version', { simple: true }), MIGRATIONS.length);
  assert.equal((again.prepare('SELECT count(*) AS n FROM cameras').get() as { n: number }).n, 1);
});

test('a schema newer than the agent, or an unusable path, is DRIFTLINE_ERR_STORE naming the file', async (t) => {
  const file = join(await mkdtemp(join(tmpdir(), 'driftline-db-')), 'agent.db');
  const db = openDatabase(file);
  t.after(() => db.close());
  db.pragma(`user_version = ${MIGRATIONS.length + 5}`);
  db.close();
  assert.throws(() => openDatabase(file), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_STORE') && e.message.includes(file) && /newer than this agent/.test(e.message));
  // A folder that cannot exist: its parent is a regular file.
  assert.throws(() => openDatabase(join(file, 'nested', 'agent.db')), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_STORE') && /ENOTDIR|not a directory/i.test(e.message));
});
