/**
 * The decode worker, a real worker thread: every kind of message gets the verdict and the words the
 * inline path gives it (decode.ts runs on both sides), a decoded summary's fields come back exact,
 * bursts are answered in the order they were sent (one larger than the buffer grows it), and a
 * worker that dies refuses the bursts it held while the next burst starts a new one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecodeThread, DecodeWorkerError } from '../../../collector/ingest/decode-thread.js';
import { decode, DECODE_REASONS, SUMMARY_FIELDS } from '../../../collector/ingest/decode.js';
import { silentLogger } from '../../../lib/log.js';
import { SCHEMAS, SUMMARY_STATUSES, type SummaryMessage } from '../../../protocol/messages.js';
import { eventTopic, parseTopic, statusTopic, summaryTopic } from '../../../protocol/topics.js';
import { payload } from '../../../bench/fleet.js';
import { summaryMsg } from '../../helpers/collector.js';

const NOW = 1_790_000_000_000;
const SUMMARY = summaryTopic('s', 'd', 'c');

/** One of each: what the worker must decode as the inline path does. */
const MESSAGES: readonly [string, string][] = [
  [SUMMARY, JSON.stringify(summaryMsg('s', 'd', 'c', 7, { start: NOW - 60_000, end: NOW, status: 'warn' }))],
  [summaryTopic('s1', 'edge', 'cam3'), payload('s1', 'cam3', 123_456_789, 'alert')],
  [statusTopic('s', 'd'), JSON.stringify({ schema: SCHEMAS.status, site: 's', device: 'd', state: 'offline', ts: NOW })],
  [eventTopic('s', 'd', 'c'), JSON.stringify({ schema: SCHEMAS.event, site: 's', device: 'd', camera: 'c', seq: 3, ts: NOW, kind: 'stalled', message: 'no frames for 30 s' })],
  [SUMMARY, '{"seq":'],
  [SUMMARY, `${'['.repeat(40)}${']'.repeat(40)}`],
  [SUMMARY, JSON.stringify({ ...summaryMsg('s', 'd', 'c', 8), frames: -1 })],
  [SUMMARY, JSON.stringify({ ...summaryMsg('s', 'd', 'c', 10), frames: 3_000_000_000 })],
  // U+0000 in a string or a key (PostgreSQL's JSONB cannot hold it): refused; the six characters \u0000 as text: taken.
  [SUMMARY, JSON.stringify({ ...summaryMsg('s', 'd', 'c', 11), model: { name: 'line\u0000detector', sha256: 'a'.repeat(64) } })],
  [SUMMARY, JSON.stringify({ ...summaryMsg('s', 'd', 'c', 12), classCounts: { 'good\u0000': 1 } })],
  [SUMMARY, JSON.stringify({ ...summaryMsg('s', 'd', 'c', 13), model: { name: 'line\\u0000detector', sha256: 'a'.repeat(64) } })],
  [eventTopic('s', 'd', 'c'), JSON.stringify({ schema: SCHEMAS.event, site: 's', device: 'd', camera: 'c', seq: 4, ts: NOW, kind: 'stalled', message: 'no frames\u0000' })],
  [SUMMARY, JSON.stringify(summaryMsg('s', 'other', 'c', 9))],
  [SUMMARY, '[1,2]'],
  [SUMMARY, `{"schema":"${SCHEMAS.summary}","site":"s","note":"caf\u00e9 \ud83d\ude00"}`],
];

test('the worker gives every message the inline verdict and words; a decoded summary its exact fields', async (t) => {
  const thread = await DecodeThread.start(silentLogger);
  t.after(() => thread.close());
  for (const [topic, text] of MESSAGES) thread.add(parseTopic(topic)!.kind, topic, Buffer.from(text));
  assert.equal(thread.queued, MESSAGES.length);
  const r = await thread.decode();
  assert.equal(thread.queued, 0, 'a new burst begins');
  const details = new Map(r.details);
  const messages = new Map(r.messages);
  MESSAGES.forEach(([topic, text], i) => {
    const t = parseTopic(topic)!;
    const inline = decode(t, Buffer.from(text));
    if (!inline.ok) {
      assert.equal(r.codes[i], DECODE_REASONS.indexOf(inline.reason) + 1, `entry ${i}: ${inline.reason}`);
      assert.equal(details.get(i), inline.detail, `entry ${i}: the same words`);
      return;
    }
    assert.equal(r.codes[i], 0, `entry ${i} decoded`);
    if (t.kind !== 'summary') {
      assert.deepEqual(messages.get(i), inline.message);
      return;
    }
    const m = inline.message as SummaryMessage;
    const f = r.fields.subarray(i * SUMMARY_FIELDS.length, (i + 1) * SUMMARY_FIELDS.length);
    assert.deepEqual([...f], [m.seq, m.start, m.end, m.frames, SUMMARY_STATUSES.indexOf(m.status)], `entry ${i}: ${SUMMARY_FIELDS.join(', ')}`);
  });
  assert.deepEqual(
    [...r.codes].map((c) => (c === 0 ? 'ok' : DECODE_REASONS[c - 1])),
    ['ok', 'ok', 'ok', 'ok', 'json', 'schema', 'schema', 'schema', 'schema', 'schema', 'ok', 'schema', 'identity', 'schema', 'schema'],
  );
  for (const i of [8, 9, 11]) assert.match(details.get(i) ?? '', /U\+0000/, `entry ${i}: refused for its NUL`);
});

