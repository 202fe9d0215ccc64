/**
 * One suite of store cases, run against SQLite (sqlite-store.test.ts) and PostgreSQL
 * (postgres-store.test.ts): messages go in through each store's ingest handlers (the sequence rules
 * live in TypeScript for SQLite and in the database for PostgreSQL, and must agree), and come out
 * through the query interface the HTTP API uses.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Handled } from '../../../collector/ingest/ingest.js';
import type { AlertRecord, StoreQueries } from '../../../collector/store/store.js';
import { SCHEMAS, type EventMessage, type StatusMessage, type SummaryMessage } from '../../../protocol/messages.js';
import { SHA, summaryMsg } from '../../helpers/collector.js';

export const MAX_SEQ_JUMP = 100;

export interface Backend {
  readonly q: StoreQueries;
  /** Each call is one burst, committed before it resolves. */
  status(m: StatusMessage, at: number): Promise<void>;
  summary(m: SummaryMessage, at: number, timeProblem?: string): Promise<Handled>;
  event(e: EventMessage, at: number): Promise<Handled>;
  /** Several summaries in one burst (one transaction); their outcomes in order. */
  burst(ms: readonly SummaryMessage[], at: number): Promise<Handled[]>;
  saveAlert(a: AlertRecord): Promise<void>;
  readonly gaps: { count: number; late?: number };
  /**
   * A summary below its camera's last seq that is not stored yet: a repeat on SQLite (one collector
   * gets each camera's summaries in order), stored late on PostgreSQL (replicas split them).
   */
  readonly lateFills: boolean;
}

const birth = (site: string, device: string, at: number, epoch?: string): StatusMessage =>
  ({ schema: SCHEMAS.status, site, device, state: 'online', ts: at, agent: { version: '1' }, model: { name: 'm', sha256: SHA }, provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60, ...(epoch ? { epoch } : {}) }) as StatusMessage;
const event = (site: string, device: string, seq: number): EventMessage => ({ schema: SCHEMAS.event, site, device, camera: 'c', seq, ts: 1, kind: 'resumed', message: 'x' });
const seqs = async (b: Backend, site: string, device: string, camera = 'c'): Promise<number[]> => (await b.q.summaries(site, device, camera)).map((m) => m.seq);

