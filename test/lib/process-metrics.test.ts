import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { DROPPED_PROCESS_METRICS, PROCESS_METRICS, registerProcessMetrics } from '../../lib/process-metrics.js';

test('process metrics: the standard names, unprefixed, without the gauges named like counters; one call per registry', async () => {
  const a = new Registry();
  const b = new Registry();
  registerProcessMetrics(a);
  registerProcessMetrics(b); // a second process's registry (tests run agent and collector in one process)
  for (const r of [a, b]) {
    const text = await r.metrics();
    const names = new Set(r.getMetricsAsArray().map((m) => m.name));
    for (const name of DROPPED_PROCESS_METRICS) assert.ok(!names.has(name) && !text.includes(`${name} `), name);
    for (const name of [PROCESS_METRICS.cpuUserSeconds, PROCESS_METRICS.cpuSeconds, PROCESS_METRICS.residentMemory, PROCESS_METRICS.heapUsed, PROCESS_METRICS.activeHandles, PROCESS_METRICS.version]) {
      assert.match(text, new RegExp(`^${name}(\\{[^}]*\\})? `, 'm'), name);
    }
    for (const m of (await r.getMetricsAsJSON()).filter((x) => x.name.endsWith('_total'))) assert.equal(m.type, 'counter', `${m.name} ends in _total`);
  }
  assert.throws(() => registerProcessMetrics(a), /already been registered/);
});
