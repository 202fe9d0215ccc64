/**
 * The Grafana dashboards (deploy/grafana/), checked without Grafana:
 * - the committed JSON is what the code builds, its metric names are the registered ones, and the
 *   provisioning files point where the README says;
 * - against Debian's Prometheus, started here on a free port and scraping a live agent (the shipped
 *   model, two synthetic cameras, one of them in the dark) and a live collector that ingests its
 *   summaries: every expression of every panel of every committed dashboard returns at least one
 *   series, with the template variables set to values read from the live series. A metric renamed
 *   on one side only (the registry, or the constants without rebuilding the JSON) fails here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { agentConfig } from '../../agent/config.js';
import { AGENT_METRICS } from '../../agent/http/metric-names.js';
import { startAgent } from '../../agent/main.js';
import { COLLECTOR_METRICS } from '../../collector/http/metric-names.js';
import { DASHBOARDS, DASHBOARDS_DIR, dashboardJson, panelExpressions, type DashboardJson } from '../../deploy/grafana/dashboards.js';
import { silentLogger } from '../../lib/log.js';
import { PROCESS_METRICS } from '../../lib/process-metrics.js';
import { ROOT } from '../helpers/cli.js';
import { testCollector, uniqueName, untilSubscribed } from '../helpers/collector.js';
import { endProcess, onFreePort, releaser } from '../helpers/ports.js';
import { sleep, until } from '../helpers/wait.js';

const GRAFANA = `${ROOT}deploy/grafana/`;
const committed = async (file: string): Promise<string> => readFile(fileURLToPath(new URL(file, DASHBOARDS_DIR)), 'utf8');
const dashboards = async (): Promise<DashboardJson[]> => Promise.all(DASHBOARDS.map(async (d) => JSON.parse(await committed(d.file)) as DashboardJson));

test('deploy/grafana: the committed dashboards are what the code builds, with registered metric names only', async () => {
  for (const { file, build } of DASHBOARDS) {
    assert.equal(await committed(file), dashboardJson(build()), `deploy/grafana/dashboards/${file} differs from what deploy/grafana/*.ts builds: run npm run build:dashboards`);
  }
  const known = new Set<string>([...Object.values(AGENT_METRICS), ...Object.values(COLLECTOR_METRICS), ...Object.values(PROCESS_METRICS), `${AGENT_METRICS.stageDuration}_bucket`]);
  const all = await dashboards();
  assert.equal(new Set(all.map((d) => d.uid)).size, all.length, 'one uid per dashboard');
  for (const d of all) {
    const exprs = panelExpressions(d);
    assert.ok(exprs.length > 10, `${d.title}: ${exprs.length} expressions`);
    for (const { panel, expr } of exprs) {
      const names = expr.match(/\b(driftline|process|nodejs)_[a-z0-9_]+/g) ?? [];
      assert.ok(names.length > 0, `${d.title} / ${panel}: ${expr}`);
      for (const n of names) assert.ok(known.has(n), `${d.title} / ${panel}: ${n} is not a registered metric`);
    }
    const ids = (d.panels ?? []).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `${d.title}: panel ids are unique`);
  }
  // Provisioning: the file provider reads the folder the README mounts; the datasource's interval is the scrape interval.
  const provider = YAML.parse(await readFile(`${GRAFANA}provisioning/dashboards/driftline.yaml`, 'utf8')) as { providers: { type: string; options: { path: string } }[] };
  assert.equal(provider.providers[0]?.type, 'file');
  assert.match(await readFile(`${GRAFANA}README.md`, 'utf8'), new RegExp(`deploy/grafana/dashboards:${provider.providers[0]!.options.path}`));
  const ds = YAML.parse(await readFile(`${GRAFANA}provisioning/datasources/prometheus.yaml`, 'utf8')) as { datasources: { type: string; jsonData: { timeInterval: string } }[] };
  const prom = YAML.parse(await readFile(`${ROOT}deploy/prometheus/prometheus.yml`, 'utf8')) as { global: { scrape_interval: string } };
  assert.equal(ds.datasources[0]?.type, 'prometheus');
  assert.equal(ds.datasources[0]?.jsonData.timeInterval, prom.global.scrape_interval);
});

/** Grafana's own interval variables, as it would set them over a 1 s scrape interval. */
const BUILTINS: Record<string, string> = { __rate_interval: '5s', __interval: '1s', __range: '1m' };

/** `label_values(selector, label)`: a query variable's definition. */
const LABEL_VALUES = /^label_values\((.+),\s*(\w+)\)$/;

function substitute(expr: string, vars: Readonly<Record<string, string>>): string {
  const out = expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (all, a: string | undefined, b: string | undefined) => vars[a ?? b ?? ''] ?? all);
  assert.doesNotMatch(out, /\$/, `a variable is left unset in ${out}`);
  return out;
}

