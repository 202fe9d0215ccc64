/**
 * The private test broker itself: a port taken between finding it free and Mosquitto binding it
 * (another test's server or an outgoing connection got it first) is not a failed test, the broker
 * starts again on a fresh port; any other failure to start still fails at once, with Mosquitto's words.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import { TestBroker } from './mosquitto.js';

test('a port taken before Mosquitto binds it: the broker starts again on a fresh port, same folder', { timeout: 60_000 }, async (t) => {
  const taken = await TestBroker.start();
  t.after(() => taken.stop());
  const calls: { port: number; dir: string }[] = [];
  const broker = await TestBroker.start(async (port, dir) => {
    calls.push({ port, dir });
    // The first call is handed a port that another broker holds, as if it had been taken meanwhile.
    return [`listener ${calls.length === 1 ? taken.port : port} 127.0.0.1`, 'allow_anonymous true'];
  });
  t.after(() => broker.stop());
  assert.equal(calls.length, 2, 'the listener is asked again once');
  assert.equal(calls[0]!.dir, calls[1]!.dir, 'one folder for both attempts');
  assert.equal(broker.port, calls[1]!.port);
  assert.notEqual(broker.port, taken.port);
  const c = await connectAsync(broker.url, { clientId: `retry-${process.pid}`, connectTimeout: 5000 });
  await c.endAsync(true);
});

test('a broker that fails for another reason is not tried again: the error carries what Mosquitto said', { timeout: 30_000 }, async () => {
  let calls = 0;
  await assert.rejects(
    TestBroker.start(async (port) => {
      calls++;
      return [`listener ${port} 127.0.0.1`, 'no_such_option true'];
    }),
    /did not start on \d+: .*no_such_option/is,
  );
  assert.equal(calls, 1);
});
