/**
 * The private test broker itself: a port taken between finding it free and Mosquitto binding it
 * (another test's server or an outgoing connection got it first) is not a failed test, the broker
 * starts again on a fresh port; any other failure to start still fails at once, with Mosquitto's words.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import { TestBroker } from './mosquitto.js';
import { silentServer } from './ports.js';

test('a port taken before Mosquitto binds it: the broker starts again on a fresh port, same folder', { timeout: 60_000 }, async (t) => {
  // What takes the port listens and never answers: a port that answers is no proof the broker is up.
  const holder = silentServer(t);
  const calls: { port: number; dir: string }[] = [];
  const broker = await TestBroker.start(async (port, dir) => {
    calls.push({ port, dir });
    if (calls.length === 1) {
      // Taken meanwhile. (Should anything else take it first, say so rather than throw uncaught.)
      await new Promise<void>((resolve, reject) => {
        holder.once('error', (e) => reject(new Error(`holding port ${port} for the test: ${e.message}`)));
        holder.listen(port, '127.0.0.1', resolve);
      });
    }
    return [`listener ${port} 127.0.0.1`, 'allow_anonymous true'];
  });
  t.after(() => broker.stop());
  assert.equal(calls.length, 2, 'the listener is asked again once');
  assert.equal(calls[0]!.dir, calls[1]!.dir, 'one folder for both attempts');
  assert.equal(broker.port, calls[1]!.port);
  assert.notEqual(broker.port, calls[0]!.port);
  // It is Mosquitto there: a message goes round.
  const c = await connectAsync(broker.url, { clientId: `retry-${process.pid}`, connectTimeout: 5000 });
  t.after(() => c.endAsync(true));
  await c.subscribeAsync('helper/echo', { qos: 1 });
  const got = new Promise<string>((r) => c.once('message', (_topic, payload) => r(payload.toString())));
  await c.publishAsync('helper/echo', 'round', { qos: 1 });
  assert.equal(await got, 'round');
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
