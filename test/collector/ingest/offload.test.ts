/**
 * Ingest through the decode worker (OffloadedIngest), against the inline path, both on a real
 * SQLite store with the real handlers and rules: the same messages give the same counters, the same
 * stored rows in the same order, and the same alert with the same evidence (read from the summary's
 * body, parsed on the receiving thread only when the rules ask for it). A new epoch's shifted copy is
 * stored whole. A store that refuses a message, or a worker that dies, makes the burst's commit
 * reject (the subscriber then leaves its PUBACKs unsent); a burst whose messages another session's
 * commit took waits for that commit.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { DecodeThread } from '../../../collector/ingest/decode-thread.js';
import { handlers } from '../../../collector/ingest/handlers.js';
import { Ingest, type Handlers } from '../../../collector/ingest/ingest.js';
import { OffloadedIngest, StaleBurst } from '../../../collector/ingest/offload.js';
import { RuleEngine, type RuleSettings } from '../../../collector/rules/engine.js';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import type { AlertRecord } from '../../../collector/store/store.js';
import { silentLogger } from '../../../lib/log.js';
import { SCHEMAS } from '../../../protocol/messages.js';
import { eventTopic, statusTopic, summaryTopic } from '../../../protocol/topics.js';
import { payload } from '../../../bench/fleet.js';
import { SHA, summaryMsg } from '../../helpers/collector.js';

const NOW = 1_790_000_000_000;
const SETTINGS: RuleSettings = { driftForMs: 0, driftClearMs: 600_000, driftMinSeverity: 'warn', offlineSilenceMs: 3_600_000, stalledWindows: 3, modelChangedHoldMs: 60_000, resendMs: 60_000, runbookUrl: 'r' };
const birth = (epoch: string): string => JSON.stringify({ schema: SCHEMAS.status, site: 's', device: 'd', state: 'online', ts: NOW, agent: { version: '1' }, model: { name: 'm', sha256: SHA }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60, epoch });
const sum = (seq: number, o: Parameters<typeof summaryMsg>[4] = {}): string => JSON.stringify(summaryMsg('s', 'd', 'c', seq, { start: NOW - 120_000 + seq, end: NOW - 60_000 + seq, ...o }));

/** A stream with every path: births, summaries in and out of order, duplicates, a drift, refusals, an event, a new epoch. */
const STREAM: readonly [string, string][] = [
  [statusTopic('s', 'd'), birth('e1')],
  ...[1, 2, 3].map((q): [string, string] => [summaryTopic('s', 'd', 'c'), sum(q)]),
  [summaryTopic('s', 'd', 'c'), sum(2)],
  [summaryTopic('s', 'd', 'c'), sum(4, { status: 'alert', drivers: [{ key: 'psi:brightness', value: 0.9, warn: 0.2, alert: 0.4, level: 'alert' }] })],
  [summaryTopic('s', 'd', 'c'), '{"seq":'],
  [summaryTopic('s', 'd', 'c'), JSON.stringify(summaryMsg('s', 'x', 'c', 5))],
  [summaryTopic('s', 'd', 'c'), sum(5, { end: NOW + 3_600_000 })],
  [eventTopic('s', 'd', 'c'), JSON.stringify({ schema: SCHEMAS.event, site: 's', device: 'd', camera: 'c', seq: 1, ts: NOW, kind: 'stalled', message: 'x' })],
  [eventTopic('s', 'd', 'c'), JSON.stringify({ schema: SCHEMAS.event, site: 's', device: 'd', camera: 'c', seq: 2, ts: NOW + 3_600_000, kind: 'stalled', message: 'x' })],
  [summaryTopic('s1', 'edge', 'cam0'), payload('s1', 'cam0', 1)],
  [statusTopic('s', 'd'), birth('e2')],
  [summaryTopic('s', 'd', 'c'), sum(1, { status: 'alert', drivers: [{ key: 'psi:contrast', value: 0.8, warn: 0.2, alert: 0.4, level: 'alert' }] })],
];

interface Rig {
  readonly store: SqliteStore;
  readonly ingest: Ingest;
  readonly fired: AlertRecord[];
}

