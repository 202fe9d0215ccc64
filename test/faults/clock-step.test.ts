/**
 * Fault: the agent's wall clock steps, forwards and backwards, through the agent's injected clock
 * (lib/clock.ts: an NTP correction at boot, an operator setting the date, an RTC without battery).
 * The agent runs in the test's process so that the test owns its clock; the collector's skew bound
 * is 60 s here.
 *
 * Phases, each until every camera has sent windows in it:
 *   +30 s       inside the bound: windows stored; a clockStep event per camera, stored;
 *   +10.5 min   beyond it: windows quarantined with the reason (`time: …`), not stored, not lost;
 *   back to 0   stored again;
 *   -1 h        old times are fine (a backlog looks the same): stored;
 *   back to 0   stored.
 * No stored window spans a step or ends before it starts, and the accounting holds: every seq the
 * agent committed is stored or quarantined, none twice.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { agentConfig } from '../../agent/config.js';
import { startAgent } from '../../agent/main.js';
import { silentLogger } from '../../lib/log.js';
import { testCollector, uniqueName, untilSubscribed } from '../helpers/collector.js';
import { TestBroker } from '../helpers/mosquitto.js';
import { releaser } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';
import { account, report, untilAllStored } from './accounting.js';
import { storedEvents } from './events.js';

const CAMERAS = ['a', 'b'];
const SKEW_S = 60;
const MIN = 60_000;

test('agent clock steps inside and beyond the collector skew: windows cut at each step, stored or quarantined with the reason, none lost', { timeout: 300_000 }, async (t) => {
  const t0 = Date.now();
  const release = releaser(t);
  const broker = await TestBroker.start();
  release('broker', () => broker.stop());
  const collector = await testCollector({ broker: { url: broker.url }, ingest: { clockSkewSeconds: SKEW_S } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-fault-clock-'));
  const site = uniqueName('site');
  const device = uniqueName('fault-clock');
  const agentDb = join(dir, 'agent.db');
  const { config } = agentConfig(
    {
      model: { providers: ['cpu'], threads: 1 },
      store: { path: agentDb },
      telemetry: { windowSeconds: 1 },
      review: { enabled: false },
      mqtt: { url: broker.url, site, device, reconnectMinMs: 100, reconnectMaxMs: 1000, drainPerSecond: 200 },
      http: { port: 0 },
      cameras: CAMERAS.map((name, i) => ({ name, source: { kind: 'synthetic', width: 96, height: 72, fps: 8, seed: i + 1 } })),
    },
    {},
  );
  let offset = 0;
  const clock = { now: () => Date.now() + offset, monotonic: () => performance.now() };
  const agent = await startAgent(config, silentLogger, { clock });
  const stopAgent = release('agent', () => agent.stop());

  const stored = (cam: string): { seq: number; start: number; end: number }[] =>
    collector.store.summaries(site, device, cam).map((s) => ({ seq: s.seq, start: s.start, end: s.end }));
  const quarantined = (): { camera: string; seq: number; reason: string }[] => {
    const db = new Database(collector.store.file, { readonly: true });
    try {
      return db.prepare('SELECT camera, seq, reason FROM quarantine WHERE site = ? AND device = ? ORDER BY camera, seq').all([site, device]) as never;
    } finally {
      db.close();
    }
  };
  /**
   * Moves the agent's wall clock to `to` ms from true time, then waits for `windows` windows per
   * camera stored after the step that began on the new clock. A count of all windows would take in
   * those closed before the step and stored after it; a window that began on an earlier phase's
   * clock near this one (+30 s, then back to 0) was stored before this step.
   */
  const phase = async (to: number, windows: number, what: string): Promise<void> => {
    const before = new Set(CAMERAS.flatMap((c) => stored(c).map((w) => `${c}/${w.seq}`)));
    offset = to;
    const at = clock.now();
    const after = (c: string): number => stored(c).filter((w) => !before.has(`${c}/${w.seq}`) && w.start >= at - 1000 && w.start <= at + 5 * MIN).length;
    await until(() => CAMERAS.every((c) => after(c) >= windows), 60_000, what);
  };

  await until(() => CAMERAS.every((c) => stored(c).length >= 2), 60_000, 'windows on the true clock');
  await phase(30_000, 2, 'windows 30 s ahead');
  const steps = (): ReturnType<typeof storedEvents> => storedEvents(collector.store.file, site, device, 'clockStep');
  await until(() => steps().length === CAMERAS.length, 30_000, 'a clockStep event per camera');
  assert.ok(Math.abs(Number(steps()[0]!.detail.stepMs) - 30_000) < 1000, `the event says how far: ${JSON.stringify(steps()[0])}`);
  const quarantinedBefore = quarantined().length;
  assert.equal(quarantinedBefore, 0, '30 s is inside the 60 s bound');

  // Counting windows after the step would count the pairs closed before it and stored after it:
  // wait for what this phase is about, quarantined windows from each camera.
  offset = 30_000 + 10 * MIN;
  await until(() => CAMERAS.every((c) => quarantined().filter((q) => q.camera === c).length >= 2), 60_000, 'windows 10.5 min ahead, quarantined');
  const ahead = quarantined();
  for (const q of ahead) assert.match(q.reason, /^time: window ends \d+ s ahead of the collector's clock \(allowed: 60 s\)/);
  const aheadStored = CAMERAS.flatMap(stored).filter((s) => s.end > Date.now() + SKEW_S * 1000);
  assert.deepEqual(aheadStored, [], 'none of them reached the rules');

  await phase(0, 2, 'windows back on true time');
  await phase(-60 * MIN, 2, 'windows an hour behind');
  await phase(0, 2, 'windows on true time again');
  await stopAgent();

  const of = { agentDb, collectorDb: collector.store.file, site, device, cameras: CAMERAS };
  await untilAllStored(of);
  const now = Date.now();
  for (const c of CAMERAS) {
    const ws = stored(c);
    for (const w of ws) {
      assert.ok(w.end >= w.start, `ordered: ${JSON.stringify(w)}`);
      assert.ok(w.end - w.start < 2500, `no window spans a step: ${JSON.stringify(w)}`);
    }
    assert.ok(ws.some((w) => w.start < now - 50 * MIN), `${c}: the hour-behind windows are stored`);
    assert.ok(ws.some((w) => w.start > now - MIN && w.start > ws.find((x) => x.start < now - 50 * MIN)!.start), `${c}: and the ones after the clock came back`);
  }
  const acc = account(of);
  assert.equal(acc.quarantined, quarantined().length);
  report(t, acc, `clock steps +30 s, +10.5 min, 0, -1 h, 0: ${acc.quarantined} quarantined (time); events rejected for time at ingest=${collector.ingest.counters.rejected.time}; took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
});
