import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { RuleEngine, type AlertChange, type RuleSettings } from '../../../collector/rules/engine.js';
import { SqliteStore } from '../../../collector/store/sqlite-store.js';
import type { AlertRecord } from '../../../collector/store/store.js';
import { SCHEMAS, type EventMessage, type StatusMessage } from '../../../protocol/messages.js';
import { SHA, summaryMsg } from '../../helpers/collector.js';

const SETTINGS: RuleSettings = { driftForMs: 120_000, driftClearMs: 150_000, driftMinSeverity: 'warn', offlineSilenceMs: 300_000, stalledWindows: 3, modelChangedHoldMs: 3_600_000, resendMs: 60_000, runbookUrl: 'docs/runbook.md' };

async function engine(t: TestContext, o: Partial<RuleSettings> = {}): Promise<{ rules: RuleEngine; store: SqliteStore; changes: [string, AlertChange, AlertRecord][] }> {
  const store = new SqliteStore(join(await mkdtemp(join(tmpdir(), 'driftline-rules-')), 'c.db'));
  t.after(() => store.close());
  const changes: [string, AlertChange, AlertRecord][] = [];
  const rules = new RuleEngine(store, { ...SETTINGS, ...o }, (a, c) => changes.push([a.rule, c, structuredClone(a)]));
  return { rules, store, changes };
}

const birth = (o: Partial<StatusMessage> = {}): StatusMessage => ({
  schema: SCHEMAS.status, site: 's', device: 'd', state: 'online', ts: 0, agent: { version: '0.1.0' }, model: { name: 'm.onnx', sha256: SHA },
  provider: 'cpu', providers: ['cpu'], cameras: ['c'], windowSeconds: 60, ...o,
});
const driver = (key: string, value: number, level: 'warn' | 'alert' = 'alert') => ({ key, value, warn: 0.1, alert: 0.2, level });
// A window of the camera: seq n covers minute n.
const win = (n: number, status: 'ok' | 'warn' | 'alert' | 'insufficient', drivers = status === 'ok' ? [] : [driver('psi:brightness', 0.5)]) => {
  const m = summaryMsg('s', 'd', 'c', n, { status, drivers });
  return { m, now: m.end + 1000 };
};

test('drift fires only once windows at warn or worse span `for`, then holds through one ok window and resolves after `clear`', async (t) => {
  const { rules, store, changes } = await engine(t);
  store.putStatus(birth(), 0);
  const feed = (n: number, st: Parameters<typeof win>[1]) => {
    const w = win(n, st);
    rules.onSummary(w.m, w.now);
  };
  feed(1, 'ok');
  feed(2, 'warn');
  feed(3, 'alert'); // spans 2 windows: 119 s < 120 s
  assert.equal(changes.length, 0);
  feed(4, 'warn'); // 179 s
  assert.deepEqual(changes.map(([r, c]) => [r, c]), [['drift', 'fire']]);
  const a = changes[0]![2];
  assert.equal(a.severity, 'critical', 'an alert-level window in the run makes it critical');
  assert.deepEqual(a.labels, { alertname: 'DriftlineDrift', severity: 'critical', site: 's', device: 'd', camera: 'c', model: `line-detector.onnx@${SHA.slice(0, 12)}`, feature: 'illumination' });
  assert.match(a.annotations.summary!, /^s\/d\/c: illumination: psi:brightness 0.500; input drift for 3 min/, 'no shift in the summary: the score leads, named by its family');
  assert.equal(a.annotations.runbook_url, 'docs/runbook.md#drift');
  feed(5, 'ok');
  feed(6, 'insufficient'); // neither holds nor clears
  feed(7, 'warn'); // back to drifting: the ok run starts again
  feed(8, 'ok');
  feed(9, 'ok');
  assert.equal(rules.firing.length, 1, 'two ok windows (119 s) are not enough');
  feed(10, 'ok'); // 179 s >= 150 s
  assert.deepEqual(changes.map(([r, c]) => [r, c]), [['drift', 'fire'], ['drift', 'resolve']]);
  const resolved = store.alert(a.id)!;
  assert.equal(resolved.state, 'resolved');
  assert.ok(resolved.endsAt);
});

