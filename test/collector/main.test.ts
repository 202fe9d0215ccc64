import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectorConfig } from '../../collector/config.js';
import { startCollector } from '../../collector/main.js';
import { isDriftlineError } from '../../lib/errors.js';
import { silentLogger } from '../../lib/log.js';

test('a port already taken (the machine broker holds 1883) is a coded error naming the key to change', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-collector-'));
  const { config } = collectorConfig({ broker: { port: 1883 }, store: { path: join(dir, 'c.db') }, http: { port: 0 } }, {});
  await assert.rejects(startCollector(config, silentLogger), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_LISTEN') && /127\.0\.0\.1:1883 \(EADDRINUSE\).*broker\.port/.test(e.message));
});

test('an HTTP port already taken is a coded error, and nothing started before it is left running', async () => {
  const { createServer } = await import('node:net');
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const port = (holder.address() as import('node:net').AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'driftline-collector-'));
  const { config } = collectorConfig({ broker: { port: 0 }, store: { path: join(dir, 'c.db') }, http: { port } }, {});
  await assert.rejects(startCollector(config, silentLogger), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_LISTEN') && /http\.port/.test(e.message));
  holder.close();
  // The embedded broker it had started is closed: this test file exits (a leaked broker would hang it).
});
