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