test('device offline: on the Last Will at once, on silence after offlineSilence; a birth resolves it', async (t) => {
  const { rules, store, changes } = await engine(t);
  const quiet = birth({ cameras: [] });
  store.putStatus(quiet, 1000);
  rules.onStatus(quiet, undefined, 1000);
  rules.tick(1000 + 299_000);
  assert.equal(changes.length, 0);
  rules.tick(1000 + 300_000);
  assert.deepEqual(changes.map(([r, c]) => [r, c]), [['deviceOffline', 'fire']]);
  assert.match(changes[0]![2].annotations.summary!, /is silent/);
  rules.onStatus(birth(), birth(), 400_000);
  assert.deepEqual(changes.map(([r, c]) => [r, c]).at(-1), ['deviceOffline', 'resolve']);
  // A Will's ts is when its connection was made (docs/mqtt.md): it arrives when the connection is lost.
  const will: StatusMessage = { schema: SCHEMAS.status, site: 's', device: 'd', state: 'offline', ts: 450_000 };
  rules.onStatus(will, birth(), 500_000);
  assert.deepEqual(changes.map(([r, c]) => [r, c]).at(-1), ['deviceOffline', 'fire']);
  assert.equal(changes.at(-1)![2].severity, 'critical');
  assert.match(changes.at(-1)![2].annotations.description!, /Last Will arrived at 1970-01-01T00:08:20\.000Z \(its ts, 1970-01-01T00:07:30\.000Z, is when that connection was made\)/);
});

test('camera stalled: on the event, or after stalledWindows of silence; a summary resolves it', async (t) => {
  const { rules, store, changes } = await engine(t);
  store.putStatus(birth({ cameras: ['c', 'quiet'] }), 0);
  rules.onStatus(birth({ cameras: ['c', 'quiet'] }), undefined, 0);
  const ev: EventMessage = { schema: SCHEMAS.event, site: 's', device: 'd', camera: 'c', seq: 1, ts: 0, kind: 'stalled', message: 'no frame in 10 s' };
  rules.onEvent(ev, 10_000);
  assert.deepEqual(changes.map(([r, c, a]) => [r, c, a.labels.camera]), [['cameraStalled', 'fire', 'c']]);
  const w = win(1, 'ok');
  rules.onSummary(w.m, 20_000);
  assert.deepEqual(changes.map(([r, c]) => [r, c]).at(-1), ['cameraStalled', 'resolve']);
  store.putStatus(birth({ cameras: ['c', 'quiet'] }), 170_000); // the device is alive; camera "quiet" never sent a summary
  rules.tick(170_000);
  assert.equal(changes.filter(([r]) => r === 'cameraStalled').length, 2, 'not yet: 170 s < 3 windows of 60 s');
  store.putStatus(birth({ cameras: ['c', 'quiet'] }), 181_000);
  rules.tick(181_000);
  assert.deepEqual(changes.map(([r, c, a]) => [r, c, a.labels.camera]).at(-1), ['cameraStalled', 'fire', 'quiet']);
});

test('provider fallback and model change from the birth message; model change resolves after its hold', async (t) => {
  const { rules, changes } = await engine(t);
  rules.onStatus(birth({ provider: 'cpu', providers: ['cuda', 'cpu'] }), undefined, 0);
  assert.deepEqual(changes.map(([r, c]) => [r, c]), [['providerFallback', 'fire']]);
  assert.match(changes[0]![2].annotations.summary!, /runs on cpu, not cuda/);
  rules.onStatus(birth({ provider: 'cuda', providers: ['cuda', 'cpu'], model: { name: 'm2.onnx', sha256: 'b'.repeat(64) } }), birth(), 10_000);
  assert.deepEqual(changes.map(([r, c]) => [r, c]).slice(1), [['providerFallback', 'resolve'], ['modelChanged', 'fire']]);
  assert.equal(changes[2]![2].severity, 'info');
  rules.tick(10_000 + 3_599_000);
  assert.equal(rules.firing.length, 1);
  rules.tick(10_000 + 3_600_000);
  assert.equal(rules.firing.length, 0);
});

