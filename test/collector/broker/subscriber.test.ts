/**
 * The collector's MQTT session against a real Mosquitto: a message the store refuses is not
 * acknowledged and comes again, and nothing after it on that connection is stored first. An
 * asynchronous store (a commit or a message that answers later) is acknowledged only once it has
 * answered, and a refusal makes everything unacknowledged come again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import { Subscriber } from '../../../collector/broker/subscriber.js';
import { silentLogger, type Logger } from '../../../lib/log.js';
import { summaryTopic } from '../../../protocol/topics.js';
import { uniqueName } from '../../helpers/collector.js';
import { LEVEL, logLines } from '../../helpers/log-lines.js';
import { TestBroker } from '../../helpers/mosquitto.js';
import { releaser } from '../../helpers/ports.js';
import { sleep, until } from '../../helpers/wait.js';

/** A collector session with a synchronous store (a batch that commits at once); `take` gets each message's seq. */
function session(url: string, take: (seq: number) => void): Subscriber {
  return new Subscriber({
    url,
    client: { clientId: uniqueName('collector') },
    protocolVersion: 5,
    sessionExpirySeconds: 60,
    backoff: { initialMs: 100, maxMs: 200, jitter: 0 },
    log: silentLogger,
    onMessage: (_topic, payload) => take((JSON.parse(payload.toString()) as { seq: number }).seq),
    batch: { begin: () => undefined, commit: () => undefined },
  });
}

/** Starts `sub`, then a device publishes seqs 1 to 5 back to back: they reach the collector in one read. */
async function startAndBurst(release: ReturnType<typeof releaser>, url: string, sub: Subscriber): Promise<void> {
  sub.start();
  release('subscriber', () => sub.stop());
  await until(() => sub.connected, 10_000, 'subscribed');
  const dev = await connectAsync(url, { clientId: uniqueName('device') });
  release('device', () => dev.endAsync());
  const topic = summaryTopic('s', uniqueName('d'), 'c');
  await Promise.all([1, 2, 3, 4, 5].map((seq) => dev.publishAsync(topic, JSON.stringify({ seq }), { qos: 1 })));
}

test('a message the store refuses is re-delivered, and none after it is stored before it', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const stored: number[] = [];
  let refuse = true;
  const sub = session(broker.url, (seq) => {
    if (seq === 2 && refuse) {
      refuse = false;
      throw new Error('database or disk is full');
    }
    stored.push(seq);
  });
  await startAndBurst(release, broker.url, sub);
  await until(() => [1, 2, 3, 4, 5].every((s) => stored.includes(s)), 20_000, 'every seq stored');
  const first = (s: number): number => stored.indexOf(s);
  for (const s of [3, 4, 5]) assert.ok(first(2) < first(s), `seq 2 is stored before ${s}: ${stored.join(' ')}`);
});

/** A subscriber on a private broker whose batch commit the test settles by hand; what it received, in order. */
async function heldCommits(t: import('node:test').TestContext, o: { receiveMaximum?: number; onMessage?: (seq: number) => unknown } = {}) {
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const received: number[] = [];
  const commits: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /** When set, commits settle at once this way instead of waiting for the test. */
  const auto: { mode?: 'resolve' | 'reject' } = {};
  let connects = 0;
  const sub = new Subscriber({
    url: broker.url,
    client: { clientId: uniqueName('collector') },
    protocolVersion: 5,
    sessionExpirySeconds: 60,
    backoff: { initialMs: 100, maxMs: 200, jitter: 0 },
    log: silentLogger,
    ...(o.receiveMaximum ? { receiveMaximum: o.receiveMaximum } : {}),
    onMessage: (_topic, payload) => {
      const seq = (JSON.parse(payload.toString()) as { seq: number }).seq;
      received.push(seq);
      return o.onMessage?.(seq);
    },
    batch: {
      begin: () => undefined,
      commit: () => {
        if (auto.mode === 'resolve') return Promise.resolve();
        if (auto.mode === 'reject') return Promise.reject(new Error('the database refused the commit'));
        return new Promise<void>((resolve, reject) => commits.push({ resolve, reject }));
      },
    },
  });
  sub.start();
  release('subscriber', () => sub.stop());
  await until(() => sub.connected, 10_000, 'subscribed');
  sub.mqtt!.on('connect', () => connects++);
  const dev = await connectAsync(broker.url, { clientId: uniqueName('device') });
  release('device', () => dev.endAsync());
  const topic = summaryTopic('s', uniqueName('d'), 'c');
  const send = (seq: number): Promise<unknown> => dev.publishAsync(topic, JSON.stringify({ seq }), { qos: 1 });
  /**
   * Cuts the collector's connection as a crash would: whatever it has not acknowledged comes again.
   * (Not `sub.connected`: a commit held by the test holds the SUBSCRIBE in the corked socket too; the
   * persistent session delivers without it.)
   */
  const cut = async (): Promise<void> => {
    const before = connects;
    sub.mqtt!.stream.destroy();
    await until(() => connects > before, 10_000, 'reconnected');
  };
  return { sub, received, commits, auto, send, cut };
}

