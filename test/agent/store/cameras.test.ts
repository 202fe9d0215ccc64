/** agent/store/cameras.ts: a camera's row id is made on its first start and kept across restarts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cameraIds } from '../../../agent/store/cameras.js';
import { openDatabase } from '../../../agent/store/database.js';

test('ids in the order asked; a camera already known keeps its id, a new one gets the next', () => {
  const db = openDatabase(':memory:');
  try {
    const [dock, gate] = cameraIds(db, ['dock', 'gate']);
    assert.notEqual(dock, gate);
    assert.deepEqual(cameraIds(db, ['gate', 'yard', 'dock']), [gate, gate! + 1, dock]);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM cameras').get() as { n: number }).n, 3);
  } finally {
    db.close();
  }
});
