/**
 * The leading replica's work on a real database: a leader fires on a drifting window any replica
 * stored; a leader stopped while it is still rebuilding from the store (its lock lost, or the
 * replica stopping) neither reads, nor notifies, nor leaves a timer that keeps the process alive;
 * and the end of one term, still waiting for its takeover of a dead replica, leaves the next alone.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ClusterLeader, type LeaderOptions } from '../../../collector/cluster/leader.js';
import { collectorConfig } from '../../../collector/config.js';
import { ruleSettings } from '../../../collector/main.js';
import { Dispatcher } from '../../../collector/notify/dispatcher.js';
import type { AlertChange } from '../../../collector/rules/engine.js';
import { beginTerm, PostgresStore } from '../../../collector/store/postgres-store.js';
import type { AlertRecord } from '../../../collector/store/store.js';
import { silentLogger } from '../../../lib/log.js';
import { SCHEMAS, type StatusMessage } from '../../../protocol/messages.js';
import { summaryMsg } from '../../helpers/collector.js';
import { HORIZON_WAIT_MS, horizonPastCommitted, putStatus, testClient, testDatabase } from '../../helpers/postgres.js';
import { until } from '../../helpers/wait.js';

const POLL_MS = 50;
/**
 * How long a wait on the leader may take. Most wait on what it reads from the feed, which reads only
 * below the server-wide horizon that another test file's transaction holds back; the rest (a
 * takeover beginning, a term's first writes) get the same bound, which ends as soon as they hold.
 */