test('bursts are answered in the order sent; a burst larger than the buffer grows it; decoding is timed on request', async (t) => {
  const thread = await DecodeThread.start(silentLogger);
  t.after(() => thread.close());
  const sizes = [3, 400, 1]; // 400 full-size summaries: about 1.8 MB, past the first buffer's 1 MB
  const replies = sizes.map((n, b) => {
    for (let i = 0; i < n; i++) thread.add('summary', summaryTopic('s1', 'edge', `cam${b}`), Buffer.from(payload('s1', `cam${b}`, 1000 * b + i + 1)));
    return thread.decode(b === 1);
  });
  const got = await Promise.all(replies);
  assert.deepEqual(
    got.map((r) => r.codes.length),
    sizes,
  );
  got.forEach((r, b) => {
    assert.ok(r.codes.every((c) => c === 0));
    for (let i = 0; i < sizes[b]!; i++) assert.equal(r.fields[i * SUMMARY_FIELDS.length], 1000 * b + i + 1, `burst ${b}, entry ${i}: its own seq, in order`);
  });
  assert.ok(got[1]!.parseMs > 0, 'timed when asked');
  assert.equal(got[1]!.fast, 400, 'every one of these summaries took the fast path');
  assert.equal(got[0]!.parseMs, 0, 'not timed unless asked');
});

test('a worker that dies refuses the bursts it held; the next burst starts a new one', async (t) => {
  const thread = await DecodeThread.start(silentLogger);
  t.after(() => thread.close());
  thread.add('summary', SUMMARY, Buffer.from(JSON.stringify(summaryMsg('s', 'd', 'c', 1))));
  const held = thread.decode();
  await thread.terminateForTest();
  await assert.rejects(held, (e: Error) => e instanceof DecodeWorkerError && /exited/.test(e.message));
  thread.add('summary', SUMMARY, Buffer.from(JSON.stringify(summaryMsg('s', 'd', 'c', 2))));
  const r = await thread.decode();
  assert.equal(r.codes[0], 0);
  assert.equal(r.fields[0], 2);
  assert.equal(thread.restarts, 1);
});

test('a worker ended for the tests with its answer already posted, unread: the burst is refused all the same', async (t) => {
  // The crash the tests above model must not depend on the worker being slower than the test: a
  // quick worker used to answer first, and the tests then waited for an exit nothing waited for.
  const thread = await DecodeThread.start(silentLogger);
  t.after(() => thread.close());
  thread.add('summary', SUMMARY, Buffer.from(JSON.stringify(summaryMsg('s', 'd', 'c', 1))));
  const held = thread.decode();
  const until = Date.now() + 300;
  while (Date.now() < until); // the worker answers meanwhile; its answer waits to be read
  await thread.terminateForTest();
  await assert.rejects(held, (e: Error) => e instanceof DecodeWorkerError && /exited/.test(e.message));
});

test('a closed decode thread refuses at once', async () => {
  const thread = await DecodeThread.start(silentLogger);
  await thread.close();
  thread.add('summary', SUMMARY, Buffer.from('{}'));
  await assert.rejects(thread.decode(), DecodeWorkerError);
});

test('a worker that does not answer a burst in time is taken for hung: the burst is refused, the next starts a new worker', async (t) => {
  // 2,000 full-size summaries take the worker tens of ms; the limit here is 1 ms.
  const thread = await DecodeThread.start(silentLogger, { burstTimeoutMs: 1 });
  t.after(() => thread.close());
  for (let i = 0; i < 2000; i++) thread.add('summary', summaryTopic('s1', 'edge', 'cam0'), Buffer.from(payload('s1', 'cam0', i + 1)));
  await assert.rejects(thread.decode(), (e: Error) => e instanceof DecodeWorkerError && /did not answer a burst within 0.001 s/.test(e.message));
  const quick = await DecodeThread.start(silentLogger);
  t.after(() => quick.close());
  quick.add('summary', SUMMARY, Buffer.from(JSON.stringify(summaryMsg('s', 'd', 'c', 1))));
  assert.equal((await quick.decode()).codes[0], 0);
  thread.add('summary', SUMMARY, Buffer.from(JSON.stringify(summaryMsg('s', 'd', 'c', 2))));
  await assert.rejects(thread.decode(), /did not answer/, 'still 1 ms: refused again, by a new worker');
  assert.equal(thread.restarts, 1, 'a new worker for the next burst');
});

test('a JavaScript thread blocked past the burst limit does not take a worker that has answered for hung', async (t) => {
  const thread = await DecodeThread.start(silentLogger, { burstTimeoutMs: 50 });
  t.after(() => thread.close());
  thread.add('summary', SUMMARY, Buffer.from(JSON.stringify(summaryMsg('s', 'd', 'c', 1))));
  const answer = thread.decode();
  // Blocked in the check phase: the next turn of the event loop runs the expired burst timer before
  // it reads the worker's answer, which arrived meanwhile.
  await new Promise<void>((resolve) =>
    setImmediate(() => {
      const until = Date.now() + 300;
      while (Date.now() < until);
      resolve();
    }),
  );
  assert.equal((await answer).codes[0], 0);
  assert.equal(thread.restarts, 0);
});