test('an asynchronous commit: PUBACKs wait for it, and a burst that began meanwhile waits for both', { timeout: 60_000 }, async (t) => {
  const { sub, received, commits, auto, send, cut } = await heldCommits(t);
  await send(1);
  await until(() => commits.length === 1, 10_000, 'the first burst to commit');
  await send(2);
  await until(() => commits.length === 2, 10_000, 'the second burst to commit');
  commits[1]!.resolve(); // the second commit is done; the first is still in flight
  await sleep(300);
  await cut();
  await until(() => received.filter((s) => s === 1).length === 2 && received.filter((s) => s === 2).length === 2, 10_000, 'both seqs again');
  // Neither was acknowledged: seq 2's commit had resolved, but seq 1's had not.
  auto.mode = 'resolve';
  for (const c of commits.slice(2)) c.resolve();
  commits[0]!.resolve(); // late: its connection is gone
  // The PUBACKs of the re-delivered pair leave: the socket uncorked and its buffer written out
  // (mqtt.js reports a PUBACK as sent when it enters the corked socket, so that says nothing),
  // then a moment for the broker to read them.
  const stream = sub.mqtt!.stream as import('node:stream').Writable;
  await until(() => stream.writableCorked === 0 && stream.writableLength === 0, 10_000, 'the PUBACKs written out');
  await sleep(300);
  await cut();
  await sleep(700);
  assert.deepEqual(received, [1, 2, 1, 2], 'acknowledged once their commit resolved: nothing comes a third time');
});

test('an asynchronous commit that rejects: no PUBACK, the connection drops, the broker re-delivers', { timeout: 60_000 }, async (t) => {
  const { sub, received, auto, send } = await heldCommits(t);
  auto.mode = 'reject';
  await send(1);
  await until(() => received.length >= 1, 10_000, 'the first delivery');
  auto.mode = 'resolve';
  await until(() => received.length >= 2 && sub.connected, 10_000, 'the re-delivery after the refused commit');
  assert.deepEqual(received.slice(0, 2), [1, 1]);
});

test('a message stored asynchronously: a refused one in a burst drops the burst; re-delivered; the commit still runs', { timeout: 60_000 }, async (t) => {
  let refuse = true;
  const { received, commits, auto, send } = await heldCommits(t, {
    onMessage: (seq) => (seq === 2 && refuse ? ((refuse = false), Promise.reject(new Error('the write failed'))) : Promise.resolve('stored')),
  });
  auto.mode = 'resolve';
  await send(1);
  await until(() => received.includes(1), 10_000, 'seq 1');
  await send(2);
  await until(() => received.filter((s) => s === 2).length === 2, 10_000, 'seq 2 again, after the refused write');
  assert.equal(commits.length, 0, 'every burst was committed (auto), none left hanging');
});

test('without a batch, a message stored asynchronously is acknowledged once its promise resolves', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const received: number[] = [];
  const held: (() => void)[] = [];
  const sub = new Subscriber({
    url: broker.url,
    client: { clientId: uniqueName('collector') },
    protocolVersion: 5,
    sessionExpirySeconds: 60,
    backoff: { initialMs: 100, maxMs: 200, jitter: 0 },
    log: silentLogger,
    onMessage: (_topic, payload) => {
      received.push((JSON.parse(payload.toString()) as { seq: number }).seq);
      return new Promise<void>((resolve) => held.push(resolve));
    },
  });
  sub.start();
  release('subscriber', () => sub.stop());
  await until(() => sub.connected, 10_000, 'subscribed');
  const dev = await connectAsync(broker.url, { clientId: uniqueName('device') });
  release('device', () => dev.endAsync());
  const topic = summaryTopic('s', uniqueName('d'), 'c');
  await dev.publishAsync(topic, JSON.stringify({ seq: 1 }), { qos: 1 });
  await dev.publishAsync(topic, JSON.stringify({ seq: 2 }), { qos: 1 });
  await until(() => received.length === 1, 10_000, 'seq 1');
  await sleep(300);
  assert.deepEqual(received, [1], 'one at a time: seq 2 waits for seq 1 to be stored');
  held.shift()!();
  await until(() => received.length === 2, 10_000, 'seq 2, after seq 1 was stored');
  held.shift()!();
});

