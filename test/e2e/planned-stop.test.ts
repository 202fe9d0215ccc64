/**
 * Planned stops are not crashes. A clean stop (SIGTERM) publishes its reason with `offline`
 * (DRIFTLINE_STOP_REASON, default `stopping`); the collector holds deviceOffline for
 * `rules.maintenanceGraceSeconds` and pages only if the device does not come back. A SIGKILL leaves
 * the broker's Last Will, with no reason, and pages at once as before. The real `driftline agent`
 * through the machine's Mosquitto, the grace shortened.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { testCollector, uniqueName, untilSubscribed, type TestCollector } from '../helpers/collector.js';
import { agentProcess, type AgentProcess } from '../helpers/agent-process.js';
import { clearRetainedStatus, MACHINE_BROKER } from '../helpers/mosquitto.js';
import { releaser, type Release } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

const GRACE_S = 6;
/**
 * The grace of the restart within it: a fresh agent process on a loaded 2-core machine can take
 * longer than 6 s to load its model and announce itself (the first agent's shutdown, a node start,
 * the model and the inference worker: 5-11 s seen under load), and a restart past the grace tests
 * nothing.
 */
const RESTART_GRACE_S = 30;
/** Start-up of `driftline agent` (a fresh node process loading the model) and its first window. */
const STARTUP_MS = 60_000;



interface Setup {
  readonly release: Release;
  readonly collector: TestCollector;
  readonly site: string;
  readonly device: string;
  readonly config: string;
  state(): string | undefined;
  paged(): boolean;
  /** Starts the agent and waits for its first summary at the collector, with the device online. */
  start(name: string, env?: NodeJS.ProcessEnv): Promise<AgentProcess>;
}

async function setup(t: TestContext, graceS = GRACE_S): Promise<Setup> {
  const release = releaser(t);
  const collector = await testCollector({ broker: { url: MACHINE_BROKER }, rules: { maintenanceGraceSeconds: graceS } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  const site = uniqueName('site');
  const device = uniqueName('edge');
  release('retained status', () => clearRetainedStatus(site, device));
  const config = join(dir, 'agent.yaml');
  await writeFile(
    config,
    JSON.stringify({
      model: { providers: ['cpu'] },
      store: { path: join(dir, 'agent.db') },
      telemetry: { windowSeconds: 1 },
      mqtt: { url: MACHINE_BROKER, site, device, reconnectMinMs: 100 },
      http: { port: 0 },
      cameras: [{ name: 'cam', source: { kind: 'synthetic', width: 160, height: 120, fps: 10 } }],
    }),
  );
  const state = (): string | undefined => collector.store.device(site, device)?.state;
  const seqs = (): number => collector.store.summaries(site, device, 'cam').length;
  return {
    release,
    collector,
    site,
    device,
    config,
    state,
    paged: () => collector.rules.firing.some((a) => a.rule === 'deviceOffline' && a.labels.site === site && a.labels.device === device),
    async start(name, env) {
      const a = agentProcess(release, name, config, env);
      const before = seqs();
      await until(() => seqs() > before && state() === 'online', STARTUP_MS, `${name}: a summary with the device online`).catch((e: Error) => {
        throw new Error(`${e.message}; the agent said: ${a.stderr()}`);
      });
      return a;
    },
  };
}

/** Waits `ms` while the condition stays false; fails the moment it turns true. */
async function stays(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    assert.equal(cond(), false, what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('SIGTERM with a reason, back within the grace: offline is recorded with its reason, nobody is paged', { timeout: 180_000 }, async (t) => {
  const s = await setup(t, RESTART_GRACE_S);
  const first = await s.start('first agent', { ...process.env, DRIFTLINE_STOP_REASON: 'upgrade to 1.4' });
  first.proc.kill('SIGTERM');
  assert.equal(await first.exited, 0, first.stderr());
  await until(() => s.state() === 'offline', 10_000, 'the clean offline');
  assert.equal(s.collector.store.device(s.site, s.device)!.status.stopReason, 'upgrade to 1.4');
  // The grace runs from when the collector received the offline status.
  const stoppedAt = s.collector.store.device(s.site, s.device)!.lastSeen;
  await s.start('second agent');
  const bornAt = s.collector.store.device(s.site, s.device)!.status.ts;
  assert.ok(bornAt - stoppedAt < RESTART_GRACE_S * 1000, `back within the grace: its birth came ${bornAt - stoppedAt} ms after the stop`);
  // Back online: past the grace, still no page, and none that fired and resolved meanwhile.
  await stays(s.paged, Math.max(0, stoppedAt + RESTART_GRACE_S * 1000 + 1000 - Date.now()), 'no deviceOffline for a planned restart');
  assert.deepEqual(s.collector.rules.firing.filter((a) => a.labels.device === s.device), []);
  const ever = (await s.collector.store.alerts({ limit: 50, site: s.site, device: s.device })).filter((a) => a.rule === 'deviceOffline');
  assert.deepEqual(ever.map((a) => `${a.rule} ${a.state}`), [], 'no deviceOffline for the device, firing or resolved');
});

test('SIGTERM and not back within the grace: deviceOffline pages once the grace is over, naming the stop', { timeout: 120_000 }, async (t) => {
  const s = await setup(t);
  const a = await s.start('agent');
  a.proc.kill('SIGTERM');
  assert.equal(await a.exited, 0, a.stderr());
  await until(() => s.state() === 'offline', 10_000, 'the clean offline');
  // The grace runs from when the collector received the offline status (the agent's exit, awaited
  // above, can come a good while after it on a loaded machine).
  const stoppedAt = s.collector.store.device(s.site, s.device)!.lastSeen;
  assert.equal(s.collector.store.device(s.site, s.device)!.status.stopReason, 'stopping', 'the default reason');
  await until(s.paged, GRACE_S * 1000 + 10_000, 'deviceOffline after the grace');
  assert.ok(Date.now() - stoppedAt >= GRACE_S * 1000 - 500, `held for the grace (${Date.now() - stoppedAt} ms)`);
  const alert = s.collector.rules.firing.find((x) => x.rule === 'deviceOffline' && x.labels.device === s.device)!;
  assert.equal(alert.severity, 'critical');
  assert.match(alert.annotations.description!, /stopped cleanly \(stopping\) .* has not come back within 6 s/);
});

test('SIGKILL and left down: the Last Will carries no reason and pages at once, as before', { timeout: 120_000 }, async (t) => {
  const s = await setup(t);
  const a = await s.start('agent');
  a.proc.kill('SIGKILL');
  assert.equal(await a.exited, null);
  await until(() => s.state() === 'offline', 10_000, 'the Last Will');
  const willAt = Date.now();
  assert.equal(s.collector.store.device(s.site, s.device)!.status.stopReason, undefined);
  await until(s.paged, 3000, 'deviceOffline at once');
  assert.ok(Date.now() - willAt < GRACE_S * 1000, 'not held for the grace');
  assert.match(s.collector.rules.firing.find((x) => x.rule === 'deviceOffline' && x.labels.device === s.device)!.annotations.description!, /Last Will/);
});
