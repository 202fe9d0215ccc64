/**
 * The agent is killed (SIGKILL: no goodbye) and started again. The broker publishes its Last Will,
 * so the collector marks the device offline at once; after the restart the seq of each camera
 * continues from the database, and the collector holds every summary exactly once. Runs the real
 * `driftline agent` through the machine's Mosquitto.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lastSeqs, testCollector, uniqueName } from '../helpers/collector.js';
import { CLI, ROOT } from '../helpers/cli.js';
import { clearRetainedStatus, MACHINE_BROKER } from '../helpers/mosquitto.js';
import { until } from '../helpers/wait.js';

function agent(config: string): { proc: ChildProcess; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [CLI, 'agent', '--config', config], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr!.resume();
  return { proc, exited: new Promise((r) => proc.once('exit', (code) => r(code))) };
}

test('agent restart after SIGKILL: Last Will marks it offline, seq continues, nothing lost or doubled', { timeout: 150_000 }, async (t) => {
  const collector = await testCollector({ broker: { url: MACHINE_BROKER } });
  t.after(() => collector.stop());
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  const site = uniqueName('site');
  t.after(() => clearRetainedStatus(site, 'edge'));
  const config = join(dir, 'agent.yaml');
  await writeFile(
    config,
    JSON.stringify({
      model: { providers: ['cpu'] },
      store: { path: join(dir, 'agent.db') },
      telemetry: { windowSeconds: 1 },
      mqtt: { url: MACHINE_BROKER, site, device: 'edge', reconnectMinMs: 100 },
      cameras: [{ name: 'cam', source: { kind: 'synthetic', width: 160, height: 120, fps: 10 } }],
    }),
  );
  const seqs = (): number[] => collector.store.summaries(site, 'edge', 'cam').map((s) => s.seq);
  const state = (): string | undefined => collector.store.device(site, 'edge')?.state;

  const first = agent(config);
  t.after(() => first.proc.kill('SIGKILL'));
  await until(() => seqs().length >= 3 && state() === 'online', 60_000, 'summaries from the first run');
  first.proc.kill('SIGKILL');
  await first.exited;
  await until(() => state() === 'offline', 10_000, 'the Last Will to mark the device offline');
  assert.ok(collector.rules.firing.some((a) => a.rule === 'deviceOffline' && a.labels.device === 'edge' && a.labels.site === site), 'deviceOffline fires');
  const beforeRestart = seqs().at(-1)!;

  const second = agent(config);
  t.after(() => second.proc.kill('SIGKILL'));
  await until(() => seqs().length >= beforeRestart + 3, 60_000, 'summaries from the second run');
  assert.ok(!collector.rules.firing.some((a) => a.rule === 'deviceOffline' && a.labels.site === site), 'deviceOffline resolves when the device is back');
  second.proc.kill('SIGTERM');
  assert.equal(await second.exited, 0);

  const last = lastSeqs(join(dir, 'agent.db'), ['cam']).cam!;
  await until(() => seqs().length === last, 20_000, `seq 1..${last} at the collector`);
  assert.deepEqual(seqs(), Array.from({ length: last }, (_, i) => i + 1), 'every seq once, in order, across the restart');
  assert.ok(last > beforeRestart, 'the second run continued the sequence');
  await until(() => state() === 'offline', 10_000, 'the clean stop to publish offline');
});