async function rig(t: TestContext, wrap: (h: Handlers) => Handlers = (h) => h): Promise<Rig> {
  const store = new SqliteStore(join(await mkdtemp(join(tmpdir(), 'driftline-offload-')), 'c.db'));
  t.after(() => store.close());
  const fired: AlertRecord[] = [];
  const rules = new RuleEngine(store, SETTINGS, (a, change) => change !== 'resend' && fired.push(structuredClone(a)));
  const ingest = new Ingest(wrap(handlers(store, rules, silentLogger, { count: 0 })), { maxPayloadBytes: 1 << 20, log: silentLogger, now: () => NOW });
  return { store, ingest, fired };
}

/** Handlers whose store refuses summary `seq` (a full disk) while `disk.failing`. */
const refusing =
  (seq: number, disk = { failing: true }) =>
  (h: Handlers): Handlers => ({
    ...h,
    summary(m, now, raw, late) {
      if (disk.failing && m.seq === seq) throw new Error('disk I/O error');
      return h.summary(m, now, raw, late);
    },
  });

async function thread(t: TestContext): Promise<DecodeThread> {
  const d = await DecodeThread.start(silentLogger);
  t.after(() => d.close());
  return d;
}

const storeBatch = (s: SqliteStore): { begin(): void; commit(): void } => ({ begin: () => s.beginBatch(), commit: () => s.commitBatch() });

function rows(store: SqliteStore): unknown[] {
  store.flush();
  const db = new Database(store.file, { readonly: true });
  try {
    return [
      db.prepare('SELECT site, device, camera, seq, start_ts, end_ts, status, frames, received_ts, payload FROM summaries ORDER BY rowid').all(),
      db.prepare('SELECT site, device, camera, seq, reason, payload FROM quarantine ORDER BY rowid').all(),
      db.prepare('SELECT site, device, camera, seq, kind, payload FROM events ORDER BY rowid').all(),
      db.prepare('SELECT site, device, camera, last_seq, last_status FROM cameras ORDER BY site, device, camera').all(),
    ];
  } finally {
    db.close();
  }
}

/** The alert without the fields that name the moment it was written. */
const comparable = (a: AlertRecord): unknown => ({ ...a, id: undefined, updatedAt: undefined });

test('through the worker: the counters, stored rows, order and alerts of the inline path; bursts split anywhere', async (t) => {
  const inline = await rig(t);
  for (const [topic, text] of STREAM) inline.ingest.handle(topic, Buffer.from(text));

  for (const split of [STREAM.length, 4, 1]) {
    const off = await rig(t);
    const o = new OffloadedIngest(off.ingest, await thread(t), storeBatch(off.store));
    for (let i = 0; i < STREAM.length; i += split) {
      for (const [topic, text] of STREAM.slice(i, i + split)) o.receive(topic, Buffer.from(text));
      await o.batch.commit();
    }
    assert.deepEqual(off.ingest.counters, inline.ingest.counters, `bursts of ${split}: the same counters`);
    assert.deepEqual(rows(off.store), rows(inline.store), `bursts of ${split}: the same rows in the same order`);
    assert.deepEqual(
      off.fired.map((a) => `${a.rule} ${a.state}`),
      ['drift firing', 'cameraStalled firing', 'cameraStalled resolved'],
      'the drift fires (its update after the new epoch is no change), the stalled camera fires and resolves',
    );
    assert.deepEqual(off.fired.map(comparable), inline.fired.map(comparable), 'the same alerts, evidence and all');
  }
  assert.equal(inline.ingest.counters.rejected.json + inline.ingest.counters.rejected.identity + inline.ingest.counters.rejected.time, 3, 'the stream has its refusals');
  assert.equal(inline.ingest.counters.quarantined, 1);
  const shifted = (rows(inline.store)[0] as { seq: number; payload: string }[]).at(-1)!;
  assert.equal(shifted.seq, 5, "after the new epoch, seq 1 is stored after the camera's last (4)");
  assert.equal(JSON.parse(shifted.payload).drivers[0].key, 'psi:contrast', 'the shifted copy is the whole summary');
});