test('the session sets how many unacknowledged messages the broker sends: receiveMaximum bounds a burst held by its commit', { timeout: 60_000 }, async (t) => {
  const { received, commits, auto, send } = await heldCommits(t, { receiveMaximum: 50 });
  await send(1);
  await until(() => commits.length === 1, 10_000, 'the first burst');
  await Promise.all(Array.from({ length: 80 }, (_, i) => send(i + 2)));
  // The first commit is held, so nothing is acknowledged: the broker sends only as far as the session allows.
  await until(() => received.length === 50, 10_000, `50 in flight (got ${received.length})`);
  await sleep(300);
  assert.equal(received.length, 50, 'and no more until PUBACKs leave');
  auto.mode = 'resolve';
  for (const c of commits) c.resolve();
  await until(() => received.length === 81, 10_000, `the rest once the commits resolved (got ${received.length})`);
});

test('a stop logs no lost connection; a broker that goes away does', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const broker = await TestBroker.start();
  const stopBroker = release('broker', () => broker.stop());
  const session = (log: Logger): Subscriber =>
    new Subscriber({ url: broker.url, client: { clientId: uniqueName('collector') }, protocolVersion: 5, sessionExpirySeconds: 60, backoff: { initialMs: 100, maxMs: 200, jitter: 0 }, log, onMessage: () => undefined });
  const stopped = logLines();
  const a = session(stopped.log);
  a.start();
  const stopA = release('subscriber a', () => a.stop());
  await until(() => a.connected, 10_000, 'a subscribed');
  await stopA();
  assert.equal(a.connected, false);
  assert.deepEqual(stopped.lines.filter((l) => l.level >= LEVEL.warn), [], 'a clean stop warns of nothing');
  const dropped = logLines();
  const b = session(dropped.log);
  b.start();
  release('subscriber b', () => b.stop());
  await until(() => b.connected, 10_000, 'b subscribed');
  await stopBroker();
  await until(() => dropped.lines.some((l) => l.level === LEVEL.warn && l.msg === 'lost the broker connection; reconnecting'), 10_000, 'the warning');
});

test('a stop while a burst commits: it waits for the commit, and a refused commit is re-delivered to the next session', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const clientId = uniqueName('collector');
  const received: number[] = [];
  const commits: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const session = (commit: () => Promise<void>): Subscriber =>
    new Subscriber({
      url: broker.url,
      client: { clientId },
      protocolVersion: 5,
      sessionExpirySeconds: 60,
      backoff: { initialMs: 100, maxMs: 200, jitter: 0 },
      log: silentLogger,
      onMessage: (_topic, payload) => void received.push((JSON.parse(payload.toString()) as { seq: number }).seq),
      batch: { begin: () => undefined, commit },
    });
  const first = session(() => new Promise<void>((resolve, reject) => commits.push({ resolve, reject })));
  first.start();
  release('first session', () => first.stop());
  release('held commits', () => commits.forEach((c) => c.resolve())); // runs first: a failed assertion leaves no stop waiting
  await until(() => first.connected, 10_000, 'subscribed');
  const dev = await connectAsync(broker.url, { clientId: uniqueName('device') });
  release('device', () => dev.endAsync());
  await dev.publishAsync(summaryTopic('s', uniqueName('d'), 'c'), JSON.stringify({ seq: 1 }), { qos: 1 });
  await until(() => commits.length === 1, 10_000, 'the burst to commit');
  let stopped = false;
  const stopping = first.stop().then(() => (stopped = true));
  await sleep(300);
  assert.equal(stopped, false, 'the stop waits for the commit in flight');
  commits[0]!.reject(new Error('the disk is full'));
  await stopping;
  const second = session(() => Promise.resolve());
  second.start();
  release('second session', () => second.stop());
  await until(() => received.length === 2, 10_000, 'seq 1 again: its PUBACK never left');
  assert.deepEqual(received, [1, 1]);
});

test('a connection destroyed mid-burst (a refused commit does that): what mqtt.js still hands over from it is not taken, and comes again', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  /** The seqs taken, per connection, in order. */
  const byConnection: number[][] = [];
  let last: unknown;
  const sub: Subscriber = session(broker.url, (seq) => {
    const stream = sub.mqtt!.stream;
    if (stream !== last) byConnection.push([]);
    last = stream;
    byConnection.at(-1)!.push(seq);
    // The first message of all: its connection goes, as a refused commit makes it go.
    if (byConnection.length === 1 && seq === 1) stream.destroy();
  });
  await startAndBurst(release, broker.url, sub);
  await until(() => byConnection.length >= 2 && [1, 2, 3, 4, 5].every((q) => byConnection.slice(1).flat().includes(q)), 20_000, 'every seq again on the next connection');
  assert.deepEqual(byConnection[0], [1], `taken from the destroyed connection: ${JSON.stringify(byConnection)}`);
});
