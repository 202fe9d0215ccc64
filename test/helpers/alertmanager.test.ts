/**
 * The test Alertmanager itself: a port taken between finding it free and Alertmanager binding it
 * (another test's server or an outgoing connection got it first) is not a failed test: it starts
 * again on a fresh port.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { TestAlertmanager } from './alertmanager.js';
import { silentServer } from './ports.js';

test('a port taken before Alertmanager binds it: it starts again on a fresh port and gets ready', { timeout: 60_000 }, async (t) => {
  // What holds the port accepts and never answers, so the readiness probe must give up on its own.
  const holder = silentServer(t);
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const taken = (holder.address() as AddressInfo).port;
  const am = await TestAlertmanager.start(taken);
  t.after(() => am.stop());
  assert.notEqual(new URL(am.url).port, String(taken));
  assert.deepEqual(await am.alerts(), [], 'it answers, and holds no alerts');
});