const FEED_MS = HORIZON_WAIT_MS;
const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
/** Timers once the store is idle (its one pooled connection made and idle, its last-seen flush written, no query in flight). */
const idleTimers = async (store: PostgresStore): Promise<number> => {
  await store.pool.query('SELECT 1');
  await store.flushSeen();
  return timers();
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A leader with what it notified, and how often it was told to give the lead up (a fenced write). */
interface Leader {
  leader: ClusterLeader;
  /** Starts it leading, as the next term (which Leadership takes on the lock's connection in a replica). */
  lead(): Promise<void>;
  alerts: [AlertRecord, AlertChange][];
  fenced: { count: number };
}

interface Setup extends Leader {
  store: PostgresStore;
  drift(camera: string, seq?: number): Promise<void>;
  /** Another replica's leader on the same database, with alerts of its own (a failover's successor). */
  successor(): Leader;
  /** Stores a device's birth or Last Will, as ingest does. */
  status(device: string, state: 'online' | 'offline'): Promise<void>;
}

async function setup(t: TestContext, take: Pick<LeaderOptions, 'deadReplicas' | 'adopt'> = { deadReplicas: async () => [], adopt: async () => 0 }, rules: Record<string, unknown> = {}): Promise<Setup> {
  // One pooled connection, so that the pool's own idle timer does not come and go with its size.
  const store = await PostgresStore.open(await testDatabase(t, 'leader'), { maxSeqJump: 10, poolSize: 1 });
  t.after(() => store.close());
  const { config } = collectorConfig({ rules: { driftForSeconds: 0, ...rules } });
  const dispatcher = new Dispatcher([], { maxQueue: 10, backoff: { initialMs: 10, maxMs: 10, jitter: 0 }, log: silentLogger });
  t.after(() => dispatcher.close(0));
  const ruleErrors: unknown[] = [];
  t.after(() => assert.deepEqual(ruleErrors, [], 'no rule failed'));
  const successor = (): Leader => {
    const alerts: [AlertRecord, AlertChange][] = [];
    const fenced = { count: 0 };
    const leader = new ClusterLeader({
      store,
      settings: ruleSettings(config, () => 'http://127.0.0.1:1'),
      dispatcher,
      sinks: [],
      log: silentLogger,
      pollMs: POLL_MS,
      evalMs: POLL_MS,
      replayMs: 60_000,
      onAlert: (a, change) => void alerts.push([a, change]),
      ...take,
      ruleError: (e) => void ruleErrors.push(e),
      onFenced: () => void fenced.count++,
    });
    t.after(() => leader.stop());
    return { leader, lead: async () => leader.start(await beginTerm(store.pool)), alerts, fenced };
  };
  const first = successor();
  const drift = async (camera: string, seq = 1): Promise<void> => {
    const now = Date.now();
    const m = summaryMsg('plant', 'edge', camera, seq, { start: now - 60_000, end: now - 1000, status: 'alert', drivers: [{ key: 'psi:brightness', value: 0.6, warn: 0.1, alert: 0.25, level: 'alert' }] });
    store.beginBatch();
    const stored = store.stageSummary(m, now, JSON.stringify(m));
    await store.commitBatch();
    assert.equal((await stored).handled, 'stored');
  };
  const status = async (device: string, state: 'online' | 'offline'): Promise<void> => {
    const m = { schema: SCHEMAS.status, site: 'plant', device, state, ts: Date.now(), ...(state === 'online' ? { agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c1'], windowSeconds: 60 } : {}) } as StatusMessage;
    await putStatus(store, m, Date.now());
  };
  return { store, ...first, drift, successor, status };
}

test('a leader fires on a drifting window that was stored, and its stop takes its timers with it', async (t) => {
  const { store, leader, alerts, drift, lead } = await setup(t);
  const before = await idleTimers(store);
  await lead();
  assert.ok(timers() > before, 'a leader reads the feed and runs the timer rules on timers');
  await drift('cam1');
  await until(() => alerts.length > 0, FEED_MS, 'the drift alert');
  assert.equal(alerts[0]![1], 'fire');
  assert.equal(alerts[0]![0].labels.camera, 'cam1');
  assert.equal(leader.firing.length, 1);
  await leader.stop();
  assert.equal(await idleTimers(store), before, 'no timer left behind');
  assert.deepEqual(leader.firing, [], 'a stopped leader holds no alerts');
});

test('a leader stopped while it is still rebuilding neither acts nor leaves a timer behind', async (t) => {
  const { store, leader, alerts, drift, lead } = await setup(t);
  const before = await idleTimers(store);
  // Leadership lost (or the replica stopping) before the rebuild's first read has come back.
  const starting = leader.start(await beginTerm(store.pool));
  await leader.stop();
  await starting;
  assert.equal(await idleTimers(store), before, 'no timer keeps the stopped replica running');
  await drift('cam2');
  await sleep(POLL_MS * 10);
  assert.equal(alerts.length, 0, 'a replica that no longer leads does not notify');
  assert.deepEqual(leader.firing, []);
  // Leading again later works as a first start does (the window stored meanwhile is replayed, not acted on).
  await lead();
  await drift('cam2', 2);
  await until(() => alerts.length > 0, FEED_MS, 'the drift alert after leading again');
  assert.equal(alerts[0]![0].labels.camera, 'cam2');
});

test('a term that ends while its takeover runs leaves the next term alone', async (t) => {
  let finishTakeover = (): void => undefined;
  const taking = new Promise<void>((r) => (finishTakeover = r));
  const released: string[] = [];
  let calls = 0;
  const { leader, alerts, drift, lead } = await setup(t, {
    // One replica is gone when the first term begins; its session takes a while to take over.
    deadReplicas: async () => (calls++ === 0 ? [{ clientId: 'gone', release: async () => void released.push('gone'), abandon: async () => void released.push('abandoned') }] : []),
    adopt: async () => {
      await taking;
      return 0;
    },
  });
  t.after(finishTakeover);
  await lead();
  await until(() => calls > 0, FEED_MS, 'the takeover to begin');
  const ending = leader.stop(); // the lock lost mid-takeover: the first term ends, waiting for it
  await lead(); // and won back: a second term
  finishTakeover();
  await ending;
  await drift('cam3');
  await until(() => alerts.length > 0, FEED_MS, 'the second term to fire');
  assert.equal(alerts[0]![0].labels.camera, 'cam3');
  assert.equal(leader.firing.length, 1, 'the second term keeps its rules');
  assert.deepEqual(released, ['gone'], 'the takeover that was under way finished and was recorded');
});

test('a takeover that fails gives back every dead replica it was handed, for the next try', async (t) => {
  const log: string[] = [];
  let calls = 0;
  const dead = (id: string) => ({ clientId: id, release: async () => void log.push(`released ${id}`), abandon: async () => void log.push(`abandoned ${id}`) });
  const { leader, lead } = await setup(t, {
    deadReplicas: async () => (calls++ === 0 ? [dead('x'), dead('y')] : []),
    adopt: async (id) => {
      log.push(`adopt ${id}`);
      throw new Error('the broker is unreachable');
    },
  });
  await lead();
  await until(() => log.length >= 3, FEED_MS, 'the failed takeover');
  await leader.stop();
  assert.deepEqual(log, ['adopt x', 'abandoned x', 'abandoned y']);
});

test('an alert is notified only once its write is stored: a refused write is tried again, and the notification waits for it', async (t) => {
  const { store, leader, alerts, drift, lead } = await setup(t);
  await lead();
  // The database refuses the alert's write for a while (here: its table is briefly not there).
  await store.pool.query('ALTER TABLE alerts RENAME TO alerts_away');
  await drift('cam4');
  await until(() => leader.firing.length > 0, FEED_MS, 'the rules to fire');
  await sleep(600);
  assert.equal(alerts.length, 0, 'not notified while its write is refused');
  await store.pool.query('ALTER TABLE alerts_away RENAME TO alerts');
  await until(() => alerts.length > 0, 10_000, 'the notification once the write is stored');
  const [fired, change] = alerts[0]!;
  assert.equal(change, 'fire');
  assert.equal((await store.alert(fired.id))?.state, 'firing', 'what was notified is what a new leader finds');
});

test('an alert firing in the database under an earlier leader\'s id is carried on under that id, not raised again', async (t) => {
  const { store, leader, alerts, drift, lead } = await setup(t);
  await lead();
  // An earlier leader's write of this camera's alert committed after this leader loaded the active
  // alerts: the unique firing fingerprint refuses the rules' own, under a new id.
  const at = new Date(Date.now() - 60_000).toISOString();
  await store.saveAlert({ schema: SCHEMAS.alert, id: 'earlier', rule: 'drift', fingerprint: 'drift/plant/edge/cam5', state: 'firing', severity: 'warning', labels: { site: 'plant', device: 'edge', camera: 'cam5' }, annotations: {}, startsAt: at, updatedAt: at });
  await drift('cam5');
  await until(() => alerts.length > 0, FEED_MS, 'the notification');
  await sleep(300);
  const fires = alerts.filter(([, change]) => change === 'fire');
  assert.deepEqual(fires.map(([a]) => [a.id, a.startsAt]), [['earlier', at]], 'one notification, under the stored id and startsAt');
  assert.ok(fires[0]![0].annotations.summary, 'with what the rules have now');
  assert.deepEqual((await store.alerts({ state: 'firing', limit: 10 })).map((a) => a.id), ['earlier'], 'one firing alert in the database');
  assert.deepEqual(leader.firing.map((a) => a.id), ['earlier']);
  // Other alerts are not held behind it.
  await drift('cam6');
  await until(() => alerts.some(([a]) => a.labels.camera === 'cam6'), FEED_MS, 'the next alert');
});

test('a new leader acts on what was stored between the old leader\'s last read and its death', async (t) => {
  const { leader, alerts, successor, status, lead } = await setup(t);
  await lead();
  await status('d1', 'online');
  await status('d2', 'online');
  await status('d1', 'offline'); // a Last Will while the first leader reads
  await until(() => alerts.some(([a]) => a.labels.device === 'd1'), FEED_MS, 'the first leader to page d1');
  await leader.stop(); // it dies
  await status('d2', 'offline'); // a Last Will stored before any other replica leads
  const next = successor();
  await next.lead();
  await until(() => next.alerts.some(([, change]) => change === 'fire'), FEED_MS, 'the new leader to page d2');
  // (A new leader sends its active alerts again at its first tick, as 'resend', the same ids.)
  const fired = next.alerts.filter(([, change]) => change !== 'resend').map(([a, change]) => [a.labels.device, a.rule, change]);
  assert.deepEqual(fired, [['d2', 'deviceOffline', 'fire']], 'd2 paged; d1, paged before, not again');
  assert.deepEqual(next.leader.firing.map((a) => a.labels.device).sort(), ['d1', 'd2']);
});

test('a recorded read position older than the replay window is not resumed from', async (t) => {
  const { store, leader, alerts, drift, successor, lead } = await setup(t);
  await lead();
  await drift('cam7');
  await until(() => alerts.length > 0, FEED_MS, 'the first alert, and a recorded position');
  await leader.stop();
  const recorded = await store.feedPosition();
  assert.ok(recorded, 'the leader records how far it read');
  await store.pool.query('UPDATE leader_feed SET updated_at = $1', [Date.now() - 120_000]);
  await drift('cam8'); // stored while (for all the new leader can tell) nobody led for two minutes
  // A first start replays what committed below the horizon and leaves the rest to the feed, which
  // acts on it: another test file's open transaction could hold cam8 above it (CI saw cam8 acted on).
  await horizonPastCommitted(store);
  const next = successor();
  await next.lead();
  await sleep(POLL_MS * 10);
  assert.deepEqual(next.alerts.filter(([, change]) => change !== 'resend').map(([a]) => a.labels.camera), [], 'cam8 replayed without acting, as on a first start');
  assert.deepEqual(next.leader.firing.map((a) => a.labels.camera), ['cam7']);
});

test('a feed held back by a transaction left open on the server does not page live devices as silent', async (t) => {
  const { store, leader, alerts, lead } = await setup(t, undefined, { offlineSilenceSeconds: 1 });
  const birth = { schema: SCHEMAS.status, site: 'plant', device: 'd9', state: 'online', ts: Date.now(), agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c1'], windowSeconds: 60 } as StatusMessage;
  await putStatus(store, birth, Date.now());
  await lead();
  // The device keeps sending, every 200 ms, throughout.
  let seq = 0;
  let sending = true;
  const sender = (async () => {
    while (sending) {
      const now = Date.now();
      const m = summaryMsg('plant', 'd9', 'c1', ++seq, { start: now - 1000, end: now - 10 });
      store.beginBatch();
      const stored = store.stageSummary(m, now, JSON.stringify(m));
      await store.commitBatch();
      await stored;
      await sleep(200);
    }
  })();
  t.after(() => {
    sending = false;
    return sender;
  });
  // Current once no other test file's transaction holds the server-wide horizon back.
  await until(() => leader.feedLagMs() < 1000, FEED_MS, 'the feed to be current');
  // An operator's session, left in a transaction that has written: the horizon stays below it.
  const open = await testClient(t, new URL(store.url).toString());
  await open.query('BEGIN');
  await open.query('SELECT pg_current_xact_id()');
  await sleep(2500);
  const lag = leader.feedLagMs();
  assert.ok(lag > 1500, `the feed is behind (${lag} ms), and says so`);
  assert.deepEqual(alerts.map(([a]) => a.rule), [], 'no silence page for a device that kept sending');
  await open.query('ROLLBACK');
  await until(() => leader.feedLagMs() < 1000, FEED_MS, 'the feed to catch up');
  await sleep(300);
  sending = false;
  await sender;
  assert.deepEqual(alerts.map(([a]) => a.rule), [], 'nor once it has caught up');
});

test('a new leader knows the cameras a device announced before it led: one that sends nothing is found stalled', async (t) => {
  const { store, alerts, lead } = await setup(t, undefined, { stalledWindows: 1 });
  const birth = { schema: SCHEMAS.status, site: 'plant', device: 'd10', state: 'online', ts: Date.now(), agent: { version: '1' }, model: { name: 'm', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['c1', 'c2'], windowSeconds: 3 } as StatusMessage;
  await putStatus(store, birth, Date.now());
  await lead(); // the birth was stored before: it is not in this leader's feed
  // c1 keeps sending, every 200 ms against its 3-s window (a slow commit on a loaded machine does
  // not make it look stalled); c2 never does, and is found stalled after 3 s.
  const stalled = (): string[] => alerts.filter(([a, change]) => a.rule === 'cameraStalled' && change === 'fire').map(([a]) => a.labels.camera!);
  for (let seq = 1; !stalled().includes('c2'); seq++) {
    assert.ok(seq <= 100, `c2 found stalled within about 20 s: ${JSON.stringify(stalled())}`);
    const now = Date.now();
    const m = summaryMsg('plant', 'd10', 'c1', seq, { start: now - 3000, end: now - 10 });
    store.beginBatch();
    const stored = store.stageSummary(m, now, JSON.stringify(m));
    await store.commitBatch();
    await stored;
    await sleep(200);
  }
  assert.deepEqual(stalled(), ['c2']);
});

test('a leader that loses the lock while an alert write waits leaves that message to the next leader', async (t) => {
  const { store, leader, alerts, successor, status, lead } = await setup(t);
  await lead();
  await status('d20', 'online');
  await until(async () => (await store.feedPosition()) !== undefined, FEED_MS, 'a recorded read position');
  // The database refuses alert writes for the moment; the feed goes on.
  await store.pool.query('ALTER TABLE alerts RENAME TO alerts_away');
  await status('d20', 'offline'); // its Last Will
  await until(() => leader.firing.some((a) => a.labels.device === 'd20'), FEED_MS, 'the rules to fire on the Will');
  await sleep(POLL_MS * 6); // reads go on meanwhile
  await leader.stop(); // the lock is lost: the write waiting is given up
  await store.pool.query('ALTER TABLE alerts_away RENAME TO alerts');
  assert.equal(alerts.length, 0, 'never notified');
  const next = successor();
  await next.lead();
  await until(() => next.alerts.some(([a, change]) => a.labels.device === 'd20' && change === 'fire'), FEED_MS, 'the next leader to page d20');
  assert.equal((await store.alerts({ state: 'firing', limit: 10 })).filter((a) => a.labels.device === 'd20').length, 1);
});

test('a replica that hands the lead on lets its waiting alert writes commit first', async (t) => {
  const { store, leader, alerts, status, lead } = await setup(t);
  await lead();
  await status('d21', 'online');
  await store.pool.query('ALTER TABLE alerts RENAME TO alerts_away');
  await status('d21', 'offline');
  await until(() => leader.firing.some((a) => a.labels.device === 'd21'), FEED_MS, 'the rules to fire on the Will');
  const stopped = leader.stop({ drain: true });
  await sleep(300);
  await store.pool.query('ALTER TABLE alerts_away RENAME TO alerts');
  await stopped;
  assert.equal(alerts.length, 0, 'not notified by a leader that has handed on (the next one sends it)');
  const stored = (await store.alerts({ state: 'firing', limit: 10 })).filter((a) => a.labels.device === 'd21');
  assert.deepEqual(stored.map((a) => a.rule), ['deviceOffline'], 'its write committed before the lead was handed on');
});

test('an alert whose firing was never stored is not notified as resolved', async (t) => {
  const { store, leader, alerts, status, lead } = await setup(t);
  await lead();
  await status('d22', 'online');
  // An earlier leader's late write: d22 firing in the database, after this leader loaded the active alerts.
  const at = new Date(Date.now() - 60_000).toISOString();
  await store.saveAlert({ schema: SCHEMAS.alert, id: 'earlier-d22', rule: 'deviceOffline', fingerprint: 'deviceOffline/plant/d22', state: 'firing', severity: 'critical', labels: { site: 'plant', device: 'd22' }, annotations: {}, startsAt: at, updatedAt: at });
  // The rules fire and resolve their own alert while its writes wait for the database.
  await store.pool.query('ALTER TABLE alerts RENAME TO alerts_away');
  await status('d22', 'offline');
  await until(() => leader.firing.some((a) => a.labels.device === 'd22'), FEED_MS, 'the rules to fire');
  const mine = leader.firing.find((a) => a.labels.device === 'd22')!.id;
  await status('d22', 'online');
  await until(() => !leader.firing.some((a) => a.labels.device === 'd22'), FEED_MS, 'the rules to resolve');
  await store.pool.query('ALTER TABLE alerts_away RENAME TO alerts');
  await until(() => alerts.length > 0, 10_000, 'a notification');
  await sleep(POLL_MS * 6);
  // The stored alert is resolved under its own id; the rules' own, refused as firing, is neither notified nor stored.
  assert.deepEqual(alerts.map(([a, change]) => [a.id, change]), [['earlier-d22', 'resolve']]);
  assert.equal(await store.alert(mine), undefined, 'no resolved record of an alert that never fired');
  assert.equal((await store.alert('earlier-d22'))?.state, 'resolved');
});

test('a leader that lost its lock without knowing writes and notifies nothing once the next leader has begun', async (t) => {
  const { store, leader, alerts, fenced, successor, status, lead } = await setup(t);
  await lead();
  await status('d23', 'online');
  await until(async () => (await store.feedPosition()) !== undefined, FEED_MS, 'a recorded read position');
  // The database refuses alert writes for the moment (a trigger; reads go on).
  await store.pool.query(`CREATE FUNCTION refuse_alerts() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full' USING ERRCODE = '53100'; END $$;
    CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON alerts FOR EACH ROW EXECUTE FUNCTION refuse_alerts()`);
  await status('d23', 'offline');
  await until(() => leader.firing.some((a) => a.labels.device === 'd23'), FEED_MS, 'the first leader to fire (its write waiting)');
  // Its lock's connection is cut; it has not noticed yet. Another replica begins leading.
  const next = successor();
  await next.lead();
  await store.pool.query('DROP TRIGGER refuse ON alerts');
  await until(() => next.alerts.some(([a, change]) => a.labels.device === 'd23' && change === 'fire'), 10_000, 'the new leader to page d23');
  // The first leader's write is tried again (its back-off doubles from 250 ms), and refused.
  await until(() => fenced.count === 1, 15_000, 'the first leader to be told to give the lead up');
  assert.deepEqual(alerts, [], 'the first leader notifies nothing');
  assert.equal(next.fenced.count, 0);
  const stored = (await store.alerts({ state: 'firing', limit: 10 })).filter((a) => a.labels.device === 'd23');
  assert.deepEqual(stored.map((a) => a.id), next.leader.firing.filter((a) => a.labels.device === 'd23').map((a) => a.id), "one alert, the new leader's");
});
