/**
 * Issue 11, finding 5: sequence numbers and times were trusted too much. One message with a seq jump
 * of 10^9 raised seq_gaps_total by 999,999,999; seqs going backwards were stored; a warn window that
 * claimed to start 400 s ago skipped the 300 s drift hold; end < start and an end in the year 275760
 * were accepted. Through the real ingest, store and rules, on a clock the test sets.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { handlers } from '../../../collector/ingest/handlers.js';
import { Ingest } from '../../../collector/ingest/ingest.js';
import { RuleEngine, type RuleSettings } from '../../../collector/rules/engine.js';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import type { AlertRecord } from '../../../collector/store/store.js';
import { silentLogger } from '../../../lib/log.js';
import { SCHEMAS, type SummaryMessage } from '../../../protocol/messages.js';
import { eventTopic, statusTopic, summaryTopic } from '../../../protocol/topics.js';
import { SHA, summaryMsg } from '../../helpers/collector.js';

const SETTINGS: RuleSettings = { driftForMs: 300_000, driftClearMs: 600_000, driftMinSeverity: 'warn', offlineSilenceMs: 3_600_000, stalledWindows: 3, modelChangedHoldMs: 60_000, resendMs: 60_000, runbookUrl: 'r' };
const WARN = [{ key: 'psi:brightness', value: 0.5, warn: 0.1, alert: 0.25, level: 'warn' as const }];

async function collector(t: TestContext): Promise<{ ingest: Ingest; store: SqliteStore; gaps: { count: number }; fired: AlertRecord[]; clock: { now: number }; send: (m: SummaryMessage) => string }> {
  const store = new SqliteStore(join(await mkdtemp(join(tmpdir(), 'driftline-seq-')), 'c.db'));
  t.after(() => store.close());
  const fired: AlertRecord[] = [];
  const rules = new RuleEngine(store, SETTINGS, (a, change) => change === 'fire' && fired.push(a));
  const gaps = { count: 0 };
  const clock = { now: 1_790_000_000_000 };
  const ingest = new Ingest(handlers(store, rules, silentLogger, gaps), { maxPayloadBytes: 1 << 20, log: silentLogger, now: () => clock.now });
  const birth = { schema: SCHEMAS.status, site: 's', device: 'd', state: 'online', ts: clock.now, agent: { version: '1' }, model: { name: 'm', sha256: SHA }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60 };
  assert.equal(ingest.handle(statusTopic('s', 'd'), Buffer.from(JSON.stringify(birth))), 'accepted');
  // SQLite's handlers answer at once: the outcome, never a promise.
  const send = (m: SummaryMessage): string => ingest.handle(summaryTopic(m.site, m.device, m.camera), Buffer.from(JSON.stringify(m))) as string;
  return { ingest, store, gaps, fired, clock, send };
}

/** A window of camera s/d/c ending at the collector's clock (on time), `seq` and status as given. */
const onTime = (clock: { now: number }, seq: number, o: Partial<SummaryMessage> = {}): SummaryMessage => summaryMsg('s', 'd', 'c', seq, { start: clock.now - 60_000, end: clock.now, ...o });

test('a seq jump of 10^9 is quarantined, not counted as 999,999,999 missing, and not seen by the rules', async (t) => {
  const { ingest, store, gaps, fired, clock, send } = await collector(t);
  assert.equal(send(onTime(clock, 1)), 'accepted');
  clock.now += 60_000;
  const forged = onTime(clock, 1_000_000_001, { status: 'alert', drivers: [{ ...WARN[0]!, level: 'alert' }] });
  assert.equal(send(forged), 'quarantined');
  assert.equal(gaps.count, 0);
  assert.equal(ingest.counters.quarantined, 1);
  assert.equal(store.quarantineSize(), 1);
  assert.equal(store.lastSeq('s', 'd', 'c'), 1, 'the camera goes on from its real seq');
  assert.deepEqual(fired, [], 'a quarantined alert window raises nothing');
  assert.equal(send(onTime(clock, 2)), 'accepted', "the device's real next window is stored");
  assert.equal(send(forged), 'duplicate', 'the same forged message again is not counted twice');
  assert.equal(ingest.counters.quarantined, 1);
});

test('a device that really skipped ahead is released when it continues from the jump; a gap counts at most maxSeqJump', async (t) => {
  const { store, gaps, clock, send } = await collector(t);
  assert.equal(send(onTime(clock, 1)), 'accepted');
  clock.now += 60_000;
  assert.equal(send(onTime(clock, 5000)), 'accepted', 'within the jump: a gap');
  assert.equal(gaps.count, 4998);
  clock.now += 60_000;
  assert.equal(send(onTime(clock, 50_000)), 'quarantined');
  clock.now += 60_000;
  assert.equal(send(onTime(clock, 50_001)), 'accepted', 'it continues from the jump: both are released');
  assert.deepEqual(store.summaries('s', 'd', 'c').map((m) => m.seq), [1, 5000, 50_000, 50_001]);
  assert.equal(store.quarantineSize(), 0);
  assert.equal(gaps.count, 4998 + 10_000, 'the released gap is counted once, bounded by maxSeqJump');
});

test('a seq at or below the last stored is a duplicate, even when that seq was never stored', async (t) => {
  const { ingest, store, clock, send } = await collector(t);
  for (const seq of [1, 2, 5]) {
    assert.equal(send(onTime(clock, seq)), 'accepted');
    clock.now += 60_000;
  }
  assert.equal(send(onTime(clock, 3)), 'duplicate', 'backwards: not stored');
  assert.equal(send(onTime(clock, 5)), 'duplicate');
  assert.deepEqual(store.summaries('s', 'd', 'c').map((m) => m.seq), [1, 2, 5]);
  assert.equal(ingest.counters.duplicates.summary, 2);
});

