/**
 * The Type=notify contract of the units in systemd/, on the real programs: `node bin/driftline.js
 * agent` and `collector` as the units start them, each with a notify socket of its own (a
 * /usr/bin/python3 datagram listener standing in for systemd, which is not PID 1 here) and
 * WATCHDOG_USEC in its environment.
 *
 * The agent says READY=1 once it is up, then pings WATCHDOG=1 at half the interval; when its
 * inference really hangs, the pings stop. The hang is made from outside, with no test hook: the agent
 * runs with --inspect=127.0.0.1:0 and the test freezes its inference worker thread over the
 * inspector protocol (Debugger.pause), as test/agent/http/server.test.ts does in-process. SIGSTOP
 * would not do: it stops the pinger with the pipeline. Thawed, the pings resume; SIGTERM brings
 * STOPPING=1. The collector says READY=1 once its HTTP API answers, pings, and says STOPPING=1.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { CLI, MODEL, ROOT } from '../helpers/cli.js';
import { uniqueName } from '../helpers/collector.js';
import { freezeWorkers, Inspector } from '../helpers/inspector.js';
import { notifyListener, type NotifyListener } from '../helpers/notify-socket.js';
import { endProcess, releaser, type Release } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

/** WATCHDOG_USEC for the children: 1 s, so pings every 0.5 s. */
const WATCHDOG_USEC = 1_000_000;

interface Child {
  readonly process: ChildProcess;
  /** Its stderr so far (JSON log lines, and Node's inspector banner). */
  stderr(): string;
  /** Its JSON log lines so far. */
  readonly logs: Record<string, unknown>[];
  exit(): Promise<number | null>;
}