test('an active alert is not raised twice, is re-sent on the cadence, and survives a collector restart', async (t) => {
  const { rules, store, changes } = await engine(t, { driftForMs: 0 });
  store.putStatus(birth(), 0);
  for (let n = 1; n <= 3; n++) rules.onSummary(win(n, 'warn').m, win(n, 'warn').now);
  assert.deepEqual(changes.map(([, c]) => c), ['fire']);
  // Fired on the first window (driftFor 0); re-sent every resendMs from then on, not before.
  const firedAt = win(1, 'warn').now;
  const tick = (at: number): void => {
    store.putStatus(birth(), at); // the device is alive
    rules.tick(at);
  };
  const seen = (): string[][] => changes.map(([r, c]) => [r, c]);
  tick(firedAt + 59_000);
  assert.deepEqual(seen(), [['drift', 'fire']], 'not re-sent before resendMs');
  tick(firedAt + 60_000);
  assert.deepEqual(seen(), [['drift', 'fire'], ['drift', 'resend']]);
  tick(firedAt + 119_000);
  assert.deepEqual(seen(), [['drift', 'fire'], ['drift', 'resend']], 'not again before another resendMs');
  tick(firedAt + 120_000);
  assert.deepEqual(seen(), [['drift', 'fire'], ['drift', 'resend'], ['drift', 'resend']], 'and again one cadence later');
  const last = firedAt + 120_000;
  const again = new RuleEngine(store, SETTINGS, () => undefined);
  assert.deepEqual(again.firing.map((a) => a.rule), ['drift'], 'loaded from the store');
  const acked = again.acknowledge(again.firing[0]!.id, 'ana', 'looking', last)!;
  assert.equal(acked.ack?.by, 'ana');
  assert.equal(store.alert(acked.id)!.ack?.comment, 'looking');
  assert.equal(again.acknowledge('0000000000000000', 'x', '', last), undefined);
});

