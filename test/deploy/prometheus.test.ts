/**
 * The Prometheus side, checked by Prometheus' own promtool (Debian's `prometheus` package): the
 * shipped scrape config and alerting rules (collector and agent) are valid, every rule's unit tests
 * pass, and what the real collector serves on /metrics passes promtool's lint, unfiltered.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { connectAsync } from 'mqtt';
import { COLLECTOR_METRICS } from '../../collector/http/metric-names.js';
import { summaryTopic } from '../../protocol/topics.js';
import { summaryMsg, testCollector, uniqueName, untilSubscribed } from '../helpers/collector.js';
import { ROOT } from '../helpers/cli.js';
import { releaser } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';
import { promtoolCheckMetrics } from '../helpers/promtool.js';

const run = promisify(execFile);
const DIR = `${ROOT}deploy/prometheus`;

test('deploy/prometheus: config and rules are valid; the rules fire as their unit tests say', async () => {
  const config = await run('promtool', ['check', 'config', 'prometheus.yml'], { cwd: DIR });
  assert.match(config.stdout + config.stderr, /SUCCESS: prometheus\.yml is valid/);
  assert.match(config.stdout + config.stderr, /driftline-rules\.yml\s+SUCCESS: 6 rules found/, 'the collector rules');
  assert.match(config.stdout + config.stderr, /driftline-agent-rules\.yml\s+SUCCESS: 5 rules found/, 'the agent rules');
  const check = await run('promtool', ['check', 'rules', 'driftline-rules.yml', 'driftline-agent-rules.yml'], { cwd: DIR });
  assert.doesNotMatch(check.stdout + check.stderr, /FAILED/);
  for (const file of ['driftline-rules.test.yml', 'driftline-agent-rules.test.yml']) {
    const rules = await run('promtool', ['test', 'rules', file], { cwd: DIR });
    assert.match(rules.stdout + rules.stderr, /SUCCESS/, file);
  }
});

test('collector /metrics passes promtool check metrics', { timeout: 30_000 }, async (t) => {
  const release = releaser(t);
  const c = await testCollector({ rules: { driftForSeconds: 0 } });
  release('collector', () => c.stop());
  // A drifting camera, so that the per-camera and alert gauges have samples to lint.
  const mq = await connectAsync(c.brokerUrl, { clientId: uniqueName('promtool-device') });
  release('device client', () => mq.endAsync());
  await untilSubscribed(c);
  const device = uniqueName('promtool-dev');
  const end = Date.now() - 1000;
  const drivers = [{ key: 'psi:brightness', value: 0.6, warn: 0.1, alert: 0.25, level: 'alert' as const }];
  await mq.publishAsync(summaryTopic('p', device, 'c1'), JSON.stringify(summaryMsg('p', device, 'c1', 1, { start: end - 60_000, end, status: 'alert', drivers })), { qos: 1 });
  await until(() => c.rules.firing.some((a) => a.labels.device === device), 10_000, 'the drift alert');
  const text = await (await fetch(`${c.httpUrl}/metrics`)).text();
  for (const name of [COLLECTOR_METRICS.cameraVerdict, COLLECTOR_METRICS.cameraDriver, COLLECTOR_METRICS.cameraLastWindowAge, COLLECTOR_METRICS.alerts]) {
    assert.match(text, new RegExp(`^${name}\\{[^}]*\\} `, 'm'), name);
  }
  assert.match(text, /^driftline_collector_rejected_total\{reason="schema"\} 0$/m);
  // The standard process and Node.js metrics under their standard names, for stock dashboards.
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
    assert.match(text, new RegExp(`^${name} `, 'm'), name);
  }
  assert.doesNotMatch(text, /^driftline_collector_(process|nodejs)_/m, 'no prefixed copies');
  const lint = await promtoolCheckMetrics(text, release);
  assert.deepEqual(lint.out.split('\n').filter((l) => l.trim()), [], lint.out);
  assert.equal(lint.code, 0, 'promtool check metrics exits 0 on the unfiltered output');
});
