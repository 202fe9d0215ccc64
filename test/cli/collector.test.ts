/**
 * `driftline collector` as an operator runs it: --check, a start that fails on a bad file (and leaves
 * nothing behind), and a default start on a machine whose port 1883 is already taken.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli, cliWith } from '../helpers/cli.js';

test('a missing token file: --check and a start both name it, and the start creates no database', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-collector-cli-'));
  const cfg = join(dir, 'collector.yaml');
  await writeFile(cfg, `broker: { port: 0 }\nstore: { path: state/collector.db }\nhttp: { port: 0, ackTokenFile: secrets/ack }\nnotify: { webhookUrl: "http://127.0.0.1:9/hook", webhookSecretFile: secrets/hook }\n`);
  for (const args of [['--check'], []]) {
    const r = await cli('collector', '--config', cfg, ...args);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^driftline: DRIFTLINE_ERR_CHECK: 2 problems found before start:\n/);
    assert.ok(r.stderr.includes(`  - DRIFTLINE_ERR_CONFIG: invalid http.ackTokenFile: got "${join(dir, 'secrets/ack')}", expected a readable file (ENOENT)\n`), r.stderr);
    assert.ok(r.stderr.includes(`  - DRIFTLINE_ERR_CONFIG: invalid notify.webhookSecretFile: got "${join(dir, 'secrets/hook')}", expected a readable file (ENOENT)\n`), r.stderr);
    assert.deepEqual(await readdir(dir), ['collector.yaml'], `${args.join(' ') || 'a start'} created nothing`);
  }
});

test('--check warns about a port already taken but passes; the start then fails on it with what to do', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-collector-cli-'));
  const holder = createServer();
  const port = await new Promise<number>((resolve) => holder.listen(0, '127.0.0.1', () => resolve((holder.address() as { port: number }).port)));
  t.after(() => new Promise((r) => holder.close(r)));
  const env = { ...process.env, DRIFTLINE_COLLECTOR_BROKER__PORT: String(port), DRIFTLINE_COLLECTOR_HTTP__PORT: '0', DRIFTLINE_COLLECTOR_STORE__PATH: join(dir, 'c.db') };
  const check = await cliWith({ env }, 'collector', '--check');
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stderr, new RegExp(`driftline: warning: broker\\.port: 127\\.0\\.0\\.1:${port} cannot be opened now \\(EADDRINUSE\\)`));
  const start = await cliWith({ env }, 'collector');
  assert.equal(start.code, 1);
  assert.match(start.stderr, new RegExp(`DRIFTLINE_ERR_LISTEN: cannot open the embedded MQTT broker on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\): an MQTT broker \\(Mosquitto\\?\\) probably runs there already\\. Use it: set broker\\.url: mqtt://127\\.0\\.0\\.1:${port} \\(or DRIFTLINE_COLLECTOR_BROKER__URL=`));
  assert.deepEqual(await readdir(dir), [], 'the failed start created no database');
});

test('with defaults on a machine that runs Mosquitto on 1883, the collector says to use it', async () => {
  // scripts/preflight.ts has made sure the machine's broker listens on 1883.
  const dir = await mkdtemp(join(tmpdir(), 'driftline-collector-cli-'));
  const r = await cliWith({ cwd: dir, env: { ...process.env, DRIFTLINE_COLLECTOR_HTTP__PORT: '0' } }, 'collector');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot open the embedded MQTT broker on 127\.0\.0\.1:1883 \(EADDRINUSE\): an MQTT broker \(Mosquitto\?\) probably runs there already\. Use it: set broker\.url: mqtt:\/\/127\.0\.0\.1:1883/);
  assert.deepEqual(await readdir(dir), [], 'nothing created in the working directory');
});

test('--check reads the device registry and names each bad entry, without printing any hash', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-collector-cli-'));
  await writeFile(join(dir, 'devices.yaml'), 'users:\n  - { username: edge-1, site: plant, device: edge-1, passwordHash: "scrypt$not-a-hash" }\n  - { username: edge-1, site: plant, device: edge-2, passwordHash: "also-wrong" }\n');
  await writeFile(join(dir, 'collector.yaml'), 'broker: { port: 0, registry: devices.yaml }\nstore: { path: c.db }\nhttp: { port: 0 }\n');
  const r = await cli('collector', '--config', join(dir, 'collector.yaml'), '--check');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /users\[0\]/);
  assert.match(r.stderr, /users\[1\]/);
  assert.doesNotMatch(r.stderr, /not-a-hash|also-wrong/, 'hashes are never printed');
  assert.deepEqual((await readdir(dir)).sort(), ['collector.yaml', 'devices.yaml'], '--check creates nothing');
});