export function storeCases(name: string, open: (t: TestContext) => Promise<Backend>): void {
  test(`${name}: dedupe on (site, device, camera, seq); a seq at or below the last is a repeat; each device its own sequence`, async (t) => {
    const b = await open(t);
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 1), 10), 'stored');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 1, { status: 'alert' }), 11), 'duplicate');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 3), 12), 'stored');
    assert.equal(b.gaps.count, 1, 'seq 2 is missing');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 2), 13), b.lateFills ? 'stored' : 'duplicate', 'backwards: a repeat, or late');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 2), 13), 'duplicate', 'backwards again: a repeat');
    assert.equal(b.gaps.late ?? 0, b.lateFills ? 1 : 0);
    assert.equal(await b.summary(summaryMsg('p', 'e2', 'c', 1), 14), 'stored');
    assert.deepEqual((await b.q.summaries('p', 'e', 'c')).map((m) => [m.seq, m.status]), b.lateFills ? [[1, 'ok'], [2, 'ok'], [3, 'ok']] : [[1, 'ok'], [3, 'ok']]);
    assert.deepEqual((await b.q.cameras()).map((c) => [c.device, c.lastSeq, c.lastStatus]), [['e', 3, 'ok'], ['e2', 1, 'ok']], 'the last seq stays the highest');
    assert.equal((await b.q.summary('p', 'e', 'c', 3))?.seq, 3);
    assert.equal((await b.q.summary('p', 'e', 'c', 2))?.seq, b.lateFills ? 2 : undefined);
    assert.equal(await b.event(event('p', 'e', 1), 1), 'stored');
    assert.equal(await b.event(event('p', 'e', 1), 2), 'duplicate');
  });

  test(`${name}: one burst over 3 cameras, interleaved, with repeats and a seq going back: each seq once, in arrival order per camera`, async (t) => {
    const b = await open(t);
    const order = [1, 2, 3, 2, 5, 4, 6];
    const ms: SummaryMessage[] = [];
    for (const seq of order) for (const cam of ['f', 'c', 'd']) ms.push(summaryMsg('p', 'e', cam, seq));
    const out = await b.burst(ms, 100);
    const expected = ['stored', 'stored', 'stored', 'duplicate', 'stored', b.lateFills ? 'stored' : 'duplicate', 'stored'];
    for (const [k, cam] of ['f', 'c', 'd'].entries()) {
      assert.deepEqual(out.filter((_, i) => i % 3 === k), expected, `camera ${cam}: outcomes in arrival order`);
      assert.deepEqual(await seqs(b, 'p', 'e', cam), b.lateFills ? [1, 2, 3, 4, 5, 6] : [1, 2, 3, 5, 6]);
    }
    assert.equal(b.gaps.count, 3, 'seq 4 counted missing once per camera, when 5 arrived');
    assert.equal(b.gaps.late ?? 0, b.lateFills ? 3 : 0, 'and, on replicas, counted again when it came late');
    assert.deepEqual((await b.q.cameras()).map((c) => [c.camera, c.lastSeq]), [['c', 6], ['d', 6], ['f', 6]]);
  });

  test(`${name}: a seq jump is quarantined until the device continues from it, then released; a gap counts at most maxSeqJump`, async (t) => {
    const b = await open(t);
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 1), 1), 'stored');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 1_000_001, { status: 'alert' }), 2), 'quarantined');
    assert.equal(await b.q.quarantineSize(), 1);
    assert.equal(b.gaps.count, 0);
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 1_000_001), 3), 'duplicate', 'the same again is not kept twice');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 2), 4), 'stored', 'the real next one');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'd', 1), 5), 'stored', 'another camera');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'd', 5000), 5), 'quarantined');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'd', 5001), 6), 'stored', 'continued: released');
    assert.deepEqual(await seqs(b, 'p', 'e', 'c'), [1, 2]);
    assert.deepEqual(await seqs(b, 'p', 'e', 'd'), [1, 5000, 5001]);
    assert.equal(b.gaps.count, MAX_SEQ_JUMP, 'bounded');
    assert.equal(await b.q.quarantineSize(), 1, 'the forged 1,000,001 stays apart');
    assert.equal((await b.q.camera('p', 'e', 'd'))?.lastSeq, 5001);
  });

  test(`${name}: a window with impossible times is quarantined with its reason and never released`, async (t) => {
    const b = await open(t);
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 1), 1), 'stored');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 2), 2, 'window ends before it starts'), 'quarantined');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 2), 3, 'window ends before it starts'), 'duplicate');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 3), 4), 'stored');
    assert.deepEqual(await seqs(b, 'p', 'e', 'c'), [1, 3]);
    assert.equal(await b.q.quarantineSize(), 1);
  });

  test(`${name}: a new epoch stores the device's new seqs after its old ones; summaries and events alike`, async (t) => {
    const b = await open(t);
    await b.status(birth('p', 'e', 1, 'aaaa'), 1);
    for (const seq of [1, 2, 3]) assert.equal(await b.summary(summaryMsg('p', 'e', 'c', seq), 2), 'stored');
    assert.equal(await b.event(event('p', 'e', 1), 3), 'stored');
    await b.status(birth('p', 'e', 4, 'aaaa'), 4);
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 1), 5), 'duplicate', 'same epoch: a repeat');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 3), 5), 'duplicate', 'same epoch: a repeat of the last');
    await b.status(birth('p', 'e', 6, 'bbbb'), 6);
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 1), 7), 'stored');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 2), 8), 'stored');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 2), 9), 'duplicate');
    assert.equal(await b.event(event('p', 'e', 1), 10), 'stored', 'events start again too');
    assert.deepEqual(await seqs(b, 'p', 'e', 'c'), [1, 2, 3, 4, 5]);
    assert.equal((await b.q.summary('p', 'e', 'c', 5))?.seq, 5, 'stored with its seq in the collector space');
  });

  test(`${name}: a device that comes back with a new epoch after going offline (an older agent's Last Will or clean stop: no epoch) starts its seqs again`, async (t) => {
    const b = await open(t);
    await b.status(birth('p', 'e', 1, 'aaaa'), 1);
    for (const seq of [1, 2, 3]) assert.equal(await b.summary(summaryMsg('p', 'e', 'c', seq), 2), 'stored');
    await b.status({ schema: SCHEMAS.status, site: 'p', device: 'e', state: 'offline', ts: 3 } as StatusMessage, 3);
    await b.status(birth('p', 'e', 4, 'aaaa'), 4);
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 3), 5), 'duplicate', 'the same epoch after an offline status: a repeat');
    await b.status({ schema: SCHEMAS.status, site: 'p', device: 'e', state: 'offline', ts: 6, stopReason: 'upgrade' } as StatusMessage, 6);
    // Re-imaged while it was away: its new database counts from 1 again.
    await b.status(birth('p', 'e', 7, 'bbbb'), 7);
    for (const seq of [1, 2, 3, 4]) assert.equal(await b.summary(summaryMsg('p', 'e', 'c', seq), 8), 'stored', `new epoch, seq ${seq}`);
    assert.deepEqual(await seqs(b, 'p', 'e', 'c'), [1, 2, 3, 4, 5, 6, 7]);
  });

  test(`${name}: a new epoch's birth starts it when its own Will was stored first; a late Will of the old epoch does not take the device back to it`, async (t) => {
    const b = await open(t);
    const will = (epoch: string, seq: number, at: number) => b.status({ schema: SCHEMAS.status, site: 'p', device: 'e', state: 'offline', ts: at, epoch, seq } as StatusMessage, at);
    await b.status({ ...birth('p', 'e', 1, 'aaaa'), seq: 7 }, 1);
    for (const seq of [1, 2, 3]) assert.equal(await b.summary(summaryMsg('p', 'e', 'c', seq), 2), 'stored');
    // Re-imaged: the new database's first connection drops at once, and its Will (which names the
    // epoch, as current agents' do) is stored first (replicas commit in either order).
    await will('bbbb', 1, 4);
    await b.status({ ...birth('p', 'e', 3, 'bbbb'), seq: 1 }, 3);
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 1), 5), 'stored', "the new epoch's first summary is new, not a repeat");
    // The old database's last Will, delivered late (held for a replica that died).
    await will('aaaa', 7, 6);
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 2), 7), 'stored');
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 2), 8), 'duplicate');
    assert.deepEqual(await seqs(b, 'p', 'e', 'c'), [1, 2, 3, 4, 5], 'the new epoch goes on where it was');
  });

  test(`${name}: a re-imaged device's birth starts its new epoch when the old database's late Will was stored just before it`, async (t) => {
    const b = await open(t);
    await b.status({ ...birth('p', 'e', 1, 'aaaa'), seq: 7 }, 1);
    for (const seq of [1, 2, 3]) assert.equal(await b.summary(summaryMsg('p', 'e', 'c', seq), 2), 'stored');
    // The old Will (held for a replica that died) is received after the new birth, and committed before it.
    await b.status({ schema: SCHEMAS.status, site: 'p', device: 'e', state: 'offline', ts: 4, epoch: 'aaaa', seq: 7 } as StatusMessage, 5);
    await b.status({ ...birth('p', 'e', 4, 'bbbb'), seq: 1 }, 4);
    assert.equal(await b.summary(summaryMsg('p', 'e', 'c', 1), 6), 'stored', "the new epoch's first summary is new, not a repeat");
    assert.deepEqual(await seqs(b, 'p', 'e', 'c'), [1, 2, 3, 4]);
  });

  test(`${name}: a new epoch after retention pruned a camera's summaries still stores the new seqs after its last`, async (t) => {
    const b = await open(t);
    await b.status(birth('p', 'e', 1, 'aaaa'), 1);
    for (const seq of [1, 2, 3]) assert.equal(await b.summary(summaryMsg('p', 'e', 'c', seq), 10), 'stored');
    assert.ok((await b.q.prune(100_000, 50_000, 50_000)) >= 3, 'every summary pruned');
    await b.status(birth('p', 'e', 60_001, 'bbbb'), 60_001);
    for (const seq of [1, 2]) assert.equal(await b.summary(summaryMsg('p', 'e', 'c', seq), 60_002), 'stored', `new epoch, seq ${seq}`);
    assert.deepEqual(await seqs(b, 'p', 'e', 'c'), [4, 5]);
  });

  test(`${name}: devices: the last status, seen time moved on by every message, and pages in key order`, async (t) => {
    const b = await open(t);
    for (const d of ['b', 'a', 'c']) await b.status(birth('p', d, 100, undefined), 100);
    await b.status({ ...birth('p', 'c', 150), state: 'offline', stopReason: 'upgrade' } as StatusMessage, 150);
    await b.summary(summaryMsg('p', 'a', 'c', 1), 200);
    const a = await b.q.device('p', 'a');
    assert.equal(a?.lastSeen, 200);
    assert.equal(a?.status.provider, 'cpu');
    assert.deepEqual((await b.q.devices()).map((d) => [d.device, d.state]), [['a', 'online'], ['b', 'online'], ['c', 'offline']]);
    assert.equal((await b.q.device('p', 'c'))?.status.stopReason, 'upgrade');
    assert.deepEqual((await b.q.devicePage(undefined, 2)).map((d) => d.device), ['a', 'b']);
    assert.deepEqual((await b.q.devicePage(['p', 'b'], 2)).map((d) => d.device), ['c']);
    assert.equal(await b.q.device('p', 'nope'), undefined);
  });

  test(`${name}: a camera's timeline: the latest windows, oldest first, with drivers and family scores; pages back by seq`, async (t) => {
    const b = await open(t);
    const drivers = [{ key: 'psi:brightness', value: 0.5, warn: 0.1, alert: 0.25, level: 'alert' as const }];
    for (let seq = 1; seq <= 6; seq++) await b.summary(summaryMsg('p', 'e', 'c', seq, seq === 6 ? { status: 'alert', drivers, familyScores: { input: 2.5 } } : {}), seq);
    const tl = await b.q.timeline('p', 'e', 'c', 0, 3);
    assert.deepEqual(tl.map((r) => r.seq), [4, 5, 6]);
    assert.deepEqual(tl[2]!.drivers, drivers);
    assert.deepEqual(tl[2]!.familyScores, { input: 2.5 });
    assert.deepEqual(tl[0]!.drivers, []);
    assert.equal(tl[0]!.familyScores, undefined);
    assert.deepEqual((await b.q.timeline('p', 'e', 'c', 0, 3, 4)).map((r) => r.seq), [1, 2, 3]);
    const since = summaryMsg('p', 'e', 'c', 5).end;
    assert.deepEqual((await b.q.timeline('p', 'e', 'c', since, 10)).map((r) => r.seq), [5, 6]);
    assert.deepEqual((await b.q.cameraPage(undefined, 10)).map((c) => [c.camera, c.lastSeq, c.lastStatus]), [['c', 6, 'alert']]);
  });

  test(`${name}: alerts: written again by id, found by state, site, device and camera, in pages on (updatedAt, id)`, async (t) => {
    const b = await open(t);
    const base = { schema: SCHEMAS.alert, severity: 'warning' as const, annotations: {}, startsAt: new Date(0).toISOString() };
    const alert = (id: string, rule: string, state: 'firing' | 'resolved', at: number, labels: Record<string, string>): Promise<void> =>
      b.saveAlert({ ...base, id, rule, fingerprint: `${rule}/${id}`, state, updatedAt: new Date(at).toISOString(), labels });
    await alert('a1', 'drift', 'resolved', 1000, { site: 'p', device: 'e', camera: 'c1' });
    await alert('a2', 'drift', 'firing', 2000, { site: 'p', device: 'e', camera: 'c1' });
    await alert('a2', 'drift', 'resolved', 2500, { site: 'p', device: 'e', camera: 'c1' });
    await alert('a3', 'drift', 'firing', 3000, { site: 'p', device: 'e', camera: 'c1' });
    await alert('a5', 'deviceOffline', 'resolved', 5000, { site: 'p', device: 'e' });
    await alert('a7', 'drift', 'resolved', 7000, { site: 'q', device: 'e', camera: 'c1' });
    const ids = async (o: Parameters<StoreQueries['alerts']>[0]): Promise<string[]> => (await b.q.alerts(o)).map((a) => a.id);
    assert.deepEqual(await ids({ state: 'resolved', site: 'p', device: 'e', camera: 'c1', limit: 10 }), ['a2', 'a1']);
    assert.deepEqual(await ids({ state: 'firing', limit: 10 }), ['a3']);
    assert.deepEqual(await ids({ site: 'p', device: 'e', limit: 10 }), ['a5', 'a3', 'a2', 'a1']);
    assert.deepEqual(await ids({ limit: 2 }), ['a7', 'a5']);
    assert.deepEqual(await ids({ limit: 2, before: [new Date(3000).toISOString(), 'a3'] }), ['a2', 'a1']);
    assert.equal((await b.q.alert('a2'))?.state, 'resolved');
    assert.equal(await b.q.alert('nope'), undefined);
  });

  test(`${name}: retention deletes old summaries, events and resolved alerts, never a firing one`, async (t) => {
    const b = await open(t);
    await b.summary(summaryMsg('p', 'e', 'c', 1), 1_000);
    await b.summary(summaryMsg('p', 'e', 'c', 2), 90_000);
    await b.event(event('p', 'e', 1), 1_000);
    const base = { schema: SCHEMAS.alert, rule: 'drift', severity: 'warning' as const, labels: {}, annotations: {}, startsAt: new Date(0).toISOString() };
    await b.saveAlert({ ...base, id: 'old-resolved', fingerprint: 'f1', state: 'resolved', updatedAt: new Date(1_000).toISOString() });
    await b.saveAlert({ ...base, id: 'old-firing', fingerprint: 'f2', state: 'firing', updatedAt: new Date(1_000).toISOString() });
    assert.ok((await b.q.prune(100_000, 50_000, 50_000)) >= 3);
    assert.deepEqual(await seqs(b, 'p', 'e', 'c'), [2]);
    assert.deepEqual((await b.q.alerts({ limit: 10 })).map((a) => a.id), ['old-firing']);
    assert.equal((await b.q.camera('p', 'e', 'c'))?.lastSeq, 2, 'the camera row stays');
  });
}
