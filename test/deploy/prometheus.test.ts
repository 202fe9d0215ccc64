/**
 * The Prometheus side, checked by Prometheus' own promtool (Debian's `prometheus` package): the
 * shipped scrape config and alerting rules are valid, the rules' unit tests pass, and what the real
 * collector serves on /metrics passes promtool's lint for every metric Driftline defines.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { testCollector } from '../helpers/collector.js';
import { ROOT } from '../helpers/cli.js';
import { endProcess, releaser } from '../helpers/ports.js';

const run = promisify(execFile);
const DIR = `${ROOT}deploy/prometheus`;

test('deploy/prometheus: config and rules are valid; the rules fire as their unit tests say', async () => {
  const config = await run('promtool', ['check', 'config', 'prometheus.yml'], { cwd: DIR });
  assert.match(config.stdout + config.stderr, /SUCCESS: prometheus\.yml is valid/);
  const rules = await run('promtool', ['test', 'rules', 'driftline-rules.test.yml'], { cwd: DIR });
  assert.match(rules.stdout + rules.stderr, /SUCCESS/);
});

test('collector /metrics passes promtool check metrics', { timeout: 30_000 }, async (t) => {
  const release = releaser(t);
  const c = await testCollector();
  release('collector', () => c.stop());
  const text = await (await fetch(`${c.httpUrl}/metrics`)).text();
  assert.match(text, /^driftline_collector_rejected_total\{reason="schema"\} 0$/m);
  const lint = await new Promise<string>((resolve, reject) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    release('promtool', () => endProcess(p));
    let out = '';
    p.once('error', reject);
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (out += d));
    p.on('close', () => resolve(out));
    p.stdin.end(text);
  });
  // prom-client's own process metrics (nodejs_active_*_total gauges) are outside Driftline's control.
  const ours = lint.split('\n').filter((l) => l.trim() && !/_nodejs_active_\w+_total /.test(l));
  assert.deepEqual(ours, [], lint);
});
