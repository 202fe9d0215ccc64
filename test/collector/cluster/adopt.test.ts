/**
 * Taking over a dead replica's broker session, against a real Mosquitto: everything the session held
 * is stored even when each commit outlasts the quiet time (the broker sends no more than the
 * session's window while a commit holds its acknowledgements), and the session is ended afterwards.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { connect, connectAsync } from 'mqtt';
import { adoptSession } from '../../../collector/cluster/adopt.js';
import { silentLogger } from '../../../lib/log.js';
import { summaryTopic } from '../../../protocol/topics.js';
import { uniqueName } from '../../helpers/collector.js';
import { TestBroker } from '../../helpers/mosquitto.js';
import { releaser } from '../../helpers/ports.js';
import { sleep } from '../../helpers/wait.js';

async function deadSession(t: TestContext, n: number): Promise<{ broker: TestBroker; clientId: string; send: (seq: number) => Promise<unknown>; take: (commit: (burst: number[]) => Promise<void>, o: { quietMs: number; receiveMaximum?: number }) => Promise<number> }> {
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const clientId = uniqueName('dead-replica');
  const filter = 'driftline/v1/+/+/+/summary';
  // The replica that died: a persistent session subscribed to the summaries, gone without a word.
  const dead = await connectAsync(broker.url, { clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 60 }, reconnectPeriod: 0 });
  await dead.subscribeAsync(filter, { qos: 1 });
  dead.stream.destroy();
  await sleep(200);
  const dev = await connectAsync(broker.url, { clientId: uniqueName('device') });
  release('device', () => dev.endAsync());
  const topic = summaryTopic('s', uniqueName('d'), 'c');
  const send = (seq: number): Promise<unknown> => dev.publishAsync(topic, JSON.stringify({ seq }), { qos: 1 });
  for (let seq = 1; seq <= n; seq++) await send(seq);
  /** Takes the session over; `commit` gets each burst's seqs (throw: refused). Resolves how many were delivered. */
  const take = (commit: (burst: number[]) => Promise<void>, o: { quietMs: number; receiveMaximum?: number }): Promise<number> => {
    let staged: number[] = [];
    return adoptSession({
      url: broker.url,
      client: {},
      clientId,
      filters: [filter],
      backoff: { initialMs: 100, maxMs: 200, jitter: 0 },
      log: silentLogger,
      sessionExpirySeconds: 60,
      ...o,
      onMessage: (_topic, payload) => void staged.push((JSON.parse(payload.toString()) as { seq: number }).seq),
      batch: {
        begin: () => undefined,
        commit: () => {
          const burst = staged;
          staged = [];
          return commit(burst);
        },
      },
    });
  };
  return { broker, clientId, send, take };
}

test('a takeover whose commits outlast the quiet time stores all the dead session held, then ends the session', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const N = 50;
  const { broker, clientId, send, take } = await deadSession(t, N);
  const stored: number[] = [];
  // The broker sends 10, then waits for their acknowledgements; each commit takes longer than the quiet time.
  const taken = await take(
    async (burst) => {
      await sleep(1500);
      stored.push(...burst);
    },
    { quietMs: 1000, receiveMaximum: 10 },
  );
  assert.equal(taken, N);
  assert.deepEqual(stored, Array.from({ length: N }, (_, i) => i + 1), 'every message the session held, once');
  // The session is gone: a client with its id, asking to resume it, finds none.
  await send(N + 1);
  const again = connect(broker.url, { clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 60 }, reconnectPeriod: 0 });
  release('again', () => again.endAsync());
  const ack = await new Promise<{ sessionPresent: boolean }>((resolve) => again.once('connect', resolve));
  assert.equal(ack.sessionPresent, false, 'the takeover ended the session');
});

test('a takeover whose commit is refused keeps the session: the reconnect gets what it held', { timeout: 60_000 }, async (t) => {
  const N = 20;
  const { take } = await deadSession(t, N);
  const stored = new Set<number>();
  let refuse = true;
  const taken = await take(
    async (burst) => {
      if (refuse) {
        refuse = false;
        throw new Error('the database refused the commit'); // the connection drops, unacknowledged
      }
      for (const seq of burst) stored.add(seq);
    },
    { quietMs: 1000 },
  );
  assert.ok(taken >= N, `${taken} deliveries`);
  assert.deepEqual([...stored].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1), 'every message the session held, after the refused commit');
});
