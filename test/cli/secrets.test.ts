/**
 * Issue 11, finding 7: no secret in any output, and private files. A collector and an agent run with
 * every kind of secret set (a password inside a broker URL, password files, the acknowledge token,
 * the webhook key); their --check output and their logs at debug level never show one. What they
 * create on disk (databases, review frames) is readable by their own user alone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { redact, redactUrl } from '../../lib/redact.js';
import { CLI, cliWith } from '../helpers/cli.js';
import { uniqueName } from '../helpers/collector.js';
import { clearRetainedStatus } from '../helpers/mosquitto.js';
import { releaser } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

const SECRETS = { url: 'url-pass-7f3a', file: 'file-pass-91c2', token: 'ack-token-55d0', hook: 'hook-key-0be4', inline: 'inline-pass-e81d' };

test('redactUrl hides a URL password; redact hides secret keys and URL passwords anywhere', () => {
  assert.equal(redactUrl('mqtts://edge-1:s3cr%40t@broker:8883/x'), 'mqtts://edge-1:(hidden)@broker:8883/x');
  assert.equal(redactUrl('mqtt://broker:1883'), 'mqtt://broker:1883');
  assert.equal(redactUrl('mqtt://user@broker'), 'mqtt://user@broker');
  // Passwords left unencoded break the URL or move its parts: hidden up to the last @ all the same.
  assert.equal(redactUrl('postgres://driftline:Plant#42@pw@db:5432/driftline'), 'postgres://driftline:(hidden)@db:5432/driftline');
  assert.equal(redactUrl('postgres://driftline:a/b?c@db/driftline'), 'postgres://driftline:(hidden)@db/driftline');
  assert.equal(redactUrl('postgres://driftline@db/driftline?sslmode=require&password=q%40z'), 'postgres://driftline@db/driftline?sslmode=require&password=(hidden)');
  assert.equal(redactUrl('postgres://db:5432/driftline'), 'postgres://db:5432/driftline');
  assert.equal(redactUrl('postgres://driftline:correct horse battery@db/driftline'), 'postgres://driftline:(hidden)@db/driftline', 'spaces: a value refused for them is shown in the error');
  assert.equal(redactUrl('postgres://driftline@db/driftline?password=correct horse#x&sslmode=require'), 'postgres://driftline@db/driftline?password=(hidden)&sslmode=require');
  assert.deepEqual(redact({ mqtt: { url: 'mqtt://u:p@h', password: 'p', passwordFile: '/run/x' }, list: ['ws://a:b@c'] }), { mqtt: { url: 'mqtt://u:(hidden)@h', password: '(hidden)', passwordFile: '/run/x' }, list: ['ws://a:(hidden)@c'] });
});

/** Runs a command until `ready` shows in its stderr, then stops it with SIGTERM; returns stdout + stderr. */
async function runUntil(t: import('node:test').TestContext, args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // Made at once: a child that exits before the SIGTERM has already sent its 'exit'.
  const exited = new Promise((r) => child.once('exit', r));
  releaser(t)('process', () => child.exitCode === null && child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await until(() => ready.test(out) || child.exitCode !== null, 60_000, `${args[0]} to be ready`);
  child.kill('SIGTERM');
  await exited;
  assert.match(out, ready, out);
  return out;
}

test('collector and agent: --check and debug logs never show a secret; state files are 0600 in 0700 folders', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-secrets-'));
  const site = uniqueName('sec');
  const device = uniqueName('dev');
  t.after(() => clearRetainedStatus(site, device));
  await writeFile(join(dir, 'mqtt-pass'), SECRETS.file);
  await writeFile(join(dir, 'ack'), SECRETS.token);
  await writeFile(join(dir, 'collector.yaml'), [
    `broker: { url: "mqtt://collector:${SECRETS.url}@127.0.0.1:1883", clientId: ${uniqueName('sec-collector')} }`,
    'store: { path: state/collector.db }',
    'http: { port: 0, ackTokenFile: ack }',
    `notify: { webhookUrl: "http://127.0.0.1:9/hook", webhookSecret: ${SECRETS.hook}, mqtt: false }`,
    'log: { level: debug }',
    '',
  ].join('\n'));
  await writeFile(join(dir, 'agent.yaml'), [
    'store: { path: agent-state/agent.db }',
    'review: { maxPerHour: 1000 }',
    'http: { port: 0 }',
    `mqtt: { url: "mqtt://edge:${SECRETS.url}@127.0.0.1:1883", site: ${site}, device: ${device}, password: ${SECRETS.inline} }`,
    'log: { level: debug }',
    'cameras:',
    '  - { name: cam, source: { kind: synthetic, width: 160, height: 120, fps: 20, seed: 5 } }',
    '',
  ].join('\n'));
  const env = { ...process.env, DRIFTLINE_LOG_FORMAT: 'json' };
  const outputs = [
    (await cliWith({ env }, 'collector', '--config', join(dir, 'collector.yaml'), '--check')).stdout,
    (await cliWith({ env }, 'agent', '--config', join(dir, 'agent.yaml'), '--check')).stdout,
    await runUntil(t, ['collector', '--config', join(dir, 'collector.yaml')], env, /collector started/),
    await runUntil(t, ['agent', '--config', join(dir, 'agent.yaml'), '--log-format', 'pretty'], env, /publishing to MQTT[\s\S]*agent started/),
  ];
  for (const [i, out] of outputs.entries()) {
    for (const [kind, secret] of Object.entries(SECRETS)) assert.ok(!out.includes(secret), `output ${i} shows the ${kind} secret:\n${out}`);
  }
  assert.match(outputs[0]!, /"url": "mqtt:\/\/collector:\(hidden\)@127\.0\.0\.1:1883"/);
  assert.match(outputs[3]!, /brokerPassword="set in the URL"|brokerPassword=set/);
  for (const [folder, file] of [['state', 'collector.db'], ['agent-state', 'agent.db']] as const) {
    assert.equal((await stat(join(dir, folder))).mode & 0o777, 0o700, `${folder}/ is 0700`);
    for (const f of (await readdir(join(dir, folder))).filter((x) => x.startsWith(file))) {
      const st = await stat(join(dir, folder, f));
      assert.equal(st.mode & 0o777, st.isDirectory() ? 0o700 : 0o600, `${folder}/${f} is ${st.isDirectory() ? '0700' : '0600'}`);
      if (st.isDirectory()) for (const jpeg of await readdir(join(dir, folder, f))) assert.equal((await stat(join(dir, folder, f, jpeg))).mode & 0o777, 0o600, `review frame ${jpeg} is 0600`);
    }
  }
});