test("a store that refuses a message: the burst's commit rejects, and what it stored before is committed", async (t) => {
  const r = await rig(t, refusing(3));
  const o = new OffloadedIngest(r.ingest, await thread(t), storeBatch(r.store));
  for (const q of [1, 2, 3, 4]) o.receive(summaryTopic('s', 'd', 'c'), Buffer.from(sum(q)));
  await assert.rejects(Promise.resolve(o.batch.commit()), /disk I\/O error/);
  assert.equal(r.store.lastSeq('s', 'd', 'c'), 2, 'seq 1 and 2 committed; 3 and 4 come again');
  assert.equal(r.ingest.counters.failed, 1);
  o.receive(summaryTopic('s', 'd', 'c'), Buffer.from(sum(4)));
  await o.batch.commit();
  assert.equal(r.store.lastSeq('s', 'd', 'c'), 4, 'the next burst stores');
});

test("a worker that dies: its burst's commit rejects and stores nothing; the next burst is decoded by a new one", async (t) => {
  const r = await rig(t);
  const d = await thread(t);
  const o = new OffloadedIngest(r.ingest, d, storeBatch(r.store));
  o.receive(summaryTopic('s', 'd', 'c'), Buffer.from(sum(1)));
  const lost = o.batch.commit();
  await d.terminateForTest();
  await assert.rejects(Promise.resolve(lost), /decode worker exited/);
  assert.equal(r.store.lastSeq('s', 'd', 'c'), 0);
  o.receive(summaryTopic('s', 'd', 'c'), Buffer.from(sum(1)));
  await o.batch.commit();
  assert.equal(r.store.lastSeq('s', 'd', 'c'), 1, 'delivered again, stored');
});

test("a session whose messages another session's commit took waits for that commit; none in flight: nothing to wait for", async (t) => {
  const r = await rig(t);
  const o = new OffloadedIngest(r.ingest, await thread(t), storeBatch(r.store));
  assert.equal(o.batch.commit(), undefined, 'nothing received, nothing to wait for');
  o.receive(summaryTopic('s', 'd', 'c'), Buffer.from(sum(1)));
  o.receive(summaryTopic('s', 'd', 'c'), Buffer.from(sum(2)));
  const first = o.batch.commit();
  const second = o.batch.commit();
  assert.ok(first instanceof Promise);
  assert.equal(second, first, 'the second session waits for the commit that took its message');
  await first;
  assert.equal(r.store.lastSeq('s', 'd', 'c'), 2);
  assert.equal(o.batch.commit(), undefined, 'settled: nothing to wait for');
});

test('a burst past the worker buffer limit: the rest is decoded on the receiving thread, in its turn', async (t) => {
  const inline = await rig(t);
  const off = await rig(t);
  const d = await DecodeThread.start(silentLogger, { maxBurstBytes: 20_000 }); // four full-size summaries
  t.after(() => d.close());
  const o = new OffloadedIngest(off.ingest, d, storeBatch(off.store));
  const burst: [string, string][] = [
    ...Array.from({ length: 10 }, (_, i): [string, string] => [summaryTopic('s1', 'edge', 'cam0'), payload('s1', 'cam0', i + 1)]),
    [summaryTopic('s1', 'edge', 'cam0'), '{"seq":'],
    [summaryTopic('s1', 'edge', 'cam0'), payload('s1', 'cam0', 11, 'alert')],
  ];
  for (const [topic, text] of burst) {
    inline.ingest.handle(topic, Buffer.from(text));
    o.receive(topic, Buffer.from(text));
  }
  assert.ok(d.queued < burst.length, `the worker got ${d.queued} of ${burst.length}`);
  await o.batch.commit();
  assert.deepEqual(off.ingest.counters, inline.ingest.counters);
  assert.deepEqual(rows(off.store), rows(inline.store), 'the same rows in the same order');
  assert.equal(off.store.lastSeq('s1', 'edge', 'cam0'), 11);
  // The next burst starts empty: the worker gets its share again.
  o.receive(summaryTopic('s1', 'edge', 'cam0'), Buffer.from(payload('s1', 'cam0', 12)));
  assert.equal(d.queued, 1);
  await o.batch.commit();
  assert.equal(off.store.lastSeq('s1', 'edge', 'cam0'), 12);
});

