import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { COLLECTOR_SCHEMA, collectorConfig } from '../../collector/config.js';
import { isDriftlineError } from '../../lib/errors.js';
import { describe } from '../../lib/schema.js';
import { cli } from '../helpers/cli.js';

test('collector config: defaults, env overrides, unknown keys and a webhook without a key are errors', () => {
  const { config } = collectorConfig({}, {});
  assert.equal(config.broker.url, '');
  assert.equal(config.rules.driftForSeconds, 300);
  assert.ok(Object.isFrozen(config.rules));
  const env = collectorConfig({}, { DRIFTLINE_COLLECTOR_HTTP__ACK_TOKEN: 't', DRIFTLINE_COLLECTOR_RULES__DRIFT_FOR_SECONDS: '60' });
  assert.equal(env.config.http.ackToken, 't');
  assert.equal(env.config.rules.driftForSeconds, 60);
  assert.deepEqual(env.envUsed.sort(), ['DRIFTLINE_COLLECTOR_HTTP__ACK_TOKEN', 'DRIFTLINE_COLLECTOR_RULES__DRIFT_FOR_SECONDS']);
  assert.throws(() => collectorConfig({ rules: { driftFor: 3 } }, {}), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /rules\.driftFor/.test(e.message));
  // The same for the environment: a misspelt variable is refused with the nearest name; the agent's are not the collector's.
  assert.throws(() => collectorConfig({}, { DRIFTLINE_COLLECTOR_RULES__DRIFT_FOR_SECOND: '60' }), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /DRIFTLINE_COLLECTOR_RULES__DRIFT_FOR_SECOND: .*did you mean DRIFTLINE_COLLECTOR_RULES__DRIFT_FOR_SECONDS\?/.test(e.message));
  assert.deepEqual(collectorConfig({}, { DRIFTLINE_MQTT__URL: 'mqtt://x', DRIFTLINE_STORE__PATH: 'a.db' }).envUsed, []);
  assert.throws(() => collectorConfig({ broker: { url: 'http://x' } }, {}), /broker\.url/);
  assert.throws(() => collectorConfig({ notify: { webhookUrl: 'https://hooks.example/x' } }, {}), /notify\.webhookSecret/);
  // A leader must stop, when cut off, before PostgreSQL frees its lock (cluster/leadership.ts): polls over 3 s break that.
  assert.throws(() => collectorConfig({ cluster: { leaderPollSeconds: 5 } }, {}), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /cluster\.leaderPollSeconds/.test(e.message));
  assert.equal(collectorConfig({ cluster: { leaderPollSeconds: 3 } }, {}).config.cluster.leaderPollSeconds, 3);
});

test('collector config: the embedded broker is anonymous on loopback by default, with its caps, and its registry path is relative to the file', () => {
  const { config } = collectorConfig({}, {});
  assert.deepEqual(
    [config.broker.registry, config.broker.allowAnonymous, config.broker.maxPacketBytes, config.broker.maxRetained, config.broker.maxClients, config.broker.maxInflight],
    ['', false, 260 << 10, 10_000, 1000, 100],
  );
  assert.equal(collectorConfig({ broker: { registry: 'registry.yaml', host: '0.0.0.0' } }, {}, '/etc/driftline').config.broker.registry, '/etc/driftline/registry.yaml');
  assert.throws(() => collectorConfig({}, { DRIFTLINE_COLLECTOR_BROKER__HOST: '10.0.0.5' }), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /broker\.registry/.test(e.message));
  assert.throws(() => collectorConfig({ broker: { maxPacketBytes: 100 } }, {}), /broker\.maxPacketBytes/);
});

test('driftline collector --check hides secrets', async () => {
  process.env.DRIFTLINE_COLLECTOR_HTTP__ACK_TOKEN = 'do-not-print-me'; // inherited by the child
  const r = await cli('collector', '--check');
  delete process.env.DRIFTLINE_COLLECTOR_HTTP__ACK_TOKEN;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).config.http.port, 8080);
  assert.equal(JSON.parse(r.stdout).config.http.ackToken, '(hidden)');
  assert.ok(!r.stdout.includes('do-not-print-me'));
});

test('docs/configuration.md documents every collector key', async () => {
  const doc = await readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  for (const r of describe(COLLECTOR_SCHEMA)) assert.ok(doc.includes(`\`${r.key}\``), `docs/configuration.md is missing collector key ${r.key}`);
});
