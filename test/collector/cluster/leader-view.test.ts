/**
 * The leader's view of devices and active alerts, loaded from a real database and kept by the feed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaderView } from '../../../collector/cluster/leader-view.js';
import { beginTerm, PostgresStore } from '../../../collector/store/postgres-store.js';
import { silentLogger } from '../../../lib/log.js';
import { SCHEMAS, type StatusMessage } from '../../../protocol/messages.js';
import { summaryMsg } from '../../helpers/collector.js';
import { testDatabase } from '../../helpers/postgres.js';

test('a status from the feed replaces the device\'s, and never moves its last-seen time back', async (t) => {
  const store = await PostgresStore.open(await testDatabase(t, 'view'), { maxSeqJump: 10, poolSize: 1 });
  t.after(() => store.close());
  const view = await LeaderView.load(store, silentLogger, await beginTerm(store.pool));
  t.after(() => view.close());
  const birth = { schema: SCHEMAS.status, site: 'p', device: 'd', state: 'online', ts: 1, agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60, epoch: 'e', seq: 1 } as StatusMessage;
  view.apply({ kind: 'status', receivedTs: 1000, m: birth, previous: undefined });
  view.apply({ kind: 'summary', receivedTs: 5000, m: summaryMsg('p', 'd', 'c', 1) });
  assert.equal(view.device('p', 'd')?.lastSeen, 5000);
  // Its Will, ordered by its status seq, received by a replica whose clock is 2 s behind.
  const will = { schema: SCHEMAS.status, site: 'p', device: 'd', state: 'offline', ts: 1, epoch: 'e', seq: 1 } as StatusMessage;
  view.apply({ kind: 'status', receivedTs: 4000, m: will, previous: birth });
  assert.equal(view.device('p', 'd')?.state, 'offline');
  assert.equal(view.device('p', 'd')?.lastSeen, 5000, 'seen at 5000 all the same');
  view.apply({ kind: 'status', receivedTs: 6000, m: { ...birth, seq: 2 }, previous: will });
  assert.deepEqual([view.device('p', 'd')?.state, view.device('p', 'd')?.lastSeen], ['online', 6000]);
});
