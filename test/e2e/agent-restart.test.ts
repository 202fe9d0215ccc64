/**
 * The agent is killed (SIGKILL: no goodbye) and started again. The broker publishes its Last Will,
 * so the collector marks the device offline at once; after the restart the seq of each camera
 * continues from the database, and the collector holds every summary exactly once. Runs the real
 * `driftline agent` through the machine's Mosquitto.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lastSeqs, testCollector, uniqueName, untilSubscribed } from '../helpers/collector.js';
import { agentProcess } from '../helpers/agent-process.js';
import { clearRetainedStatus, MACHINE_BROKER } from '../helpers/mosquitto.js';
import { releaser } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';



const WINDOW_S = 1;
/** Windows per run to see at the collector. */
const RUN_WINDOWS = 3;
/** Start-up of `driftline agent` (a fresh node process loading the model) and its first windows. */
const startup = (windows: number): number => 60_000 + windows * WINDOW_S * 1000;

test('agent restart after SIGKILL: Last Will marks it offline, seq continues, nothing lost or doubled', { timeout: 240_000 }, async (t) => {
  const release = releaser(t);
  const collector = await testCollector({ broker: { url: MACHINE_BROKER } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector); // before the agent's first window, which it must not miss
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  const site = uniqueName('site');
  const device = uniqueName('edge');
  release('retained status', () => clearRetainedStatus(site, device)); // released after the agents: the Will and a clean stop retain offline
  const config = join(dir, 'agent.yaml');
  await writeFile(
    config,
    JSON.stringify({
      model: { providers: ['cpu'] },
      store: { path: join(dir, 'agent.db') },
      telemetry: { windowSeconds: WINDOW_S },
      mqtt: { url: MACHINE_BROKER, site, device, reconnectMinMs: 100 },
      http: { port: 0 },
      cameras: [{ name: 'cam', source: { kind: 'synthetic', width: 160, height: 120, fps: 10 } }],
    }),
  );
  const seqs = (): number[] => collector.store.summaries(site, device, 'cam').map((s) => s.seq);
  const state = (): string | undefined => collector.store.device(site, device)?.state;
  const offline = (): boolean => collector.rules.firing.some((a) => a.rule === 'deviceOffline' && a.labels.site === site && a.labels.device === device);

  const first = agentProcess(release, 'first agent', config);
  await until(() => seqs().length >= RUN_WINDOWS && state() === 'online', startup(RUN_WINDOWS), 'summaries from the first run').catch((e: Error) => {
    throw new Error(`${e.message}; the agent said: ${first.stderr()}`);
  });
  first.proc.kill('SIGKILL');
  assert.equal(await first.exited, null, 'killed, no goodbye');
  await until(() => state() === 'offline', 10_000, 'the Last Will to mark the device offline');
  await until(offline, 5000, 'deviceOffline to fire');
  const beforeRestart = Math.max(...seqs());

  const second = agentProcess(release, 'second agent', config);
  await until(() => seqs().length >= beforeRestart + RUN_WINDOWS, startup(RUN_WINDOWS), 'summaries from the second run').catch((e: Error) => {
    throw new Error(`${e.message}; the agent said: ${second.stderr()}`);
  });
  assert.equal(offline(), false, 'deviceOffline resolves when the device is back');
  second.proc.kill('SIGTERM');
  assert.equal(await second.exited, 0, `a clean stop; it said: ${second.stderr()}`);

  const last = lastSeqs(join(dir, 'agent.db'), ['cam']).cam!;
  assert.ok(last >= beforeRestart + RUN_WINDOWS, 'the second run continued the sequence');
  await until(() => seqs().length === last, 20_000, `seq 1..${last} at the collector`);
  assert.deepEqual(seqs(), Array.from({ length: last }, (_, i) => i + 1), 'every seq once, none lost, across the restart');
  await until(() => state() === 'offline', 10_000, 'the clean stop to publish offline');
});
