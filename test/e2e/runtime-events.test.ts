/**
 * What the agent announces at start-up reaches on-call: a required execution provider is missing
 * on this machine (CUDA on a CPU-only box), and the model differs from the one this store last ran;
 * and what it must not announce: an x86 box on the CPU with default settings is as it should be.
 * Real agent, the machine's Mosquitto, real collector; the alerts are also published on the MQTT
 * alerts topic.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { agentConfig } from '../../agent/config.js';
import { startAgent } from '../../agent/main.js';
import { silentLogger } from '../../lib/log.js';
import { check, SCHEMAS, type AlertMessage } from '../../protocol/messages.js';
import { alertTopic } from '../../protocol/topics.js';
import { testCollector, uniqueName, untilSubscribed } from '../helpers/collector.js';
import { clearRetainedStatus, machineClient, MACHINE_BROKER } from '../helpers/mosquitto.js';
import { releaser } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

test('a required provider missing and a model change raise alerts at the collector and on the MQTT alerts topic', { timeout: 90_000 }, async (t) => {
  const release = releaser(t);
  const collector = await testCollector({ broker: { url: MACHINE_BROKER }, notify: { mqtt: true } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector);
  const site = uniqueName('site');
  const device = uniqueName('edge');
  const watcher = await machineClient('alerts');
  release('alerts watcher', () => watcher.endAsync());
  const published: AlertMessage[] = [];
  watcher.on('message', (_t, p) => published.push(JSON.parse(p.toString())));
  await watcher.subscribeAsync(alertTopic(site, device), { qos: 1 });
  release('retained status', () => clearRetainedStatus(site, device)); // released after the agents, whose clean stop retains offline

  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  const store = join(dir, 'agent.db');
  const raw = {
    model: { providers: ['cuda', 'cpu'], requireProvider: 'cuda' },
    store: { path: store },
    telemetry: { windowSeconds: 1 },
    mqtt: { url: MACHINE_BROKER, site, device },
    http: { port: 0 },
    cameras: [{ name: 'cam', source: { kind: 'synthetic', width: 160, height: 120, fps: 5 } }],
  };
  const first = await startAgent(agentConfig(raw, {}).config, silentLogger);
  await release('first agent', () => first.stop())();
  // The store remembers the model it ran; make it remember another one, as after a model update.
  const db = new Database(store);
  try {
    db.prepare("UPDATE agent_meta SET value = ? WHERE key = 'model_sha256'").run(['f'.repeat(64)]);
  } finally {
    db.close();
  }
  const second = await startAgent(agentConfig(raw, {}).config, silentLogger);
  release('second agent', () => second.stop());

  const firing = () => collector.rules.firing.filter((a) => a.labels.site === site && a.labels.device === device);
  await until(() => firing().some((a) => a.rule === 'modelChanged') && firing().some((a) => a.rule === 'providerFallback'), 30_000, 'both alerts');
  const fallback = firing().find((a) => a.rule === 'providerFallback')!;
  assert.match(fallback.annotations.summary!, /runs on cpu, not cuda/);
  assert.equal(fallback.labels.camera, undefined, 'a device-level alert');
  const changed = firing().find((a) => a.rule === 'modelChanged')!;
  assert.equal(changed.severity, 'info');
  assert.match(changed.annotations.description!, /from ffffffffffff to [0-9a-f]{12}/);
  await until(() => published.some((a) => a.rule === 'modelChanged') && published.some((a) => a.rule === 'providerFallback'), 10_000, 'alerts on MQTT');
  for (const a of published) assert.ok(check(a, SCHEMAS.alert).ok, JSON.stringify(a));
  // One alert however many cameras and starts reported the fallback. The alerts topic is QoS 1, at
  // least once: a copy may arrive twice, so consumers key on id and state.
  const fallbacks = published.filter((a) => a.rule === 'providerFallback');
  assert.deepEqual([...new Set(fallbacks.map((a) => `${a.id}:${a.state}`))], [`${fallback.id}:firing`], JSON.stringify(published.map((a) => [a.rule, a.state, a.id])));
});

test('default providers on a CPU-only box: no provider warning, no fallback alert; a box that ran on CUDA before and now cannot raises one', { timeout: 90_000 }, async (t) => {
  const release = releaser(t);
  const collector = await testCollector({ broker: { url: MACHINE_BROKER } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector);
  const site = uniqueName('site');
  const device = uniqueName('edge');
  release('retained status', () => clearRetainedStatus(site, device));
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  const store = join(dir, 'agent.db');
  const raw = (model: object) => ({
    model,
    store: { path: store },
    telemetry: { windowSeconds: 1 },
    mqtt: { url: MACHINE_BROKER, site, device },
    http: { port: 0 },
    cameras: [{ name: 'cam', source: { kind: 'synthetic', width: 160, height: 120, fps: 5 } }],
  });
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  const mine = () => collector.rules.firing.filter((a) => a.labels.site === site && a.labels.device === device);
  const summaries = () => collector.store.timeline(site, device, 'cam', 0, 100).length;

  // Defaults: providers auto, nothing required.
  const first = await startAgent(agentConfig(raw({}), {}).config, log);
  const stopFirst = release('first agent', () => first.stop());
  assert.equal(first.provider, 'cpu');
  await until(() => summaries() >= 2, 30_000, 'summaries from the default agent');
  const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
  assert.deepEqual(logged.filter((l) => l.level >= 40 && /provider/i.test(l.msg)), [], 'no provider warning');
  assert.ok(logged.some((l) => /execution provider cpu in use/.test(l.msg)), lines.join(''));
  assert.deepEqual(mine().filter((a) => a.rule === 'providerFallback'), []);
  await stopFirst();

  // The store remembers the best provider the device ran on; make it CUDA, as on a box whose GPU
  // has since failed, and list CUDA: the device now runs worse than it did.
  const db = new Database(store);
  try {
    db.prepare("UPDATE agent_meta SET value = 'cuda' WHERE key = 'provider_best'").run();
  } finally {
    db.close();
  }
  const second = await startAgent(agentConfig(raw({ providers: ['cuda', 'cpu'] }), {}).config, silentLogger);
  release('second agent', () => second.stop());
  await until(() => mine().some((a) => a.rule === 'providerFallback'), 30_000, 'the fallback alert');
  assert.match(mine().find((a) => a.rule === 'providerFallback')!.annotations.summary!, /runs on cpu, not cuda/);
});

test('a camera at another size than the profile is announced once: comparable at the same aspect ratio, not at another', { timeout: 90_000 }, async (t) => {
  const release = releaser(t);
  const collector = await testCollector({ broker: { url: MACHINE_BROKER } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector);
  const site = uniqueName('site');
  const device = uniqueName('edge');
  release('retained status', () => clearRetainedStatus(site, device));
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  // The shipped profile was made at 320x240.
  const raw = {
    model: { providers: ['cpu'] },
    store: { path: join(dir, 'agent.db') },
    telemetry: { windowSeconds: 1 },
    mqtt: { url: MACHINE_BROKER, site, device },
    http: { port: 0 },
    cameras: [
      { name: 'same', source: { kind: 'synthetic', width: 320, height: 240, fps: 2 } },
      { name: 'larger', source: { kind: 'synthetic', width: 640, height: 480, fps: 2 } },
      { name: 'square', source: { kind: 'synthetic', width: 240, height: 240, fps: 2 } },
    ],
  };
  const events = (): { camera: string; detail: Record<string, unknown> }[] => {
    const db = new Database(collector.store.file, { readonly: true });
    try {
      return (db.prepare("SELECT camera, payload FROM events WHERE site = ? AND device = ? AND kind = 'geometryMismatch' ORDER BY camera").all([site, device]) as { camera: string; payload: string }[]).map((r) => ({ camera: r.camera, detail: (JSON.parse(r.payload) as { detail: Record<string, unknown> }).detail }));
    } finally {
      db.close();
    }
  };
  for (const run of [1, 2]) {
    const agent = await startAgent(agentConfig(raw, {}).config, silentLogger);
    const stop = release(`agent ${run}`, () => agent.stop());
    // Two summaries of this run (the one before's stop sent a last window of its own): its outbox
    // sends in order, so what it announced at its start went before them.
    const before = collector.store.summaries(site, device, 'same').length;
    await until(() => collector.store.summaries(site, device, 'same').length >= before + 2, 30_000, `summaries of run ${run}`);
    await stop();
  }
  assert.deepEqual(events(), [
    { camera: 'larger', detail: { width: 640, height: 480, profileWidth: 320, profileHeight: 240, comparable: true } },
    { camera: 'square', detail: { width: 240, height: 240, profileWidth: 320, profileHeight: 240, comparable: false } },
  ], 'one event per camera that differs, and none again at the second start');
});
