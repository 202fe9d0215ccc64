/**
 * Ingest with handlers that answer later (an asynchronous store) and with SQLite's, which answer at
 * once: the counters move when a handler settles, a rule's failure is contained either way, a store's
 * failure propagates either way, and the synchronous path hands back a plain outcome. Stage timing
 * (the bench's table) adds up what each stage took, and only once started.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { handlers } from '../../../collector/ingest/handlers.js';
import { Ingest, RuleFailure, STAGES, type Handled, type Handlers } from '../../../collector/ingest/ingest.js';
import { RuleEngine } from '../../../collector/rules/engine.js';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import { silentLogger } from '../../../lib/log.js';
import { SCHEMAS } from '../../../protocol/messages.js';
import { eventTopic, statusTopic, summaryTopic } from '../../../protocol/topics.js';
import { summaryMsg } from '../../helpers/collector.js';

const NOW = 1_790_000_000_000;
const summary = (seq: number): Buffer => Buffer.from(JSON.stringify(summaryMsg('s', 'd', 'c', seq, { start: NOW - 60_000, end: NOW })));
const event = (seq: number): Buffer => Buffer.from(JSON.stringify({ schema: SCHEMAS.event, site: 's', device: 'd', camera: 'c', seq, ts: NOW, kind: 'stalled', message: 'x' }));

/** Handlers whose answers the test gives later, in the order the messages came. */
function later(): { h: Handlers; answer: (a: Handled | Error) => void; waiting: () => number } {
  const queue: { resolve: (h: Handled) => void; reject: (e: Error) => void }[] = [];
  const wait = (): Promise<Handled> => new Promise((resolve, reject) => queue.push({ resolve, reject }));
  return {
    h: { status: () => undefined, summary: wait, event: wait },
    answer: (a) => {
      const next = queue.shift()!;
      if (a instanceof Error) next.reject(a);
      else next.resolve(a);
    },
    waiting: () => queue.length,
  };
}

test('asynchronous handlers: the outcome is a promise, and the counters move when it settles', async () => {
  const { h, answer } = later();
  const ingest = new Ingest(h, { maxPayloadBytes: 1 << 20, log: silentLogger, now: () => NOW });
  const outcomes = [summary(1), summary(2), summary(3), event(1)].map((p, i) => ingest.handle(i < 3 ? summaryTopic('s', 'd', 'c') : eventTopic('s', 'd', 'c'), p));
  for (const o of outcomes) assert.ok(o instanceof Promise, 'a promise, not an outcome');
  assert.equal(ingest.counters.received, 4);
  assert.equal(ingest.counters.accepted.summary, 0, 'nothing counted before the store answers');
  answer('stored');
  answer('duplicate');
  answer('quarantined');
  answer('stored');
  assert.deepEqual(await Promise.all(outcomes), ['accepted', 'duplicate', 'quarantined', 'accepted']);
  assert.equal(ingest.counters.accepted.summary, 1);
  assert.equal(ingest.counters.duplicates.summary, 1);
  assert.equal(ingest.counters.quarantined, 1);
  assert.equal(ingest.counters.accepted.event, 1);
  // Malformed input is refused at once, with the same reasons, whatever the handlers.
  assert.equal(ingest.handle(summaryTopic('s', 'd', 'c'), Buffer.from('{"seq":')), 'json');
  assert.equal(ingest.handle(summaryTopic('s', 'd', 'c'), Buffer.from(`${'['.repeat(40)}${']'.repeat(40)}`)), 'schema');
  assert.equal(ingest.handle(summaryTopic('s', 'd', 'c'), Buffer.from(`${'['.repeat(40)}{"unterminated`)), 'schema', 'too deep comes before not JSON, as it always did');
  assert.equal(ingest.handle('driftline/v1/s/d/c/nonsense', summary(4)), 'topic');
  assert.equal(ingest.handle(summaryTopic('s', 'other', 'c'), summary(4)), 'identity');
});

test('asynchronous handlers: a rule that failed is contained; a store that failed rejects, counted as failed', async () => {
  const { h, answer } = later();
  const ingest = new Ingest(h, { maxPayloadBytes: 1 << 20, log: silentLogger, now: () => NOW });
  const ruled = ingest.handle(summaryTopic('s', 'd', 'c'), summary(1));
  const refused = ingest.handle(summaryTopic('s', 'd', 'c'), summary(2));
  answer(new RuleFailure(new TypeError('x is undefined')));
  answer(new Error('the database is gone'));
  assert.equal(await ruled, 'accepted', 'stored, and the rule failure did not escape');
  await assert.rejects(refused as Promise<unknown>, /the database is gone/, 'the message must come again');
  assert.equal(ingest.counters.ruleErrors, 1);
  assert.equal(ingest.counters.failed, 1);
  assert.equal(ingest.counters.accepted.summary, 1);
});

test("SQLite's handlers answer at once: a plain outcome, no promise; stage timing adds up only once started", async (t) => {
  const store = new SqliteStore(join(await mkdtemp(join(tmpdir(), 'driftline-ingest-')), 'c.db'));
  t.after(() => store.close());
  const rules = new RuleEngine(store, { driftForMs: 300_000, driftClearMs: 600_000, driftMinSeverity: 'warn', offlineSilenceMs: 3_600_000, stalledWindows: 3, modelChangedHoldMs: 60_000, resendMs: 60_000, runbookUrl: 'r' }, () => undefined);
  const ingest = new Ingest(handlers(store, rules, silentLogger, { count: 0 }), { maxPayloadBytes: 1 << 20, log: silentLogger, now: () => NOW });
  const birth = { schema: SCHEMAS.status, site: 's', device: 'd', state: 'online', ts: NOW, agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60 };
  assert.equal(ingest.handle(statusTopic('s', 'd'), Buffer.from(JSON.stringify(birth))), 'accepted');
  assert.equal(ingest.handle(summaryTopic('s', 'd', 'c'), summary(1)), 'accepted');
  const stages = ingest.startTiming();
  assert.equal(ingest.startTiming(), stages, 'started once');
  assert.deepEqual({ ...stages }, { messages: 0, fast: 0, parse: 0, validate: 0, dedupe: 0, store: 0, rules: 0 }, 'nothing before it started');
  for (let seq = 2; seq <= 21; seq++) assert.equal(ingest.handle(summaryTopic('s', 'd', 'c'), summary(seq)), 'accepted');
  assert.equal(ingest.handle(summaryTopic('s', 'd', 'c'), summary(5)), 'duplicate');
  assert.equal(stages.messages, 21);
  for (const s of STAGES) assert.ok(stages[s] > 0, `${s} took some time`);
  assert.equal(store.lastSeq('s', 'd', 'c'), 21);
  assert.equal(store.device('s', 'd')!.lastSeen, NOW, 'the device was seen at the last summary');
});
