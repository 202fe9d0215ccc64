import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../../../agent/store/database.js';
import { MIGRATIONS } from '../../../agent/store/migrations.js';
import { isDriftlineError } from '../../../lib/errors.js';

test('a new database is WAL, incremental auto-vacuum, fully migrated; reopening migrates nothing', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'driftline-db-')), 'sub', 'agent.db');
  const db = openDatabase(file);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('auto_vacuum', { simple: true }), 2);
  assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  db.prepare("INSERT INTO cameras (name) VALUES ('a')").run();
  db.close();
  const again = openDatabase(file);
  assert.equal((again.prepare('SELECT count(*) AS n FROM cameras').get() as { n: number }).n, 1);
  again.close();
});

test('a schema newer than the agent, or an unusable path, is DRIFTLINE_ERR_STORE naming the file', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'driftline-db-')), 'agent.db');
  const db = openDatabase(file);
  db.pragma(`user_version = ${MIGRATIONS.length + 5}`);
  db.close();
  assert.throws(() => openDatabase(file), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_STORE') && e.message.includes(file) && /newer than this agent/.test(e.message));
  // A folder that cannot exist: its parent is a regular file.
  assert.throws(() => openDatabase(join(file, 'nested', 'agent.db')), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_STORE') && /ENOTDIR|not a directory/i.test(e.message));
});