test('bursts received before a refused one are refused unapplied: redelivered, the camera is stored in order with no seq lost', async (t) => {
  const disk = { failing: true };
  const r = await rig(t, refusing(3, disk));
  const o = new OffloadedIngest(r.ingest, await thread(t), storeBatch(r.store));
  for (const q of [1, 2, 3, 4]) o.receive(summaryTopic('s', 'd', 'c'), Buffer.from(sum(q)));
  const first = o.batch.commit()!;
  o.receive(summaryTopic('s', 'd', 'c'), Buffer.from(sum(5)));
  const second = o.batch.commit()!; // in flight with the first: received before its refusal was known
  const [a, b] = await Promise.allSettled([first, second]);
  assert.equal(a.status, 'rejected');
  assert.ok(b.status === 'rejected' && b.reason instanceof StaleBurst, 'the later burst is refused too');
  assert.equal(r.store.lastSeq('s', 'd', 'c'), 2, 'seq 5 was not stored ahead of 3 and 4');
  // The broker delivers everything unacknowledged again, on the next connection.
  disk.failing = false;
  for (const q of [3, 4, 5]) o.receive(summaryTopic('s', 'd', 'c'), Buffer.from(sum(q)));
  await o.batch.commit();
  assert.deepEqual(
    r.store.summaries('s', 'd', 'c').map((s) => s.seq),
    [1, 2, 3, 4, 5],
  );
  assert.equal(r.ingest.counters.duplicates.summary, 0, 'none taken for a duplicate');
});

test('a worker that dies: the burst still being received is refused too, and the next one is stored', async (t) => {
  const r = await rig(t);
  const d = await thread(t);
  const o = new OffloadedIngest(r.ingest, d, storeBatch(r.store));
  for (const q of [1, 2]) o.receive(summaryTopic('s', 'd', 'c'), Buffer.from(sum(q)));
  const lost = o.batch.commit()!;
  o.receive(summaryTopic('s', 'd', 'c'), Buffer.from(sum(3))); // arrives before the death is known
  await d.terminateForTest();
  await assert.rejects(lost, /decode worker exited/);
  await assert.rejects(Promise.resolve(o.batch.commit()), StaleBurst);
  assert.equal(r.store.lastSeq('s', 'd', 'c'), 0);
  for (const q of [1, 2, 3]) o.receive(summaryTopic('s', 'd', 'c'), Buffer.from(sum(q)));
  await o.batch.commit();
  assert.deepEqual(
    r.store.summaries('s', 'd', 'c').map((s) => s.seq),
    [1, 2, 3],
  );
});

test('a burst received on a live second connection after a refusal is refused too, when a stale burst ahead of it is', async (t) => {
  // The broker dropped C1 while its burst N was in flight, and the client reconnected as C2. C2's
  // burst M (the redelivered 1 and 2, and 3) was received before N's refusal; seq 4 arrives on C2 after it.
  const disk = { failing: true };
  const r = await rig(t, refusing(2, disk));
  const o = new OffloadedIngest(r.ingest, await thread(t), storeBatch(r.store));
  const T = summaryTopic('s', 'd', 'c');
  for (const q of [1, 2]) o.receive(T, Buffer.from(sum(q)));
  const n = o.batch.commit()!;
  for (const q of [1, 2, 3]) o.receive(T, Buffer.from(sum(q)));
  const m = o.batch.commit()!;
  let later: Promise<void> | undefined;
  // At N's refusal (before M's answer), C2 is still up and delivers seq 4.
  const refusedN = n.then(
    () => 'stored',
    () => {
      o.receive(T, Buffer.from(sum(4)));
      later = o.batch.commit()!;
      return 'refused';
    },
  );
  const [nr, mr] = await Promise.allSettled([refusedN, m]);
  assert.deepEqual(nr, { status: 'fulfilled', value: 'refused' });
  assert.ok(mr.status === 'rejected' && mr.reason instanceof StaleBurst);
  await assert.rejects(later!, StaleBurst, 'seq 4 is not stored ahead of the redelivered 2 and 3');
  assert.equal(r.store.lastSeq('s', 'd', 'c'), 1);
  disk.failing = false;
  for (const q of [2, 3, 4]) o.receive(T, Buffer.from(sum(q))); // the broker delivers again on C3
  await o.batch.commit();
  assert.deepEqual(
    r.store.summaries('s', 'd', 'c').map((s) => s.seq),
    [1, 2, 3, 4],
  );
  assert.equal(r.ingest.counters.duplicates.summary, 0);
});