test('window times: ordered and not ahead of the collector clock beyond the skew, or quarantined with the reason; old backlog windows are fine', async (t) => {
  const { ingest, store, clock, send } = await collector(t);
  assert.equal(send(onTime(clock, 1, { start: clock.now, end: clock.now - 1 })), 'quarantined', 'end < start');
  assert.equal(send(onTime(clock, 2, { end: 8.64e15 })), 'quarantined', 'an end in the year 275760');
  assert.equal(send(onTime(clock, 3, { start: clock.now + 200_000, end: clock.now + 260_000 })), 'accepted', 'within the 300 s skew');
  assert.equal(send(onTime(clock, 4, { start: clock.now - 86_400_000, end: clock.now - 86_340_000 })), 'accepted', 'a day old: a backlog after an outage');
  assert.equal(send(onTime(clock, 2, { end: 8.64e15 })), 'duplicate', 'a quarantined summary sent again is a repeat');
  assert.equal(ingest.counters.quarantined, 2, 'kept apart, with the reason, not dropped');
  assert.equal(ingest.counters.rejected.time, 0);
  assert.deepEqual(store.summaries('s', 'd', 'c').map((m) => m.seq), [3, 4], 'the rules never see them');
  assert.equal(store.quarantineSize(), 2);
  // A seq jump quarantined and then released takes only its own kind along: bad times stay apart.
  clock.now += 60_000;
  assert.equal(send(onTime(clock, 20_000)), 'quarantined', 'a seq jump');
  clock.now += 60_000;
  assert.equal(send(onTime(clock, 20_001)), 'accepted', 'continued: released');
  assert.deepEqual(store.summaries('s', 'd', 'c').map((m) => m.seq), [3, 4, 20_000, 20_001]);
  assert.equal(store.quarantineSize(), 2, 'the two with impossible times are still apart');
  // An event's time is checked too; events are not quarantined but rejected, and counted.
  const event = Buffer.from(JSON.stringify({ schema: SCHEMAS.event, site: 's', device: 'd', camera: 'c', seq: 1, ts: clock.now + 3_600_000, kind: 'stalled', message: 'x' }));
  assert.equal(ingest.handle(eventTopic('s', 'd', 'c'), event), 'time');
  assert.equal(ingest.counters.rejected.time, 1);
});

test('a warn window claiming to start 400 s ago does not skip the 300 s hold: holds run on the collector clock', async (t) => {
  const { fired, clock, send } = await collector(t);
  assert.equal(send(onTime(clock, 1, { status: 'warn', drivers: WARN, start: clock.now - 400_000 })), 'accepted');
  assert.deepEqual(fired, [], 'one window cannot complete a hold, whatever it claims');
  for (let seq = 2; seq <= 6; seq++) {
    clock.now += 60_000;
    send(onTime(clock, seq, { status: 'warn', drivers: WARN }));
    // The first window counts for at most one window length (60 s), so the hold completes after
    // 240 s more of the collector's clock: at the fifth window, not before.
    assert.equal(fired.length, seq >= 5 ? 1 : 0, `after window ${seq}`);
  }
});

test('a new epoch in the birth: the device starting again at 1 is stored after its old seqs, not dropped as repeats', async (t) => {
  const { ingest, store, clock, send } = await collector(t);
  const birth = (epoch: string): Buffer => Buffer.from(JSON.stringify({ schema: SCHEMAS.status, site: 's', device: 'd', state: 'online', ts: clock.now, agent: { version: '1' }, model: { name: 'm', sha256: SHA }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60, epoch }));
  const event = (seq: number): Buffer => Buffer.from(JSON.stringify({ schema: SCHEMAS.event, site: 's', device: 'd', camera: 'c', seq, ts: clock.now, kind: 'stalled', message: 'x' }));
  assert.equal(ingest.handle(statusTopic('s', 'd'), birth('aaaa')), 'accepted');
  for (let seq = 1; seq <= 3; seq++) {
    assert.equal(send(onTime(clock, seq)), 'accepted');
    clock.now += 60_000;
  }
  assert.equal(ingest.handle(eventTopic('s', 'd', 'c'), event(1)), 'accepted');
  assert.equal(ingest.handle(statusTopic('s', 'd'), birth('aaaa')), 'accepted', 'a reconnect: same epoch');
  assert.equal(send(onTime(clock, 1)), 'duplicate', 'same epoch: a lower seq is a repeat');
  assert.equal(ingest.handle(statusTopic('s', 'd'), birth('bbbb')), 'accepted', 'the device lost its database');
  assert.equal(send(onTime(clock, 1)), 'accepted');
  clock.now += 60_000;
  assert.equal(send(onTime(clock, 2)), 'accepted');
  assert.equal(send(onTime(clock, 2)), 'duplicate', 'a repeat within the new epoch');
  assert.equal(ingest.handle(eventTopic('s', 'd', 'c'), event(1)), 'accepted', 'events start again too');
  assert.deepEqual(store.summaries('s', 'd', 'c').map((m) => m.seq), [1, 2, 3, 4, 5]);
  // The offsets are in the database: a collector restarted on it goes on the same way.
  const again = new SqliteStore(store.file);
  t.after(() => again.close());
  assert.deepEqual(again.seqOffsets('s', 'd', 'c'), { summary: 3, event: 1 });
});
