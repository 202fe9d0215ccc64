import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { CLI, ROOT, cli } from '../helpers/cli.js';

test('driftline agent records telemetry and, on SIGTERM, drains and flushes every frame before exiting 0', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  const db = join(dir, 'agent.db');
  const cfg = join(dir, 'agent.yaml');
  await writeFile(cfg, `store:\n  path: ${db}\n  flushMs: 5000\nlog:\n  level: info\ncameras:\n  - name: synth-a\n    source: { kind: synthetic, width: 320, height: 240, fps: 20, seed: 3 }\n  - name: synth-b\n    source: { kind: synthetic, width: 320, height: 240, fps: 20, seed: 4, schedule: [{ at: 0, gain: 1 }, { at: 2, gain: 0.5 }] }\n`);
  const child = spawn(process.execPath, [CLI, 'agent', '--config', cfg], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (logs += d));
  const t0 = Date.now();
  while (!/agent started/.test(logs)) {
    assert.ok(Date.now() - t0 < 30_000, `agent did not start:\n${logs}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 2500));
  // flushMs is 5 s: what is in the database at exit was written by the shutdown flush.
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 0, logs);
  const stopped = logs.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; cameras?: { name: string; processed: number; offered: number; dropped: number }[] }).find((l) => l.msg === 'agent stopped');
  assert.ok(stopped?.cameras, logs);
  const conn = new Database(db, { readonly: true });
  assert.equal(conn.pragma('integrity_check', { simple: true }), 'ok');
  for (const c of stopped.cameras) {
    assert.ok(c.processed > 10, `${c.name} processed ${c.processed}`);
    const rows = conn.prepare('SELECT count(*) AS n FROM frames f JOIN cameras c ON c.id = f.camera_id WHERE c.name = ?').get(c.name) as { n: number };
    assert.equal(rows.n, c.processed, `${c.name}: every processed frame was flushed`);
  }
  conn.close();
});

test('driftline agent refuses a bad config with the key at fault, before starting anything', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  const cfg = join(dir, 'agent.yaml');
  await writeFile(cfg, 'model:\n  conf: 7\ncameras:\n  - name: a\n    source: { kind: synthetic }\n');
  const r = await cli('agent', '--config', cfg);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /DRIFTLINE_ERR_CONFIG: invalid model\.conf: got 7, expected a number in \[0, 1\]/);
  const check = await cli('agent', '--config', cfg.replace('agent.yaml', 'nope.yaml'));
  assert.equal(check.code, 1);
  await writeFile(cfg, 'cameras:\n  - name: a\n    source: { kind: synthetic }\n');
  const ok = await cli('agent', '--config', cfg, '--check');
  assert.equal(ok.code, 0);
  assert.equal((JSON.parse(ok.stdout) as { config: { model: { conf: number } } }).config.model.conf, 0.25);
});

test('agent with an unreadable MQTT CA file stops at once with the key and the reason', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-cli-'));
  const file = join(dir, 'agent.yaml');
  await writeFile(file, `store: { path: ${join(dir, 'a.db')} }\nmqtt: { url: "mqtts://127.0.0.1:8883", ca: ${join(dir, 'missing-ca.pem')} }\ncameras:\n  - { name: c, source: { kind: synthetic } }\n`);
  const r = await cli('agent', '--config', file);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /DRIFTLINE_ERR_CONFIG: invalid mqtt\.ca: got .*missing-ca\.pem, expected a readable PEM file \(ENOENT\)/);
});