/** A Prometheus on a free port with its own storage, scraping `targets` (job: host:port) every second. */
async function startPrometheus(release: ReturnType<typeof releaser>, targets: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-prometheus-'));
  release('prometheus storage', () => rm(dir, { recursive: true, force: true }));
  const config = { global: { scrape_interval: '1s', scrape_timeout: '1s' }, scrape_configs: Object.entries(targets).map(([job, target]) => ({ job_name: job, static_configs: [{ targets: [target] }] })) };
  await writeFile(join(dir, 'prometheus.yml'), YAML.stringify(config));
  // Prometheus cannot take port 0 and say which it took: a free one, and another should a process
  // take it before Prometheus binds it.
  return onFreePort('prometheus', async (port) => {
    const data = await mkdtemp(join(dir, 'data-'));
    const p = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    p.stderr.on('data', (d: Buffer) => (log = (log + d).slice(-4000)));
    release('prometheus', () => endProcess(p));
    const url = `http://127.0.0.1:${port}`;
    const t0 = Date.now();
    for (;;) {
      if (p.exitCode !== null) throw new Error(`prometheus exited:\n${log}`);
      if ((await fetch(`${url}/-/ready`).catch(() => undefined))?.ok) return url;
      if (Date.now() - t0 > 60_000) {
        await endProcess(p);
        throw new Error(`prometheus not ready within 60 s:\n${log}`);
      }
      await sleep(200);
    }
  });
}

interface PromAnswer<T> {
  status: string;
  data: T;
  error?: string;
}

async function prom<T>(url: string, path: string, params: Record<string, string>): Promise<T> {
  const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
  const body = (await res.json()) as PromAnswer<T>;
  assert.equal(body.status, 'success', `${path} ${JSON.stringify(params)}: ${body.error}`);
  return body.data;
}

/** Each variable of a dashboard, in order, set to the first value its query finds in the live series. */
async function resolveVariables(url: string, d: DashboardJson): Promise<Record<string, string> | string> {
  const vars: Record<string, string> = { ...BUILTINS };
  for (const v of d.templating?.list ?? []) {
    if (v.type === 'datasource') continue;
    assert.equal(v.type, 'query', `${d.title}: variable ${v.name}`);
    const m = LABEL_VALUES.exec(String(v.query));
    assert.ok(m, `${d.title}: variable ${v.name} is label_values(selector, label): ${String(v.query)}`);
    const values = await prom<string[]>(url, `/api/v1/label/${m[2]!}/values`, { 'match[]': substitute(m[1]!, vars) });
    if (values.length === 0) return `variable ${v.name}: ${String(v.query)} has no values yet`;
    vars[v.name] = [...values].sort()[0]!;
  }
  return vars;
}

/** Every expression of every dashboard that returns no series now (empty: all answered). */
async function emptyPanels(url: string, all: readonly DashboardJson[]): Promise<string[]> {
  const empty: string[] = [];
  for (const d of all) {
    const vars = await resolveVariables(url, d);
    if (typeof vars === 'string') {
      empty.push(`${d.title}: ${vars}`);
      continue;
    }
    for (const { panel, refId, expr } of panelExpressions(d)) {
      const query = substitute(expr, vars);
      const data = await prom<{ resultType: string; result: unknown[] }>(url, '/api/v1/query', { query });
      if (data.resultType !== 'vector' || data.result.length === 0) empty.push(`${d.title} / ${panel} ${refId}: ${query} -> ${data.resultType} ${JSON.stringify(data.result)}`);
    }
  }
  return empty;
}

test('every panel expression of every dashboard returns series from a live Prometheus scraping a live agent and collector', { timeout: 240_000 }, async (t) => {
  const release = releaser(t);
  // The production default sinks' mqtt one on, so that notification metrics have a sink to count; the broker is this collector's own.
  const collector = await testCollector({ rules: { driftForSeconds: 0 }, notify: { mqtt: true } });
  release('collector', () => collector.stop());
  await untilSubscribed(collector);
  const site = uniqueName('grafana-site');
  const device = uniqueName('grafana-edge');
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-grafana-'));
  release('agent folder', () => rm(dir, { recursive: true, force: true }));
  const camera = (name: string, seed: number, schedule: object[]): object => ({ name, source: { kind: 'synthetic', width: 160, height: 120, fps: 8, seed, schedule } });
  const { config } = agentConfig(
    {
      model: { providers: ['cpu'], threads: 1, inferenceThread: 'worker' },
      store: { path: join(dir, 'agent.db') },
      telemetry: { windowSeconds: 2 },
      drift: { minFrames: 5 },
      mqtt: { url: collector.brokerUrl, site, device },
      http: { port: 0 },
      // One camera as commissioned, one with a third of the light: its windows alert, so the collector has a driver and an alert.
      cameras: [camera('line', 1, []), camera('dark', 2, [{ at: 0, gain: 0.35 }])],
    },
    {},
  );
  const agent = await startAgent(config, silentLogger);
  release('agent', () => agent.stop());
  assert.ok(agent.http && agent.profileFile, 'the agent serves /metrics and scores drift');

  const url = await startPrometheus(release, { 'driftline-collector': new URL(collector.httpUrl).host, 'driftline-agent': `${agent.http.host}:${agent.http.port}` });
  await until(() => collector.rules.firing.some((a) => a.labels.device === device), 90_000, 'the drift alert for the dark camera at the collector');

  // Polled until every expression has answered (rates need a few scrapes): a renamed metric never does.
  const all = await dashboards();
  let empty: string[] = [];
  const t0 = Date.now();
  do {
    empty = await emptyPanels(url, all);
    if (empty.length === 0) break;
    await sleep(1000);
  } while (Date.now() - t0 < 90_000);
  assert.ok(empty.length === 0, `panel expressions without a series:\n${empty.join('\n')}`);
  const expressions = all.reduce((n, d) => n + panelExpressions(d).length, 0);
  t.diagnostic(`${expressions} expressions over ${all.length} dashboards, each with at least one series after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  for (const d of all) t.diagnostic(`${d.title}: ${JSON.stringify(await resolveVariables(url, d))}`);
});