/** Runs `node [flags] bin/driftline.js args…` under the notify socket, as a unit's ExecStart would. */
async function underSystemd(release: Release, socket: NotifyListener, nodeFlags: string[], args: string[]): Promise<Child> {
  const env = { ...process.env, NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: String(WATCHDOG_USEC) };
  const child = spawn(process.execPath, [...nodeFlags, CLI, ...args, '--log-format', 'json'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  release(`driftline ${args[0]}`, () => endProcess(child, 10_000));
  let text = '';
  const logs: Record<string, unknown>[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    text += line + '\n';
    if (line.startsWith('{')) logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { process: child, stderr: () => text, logs, exit: () => exited };
}

const alive = (c: Child): void => assert.equal(c.process.exitCode, null, `it exited early:\n${c.stderr()}`);

test('agent: READY=1 once up, WATCHDOG=1 pings, no pings while inference hangs, pings again once it runs, STOPPING=1', { timeout: 300_000 }, async (t) => {
  const release = releaser(t);
  const socket = await notifyListener(release);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-notify-agent-'));
  release('agent folder', () => rm(dir, { recursive: true, force: true }));
  const store = join(dir, 'agent.db');
  const config = {
    model: { path: MODEL, providers: ['cpu'], threads: 1, inferenceThread: 'worker' },
    store: { path: store },
    telemetry: { windowSeconds: 1 },
    drift: { minFrames: 5 },
    mqtt: { device: uniqueName('notify-edge') }, // no url: nothing published
    http: { port: 0, wedgedSeconds: 2 },
    cameras: [{ name: 'cam', source: { kind: 'synthetic', width: 160, height: 120, fps: 10 } }],
  };
  // JSON is YAML.
  await writeFile(join(dir, 'agent.yaml'), JSON.stringify(config, null, 2));
  const agent = await underSystemd(release, socket, ['--inspect=127.0.0.1:0'], ['agent', '--config', join(dir, 'agent.yaml')]);

  await until(() => socket.having('READY=1').length > 0 || agent.process.exitCode !== null, 90_000, 'READY=1 from the agent');
  alive(agent);
  const ready = socket.having('READY=1')[0]!;
  assert.match(ready.fields.STATUS ?? '', /^running: 1 camera\(s\) on cpu$/);
  assert.ok(existsSync(store), 'the store is open when READY=1 comes');
  assert.deepEqual(socket.messages.slice(0, socket.messages.indexOf(ready)), [], 'READY=1 is the first message');
  await until(() => socket.having('WATCHDOG=1').length >= 3, 30_000, 'three watchdog pings');
  const url = agent.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('HTTP on'))?.url as string;
  assert.equal((await fetch(`${url}/healthz`)).status, 200);

  // Hang inference for real: the inference worker thread stops at its next statement.
  const banner = /Debugger listening on (ws:\/\/\S+)/.exec(agent.stderr());
  assert.ok(banner, `the inspector's address in:\n${agent.stderr()}`);
  const inspector = await Inspector.connect(banner[1]!);
  release('inspector connection', () => inspector.close());
  const frozen = await freezeWorkers(inspector, /inference-worker/);
  const thaw = release('inference worker (thawed)', () => frozen.thaw());

  await until(() => socket.messages.some((m) => m.fields.STATUS?.startsWith('pipeline wedged: camera cam')), 60_000, 'the agent to say its pipeline is wedged');
  const wedgedAt = socket.messages.findIndex((m) => m.fields.STATUS?.startsWith('pipeline wedged: camera cam'));
  // The agent's own /healthz says how long the frame has waited: past the 2 s bound by 3 s more,
  // six ping intervals during which the agent checked and did not ping.
  let waited = 0;
  for (;;) {
    const r = await fetch(`${url}/healthz`);
    const body = (await r.json()) as { wedged?: { waitingSeconds: number }[] };
    assert.equal(r.status, 503);
    waited = body.wedged![0]!.waitingSeconds;
    if (waited >= 5) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const sinceWedged = socket.messages.slice(wedgedAt + 1);
  assert.deepEqual(sinceWedged.filter((m) => 'WATCHDOG' in m.fields), [], `no ping while a frame waited ${waited} s`);
  t.diagnostic(`pings before the hang: ${socket.having('WATCHDOG=1').length}; none while a frame waited ${waited} s (bound 2 s)`);

  await thaw();
  // Node waits at exit for a connected debugger to leave: leave now.
  await inspector.close();
  // First the pipeline itself recovers (its /healthz), then the pings follow; a failure says which
  // of the two did not happen, with what the agent and the socket saw.
  const seen = (): string => `\nthe agent ${agent.process.exitCode === null && agent.process.signalCode === null ? 'still runs' : `exited (code ${agent.process.exitCode}, signal ${agent.process.signalCode})`}\nnotify messages since the wedge: ${JSON.stringify(socket.messages.slice(wedgedAt + 1).map((m) => m.fields))}\nagent stderr (end): ${agent.stderr().slice(-2000)}`;
  let health: number | string = 0;
  for (const t0 = Date.now(); health !== 200; await new Promise((r) => setTimeout(r, 200))) {
    if (Date.now() - t0 > 60_000) assert.fail(`the pipeline did not run again once the inference worker was thawed (last /healthz: ${health})${seen()}`);
    health = await fetch(`${url}/healthz`).then(
      (r) => r.status,
      (e: Error & { cause?: { code?: string } }) => `${e.message} (${e.cause?.code ?? e.cause})`,
    );
  }
  await until(() => socket.messages.slice(wedgedAt + 1).some((m) => m.fields.WATCHDOG === '1' && m.fields.STATUS === 'running'), 30_000, 'pings to resume once inference runs').catch((e: Error) =>
    assert.fail(`${e.message}${seen()}`),
  );
  alive(agent);

  agent.process.kill('SIGTERM');
  assert.equal(await agent.exit(), 0, agent.stderr());
  assert.equal(socket.having('STOPPING=1').length, 1);
});

test('collector: READY=1 once its HTTP API answers, WATCHDOG=1 pings, STOPPING=1 on SIGTERM', { timeout: 90_000 }, async (t) => {
  const release = releaser(t);
  const socket = await notifyListener(release);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-notify-collector-'));
  release('collector folder', () => rm(dir, { recursive: true, force: true }));
  const config = { broker: { port: 0 }, store: { path: join(dir, 'collector.db') }, http: { port: 0 }, notify: { mqtt: false } };
  await writeFile(join(dir, 'collector.yaml'), JSON.stringify(config, null, 2));
  const collector = await underSystemd(release, socket, [], ['collector', '--config', join(dir, 'collector.yaml')]);

  await until(() => socket.having('READY=1').length > 0 || collector.process.exitCode !== null, 60_000, 'READY=1 from the collector');
  alive(collector);
  const status = socket.having('READY=1')[0]!.fields.STATUS ?? '';
  const http = /^running: HTTP on (http:\/\/\S+)$/.exec(status);
  assert.ok(http, status);
  const health = await fetch(`${http[1]}/healthz`);
  assert.equal(health.status, 200);
  await until(() => socket.having('WATCHDOG=1').length >= 2, 30_000, 'two watchdog pings');

  collector.process.kill('SIGTERM');
  assert.equal(await collector.exit(), 0, collector.stderr());
  assert.equal(socket.having('STOPPING=1').length, 1);
});