test('storage full: one device alert from the events on every camera; storageRecovered resolves it', async (t) => {
  const { rules, changes } = await engine(t);
  const ev = (camera: string, seq: number, kind: 'storageFull' | 'storageRecovered'): EventMessage => ({
    schema: SCHEMAS.event, site: 's', device: 'd', camera, seq, ts: 0, kind, message: 'the store is out of space', detail: { freeBytes: 1024, framesShed: 500 },
  });
  for (const c of ['a', 'b', 'c']) rules.onEvent(ev(c, 1, 'storageFull'), 10_000);
  const fired = changes.filter(([r]) => r === 'storageFull');
  assert.deepEqual(fired.map(([r, c, a]) => [r, c, a.labels.camera, a.severity]), [['storageFull', 'fire', undefined, 'warning']], 'one alert for the device, not one per camera');
  assert.deepEqual(fired[0]![2].evidence, { freeBytes: 1024, framesShed: 500 });
  assert.match(fired[0]![2].annotations.runbook_url!, /#storagefull$/);
  for (const c of ['a', 'b', 'c']) rules.onEvent(ev(c, 2, 'storageRecovered'), 60_000);
  assert.deepEqual(changes.filter(([r]) => r === 'storageFull').map(([, c]) => c), ['fire', 'resolve']);
});

test('a drift alert names where the drift started: the first drifting window of its run, kept through updates and a restart', async (t) => {
  const { rules, store, changes } = await engine(t, { runbookUrl: () => 'https://driftline.plant.example/runbook' });
  store.putStatus(birth(), 0);
  const feed = (r: RuleEngine, n: number, st: Parameters<typeof win>[1]) => {
    const w = win(n, st);
    r.onSummary(w.m, w.now);
  };
  feed(rules, 1, 'ok');
  feed(rules, 2, 'warn');
  feed(rules, 3, 'ok'); // a short ok stretch does not end the run (the rule's hysteresis) ...
  feed(rules, 4, 'alert');
  const fired = changes.find(([, c]) => c === 'fire')![2];
  const first = summaryMsg('s', 'd', 'c', 2);
  assert.deepEqual(fired.evidence?.driftStart, { seq: 2, start: new Date(first.start).toISOString() }, '... so the drift started at window 2');
  assert.equal((fired.evidence?.window as { seq: number }).seq, 4, 'fired on window 4, two windows later');
  assert.equal(fired.annotations.runbook_url, 'https://driftline.plant.example/runbook#drift', 'an absolute link, built when the alert is made');
  feed(rules, 5, 'alert');
  feed(rules, 6, 'alert');
  assert.equal((store.alert(fired.id)!.evidence?.window as { seq: number }).seq, 6, 'the evidence follows the latest window ...');
  assert.equal((store.alert(fired.id)!.evidence?.driftStart as { seq: number }).seq, 2, '... and keeps where the drift started');

  // A restart forgets the run in memory; the stored alert still knows where it began.
  const again = new RuleEngine(store, { ...SETTINGS }, () => undefined);
  for (let n = 7; n <= 9; n++) feed(again, n, 'alert');
  const updated = store.alert(fired.id)!;
  assert.equal((updated.evidence?.window as { seq: number }).seq, 9, 'updated after the restart');
  assert.equal((updated.evidence?.driftStart as { seq: number }).seq, 2, 'and still started at window 2');

  // Resolved, then a new run: a new start.
  for (let n = 10; n <= 13; n++) feed(again, n, 'ok');
  assert.equal(store.alert(fired.id)!.state, 'resolved');
  for (let n = 14; n <= 17; n++) feed(again, n, 'warn');
  const next = store.alerts({ state: 'firing', limit: 5 })[0]!;
  assert.notEqual(next.id, fired.id);
  assert.equal((next.evidence?.driftStart as { seq: number }).seq, 14);
});

test("a drift alert keeps the run's review frames when a later window saved none", async (t) => {
  const { rules, store } = await engine(t, { driftForMs: 0 });
  store.putStatus(birth({ reviewUrl: 'http://edge:9464/review' }), 0);
  const feed = (n: number, files: string[]) => {
    const w = win(n, 'alert');
    rules.onSummary({ ...w.m, review: files.map((file) => ({ file, ts: w.m.start, reason: 'ood' })) }, w.now);
  };
  feed(1, ['a.jpg', 'b.jpg']);
  feed(2, []);
  const a = store.alerts({ state: 'firing', limit: 1 })[0]!;
  assert.deepEqual(a.evidence?.reviewFrames, ['http://edge:9464/review/a.jpg', 'http://edge:9464/review/b.jpg'], 'an empty window loses nothing');
  feed(3, ['c.jpg']);
  assert.deepEqual(store.alert(a.id)!.evidence?.reviewFrames, ['http://edge:9464/review/c.jpg', 'http://edge:9464/review/a.jpg', 'http://edge:9464/review/b.jpg'], 'newest first');
  feed(4, Array.from({ length: 12 }, (_, i) => `n${i}.jpg`));
  assert.equal((store.alert(a.id)!.evidence?.reviewFrames as string[]).length, 10, 'at most 10');
});

test('adopt: a firing alert stored under another id takes the rules\' place, or is resolved when the rules have resolved theirs', async (t) => {
  const { rules, store, changes } = await engine(t);
  store.putStatus(birth(), 0);
  rules.onStatus({ schema: SCHEMAS.status, site: 's', device: 'd', state: 'offline', ts: 1 }, birth(), 1000);
  const mine = rules.firing[0]!;
  const stored: AlertRecord = { ...mine, id: 'earlier', startsAt: '2026-01-01T00:00:00.000Z', ack: { by: 'ops', comment: 'seen', at: '2026-01-01T00:00:10.000Z' } };
  rules.adopt(stored, 2000);
  assert.deepEqual(rules.firing.map((a) => [a.id, a.startsAt, a.ack?.by, a.annotations.summary]), [['earlier', stored.startsAt, 'ops', mine.annotations.summary]]);
  assert.deepEqual(changes.slice(1).map(([r, c, a]) => [r, c, a.id]), [['deviceOffline', 'fire', 'earlier']]);
  rules.adopt(stored, 2500);
  assert.equal(changes.length, 2, 'adopted once');
  // The rules resolve theirs (the device came back); a stored firing one of that fingerprint is resolved too.
  rules.onStatus(birth(), undefined, 3000);
  const before = changes.length;
  rules.adopt({ ...stored, id: 'older' }, 4000);
  assert.deepEqual(changes.slice(before).map(([r, c, a]) => [r, c, a.id, a.state]), [['deviceOffline', 'resolve', 'older', 'resolved']]);
  assert.equal(store.alert('older')?.state, 'resolved');
});
