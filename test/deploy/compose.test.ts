/**
 * deploy/compose.yaml, checked with the tools at hand since no image can be pulled here: Debian's
 * docker-compose resolves and validates it (`config`), then every file it mounts is found through its
 * volumes, exactly as the container would see it, and checked by its own tool: promtool for
 * Prometheus' config and rules, amtool for Alertmanager's. Mosquitto's two config files are the ones
 * test/deploy/mosquitto.test.ts starts a real Mosquitto with. The credentials folder is a real one,
 * made by deploy/mosquitto/credentials.sh in a temp folder (DRIFTLINE_PKI).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { loadCollectorConfig } from '../../collector/config.js';
import { ROOT } from '../helpers/cli.js';

const run = promisify(execFile);
const COMPOSE = join(ROOT, 'deploy/compose.yaml');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  volumes?: string[];
  depends_on?: Record<string, unknown>;
  environment?: Record<string, string>;
}
interface Resolved {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

let pki = '';
let resolved: Resolved;

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...process.env, DRIFTLINE_PKI: pki, GRAFANA_ADMIN_PASSWORD: 'test-only-password', ...extra });

async function compose(e: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('docker-compose', ['-f', COMPOSE, 'config'], { env: e, cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const x = err as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

/** A service's bind mounts as [host path, container path]; named volumes left out. */
function binds(s: Service): [string, string][] {
  return (s.volumes ?? []).map((v) => v.split(':')).filter((p) => p[0]!.startsWith('/')).map((p) => [p[0]!, p[1]!]);
}

/** Where a path inside the container comes from on the host, through the service's bind mounts. */
function hostPath(s: Service, inContainer: string): string {
  const hits = binds(s).filter(([, c]) => inContainer === c || inContainer.startsWith(`${c}/`));
  assert.ok(hits.length, `${inContainer} is not mounted from the repository`);
  const [h, c] = hits.sort((a, b) => b[1].length - a[1].length)[0]!;
  return h + inContainer.slice(c.length);
}

function flag(s: Service, name: string): string {
  const f = (s.command ?? []).find((a) => a.startsWith(`--${name}=`));
  assert.ok(f, `--${name} in the command`);
  return f.slice(name.length + 3);
}

before(async () => {
  pki = await mkdtemp(join(tmpdir(), 'driftline-compose-pki-'));
  const sh = (...a: string[]): Promise<unknown> => run('bash', [join(ROOT, 'deploy/mosquitto/credentials.sh'), '-d', pki, ...a], { cwd: ROOT });
  await sh('ca');
  await sh('server', 'mosquitto', 'localhost');
  await sh('client', 'collector', '--role', 'collector');
  await writeFile(join(pki, 'registry.yaml'), `users:\n${await readFile(join(pki, 'clients/collector.registry.yaml'), 'utf8')}`);
  await sh('acl', join(pki, 'registry.yaml'));
  const r = await compose(env());
  assert.equal(r.code, 0, `docker-compose config failed:\n${r.stderr}`);
  resolved = parse(r.stdout) as Resolved;
});

after(async () => {
  if (pki) await rm(pki, { recursive: true, force: true });
});

test('docker-compose config passes; images are pinned by tag; every bind mount exists; the Grafana password is required', async () => {
  assert.deepEqual(Object.keys(resolved.services).sort(), ['alertmanager', 'collector', 'grafana', 'mosquitto', 'prometheus']);
  for (const [name, s] of Object.entries(resolved.services)) {
    assert.ok(s.image, `${name} has an image`);
    assert.match(s.image, /^[a-z0-9./-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$/, `${name}: ${s.image} pinned by tag or digest`);
    assert.doesNotMatch(s.image, /:latest$/, `${name}: not latest`);
    for (const [h] of binds(s)) assert.ok(existsSync(h), `${name} mounts ${h}, which exists`);
    for (const dep of Object.keys(s.depends_on ?? {})) assert.ok(resolved.services[dep], `${name} depends on a service: ${dep}`);
  }
  const c = resolved.services.collector!;
  assert.equal(c.build?.context, ROOT.replace(/\/$/, ''), 'the collector is built from the repository');
  assert.ok(existsSync(join(c.build.context, c.build.dockerfile)), 'with the plain Dockerfile');
  const missing = await compose({ ...env(), GRAFANA_ADMIN_PASSWORD: '' });
  assert.notEqual(missing.code, 0, 'no default Grafana admin password');
  assert.match(missing.stderr, /GRAFANA_ADMIN_PASSWORD/);
});

test('Prometheus: promtool passes on the config and rules compose mounts; it scrapes the collector and alerts Alertmanager by service name', async () => {
  const p = resolved.services.prometheus!;
  const config = hostPath(p, flag(p, 'config.file'));
  const out = await run('promtool', ['check', 'config', config]);
  const text = out.stdout + out.stderr;
  assert.match(text, /SUCCESS: .* is valid prometheus config file syntax/);
  assert.doesNotMatch(text, /FAILED/);
  const compose = parse(await readFile(config, 'utf8')) as PromConfig;
  for (const f of compose.rule_files) {
    const groups = (parse(await readFile(join(config, '..', f), 'utf8')) as { groups: { rules: unknown[] }[] }).groups;
    const n = groups.reduce((a, g) => a + g.rules.length, 0);
    assert.ok(n > 0, `${f} has rules`);
    assert.match(text, new RegExp(`Checking [^\\n]*${f.replace(/[.]/g, '\\.')}\\n\\s*SUCCESS: ${n} rules found`), `promtool loaded all ${n} rules of ${f} through the mount`);
  }
  const host = parse(await readFile(join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as PromConfig;
  assert.deepEqual(compose.global, host.global, 'the same intervals as deploy/prometheus/prometheus.yml');
  assert.deepEqual(compose.rule_files, host.rule_files, 'the same rules');
  assert.deepEqual(compose.scrape_configs.map((j) => j.job_name), host.scrape_configs.map((j) => j.job_name), 'the same jobs (the rules and dashboards select on them)');
  const http = loadCollectorConfig(join(ROOT, 'deploy/compose/collector.yaml')).config.http;
  const job = compose.scrape_configs.find((j) => j.job_name === 'driftline-collector');
  assert.deepEqual(job?.static_configs?.[0]?.targets, [`collector:${http.port}`]);
  assert.equal(http.host, '0.0.0.0', 'the collector listens beyond its own container');
  const am = compose.alerting.alertmanagers[0]!.static_configs[0]!.targets[0]!;
  assert.equal(am, `alertmanager:${9093}`);
  assert.ok(resolved.services[am.split(':')[0]!]);
});

interface PromConfig {
  global: unknown;
  rule_files: string[];
  alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[];
}

test('Alertmanager: amtool check-config passes on the file compose mounts', async () => {
  const a = resolved.services.alertmanager!;
  const out = await run('amtool', ['check-config', hostPath(a, flag(a, 'config.file'))]);
  assert.match(out.stdout + out.stderr, /SUCCESS/);
  assert.match(out.stdout, /1 receivers/);
  assert.match(out.stdout, /2 inhibit rules/);
});

test('Mosquitto: the config files the real-broker test starts with, and every file they name in the credentials folder', async () => {
  const m = resolved.services.mosquitto!;
  assert.equal(hostPath(m, '/mosquitto/config/mosquitto.conf'), join(ROOT, 'deploy/mosquitto/compose.conf'));
  assert.equal(hostPath(m, '/mosquitto/config/conf.d/driftline.conf'), join(ROOT, 'deploy/mosquitto/driftline.conf'));
  assert.equal(hostPath(m, '/etc/mosquitto/driftline'), join(pki, 'broker'), 'only the broker/ folder of the credentials');
  const main = await readFile(join(ROOT, 'deploy/mosquitto/compose.conf'), 'utf8');
  assert.match(main, /^include_dir \/mosquitto\/config\/conf\.d$/m);
  const conf = await readFile(join(ROOT, 'deploy/mosquitto/driftline.conf'), 'utf8');
  const named = [...conf.matchAll(/^\w+ (\/etc\/mosquitto\/driftline\/\S+)$/gm)].map((x) => x[1]!);
  assert.deepEqual([...new Set(named)].map((f) => f.split('/').pop()).sort(), ['broker.key', 'broker.pem', 'ca.pem', 'crl.pem', 'driftline.acl', 'driftline.passwd']);
  for (const f of named) assert.ok(statSync(hostPath(m, f)).isFile(), `${f} is made by credentials.sh`);
  assert.doesNotMatch(conf, /^allow_anonymous true/m);
  assert.doesNotMatch(conf, /^pattern /m);
  assert.deepEqual([...conf.matchAll(/^listener (\d+)/gm)].map((x) => x[1]), ['8883', '8884'], 'TLS listeners only');
  assert.equal([...conf.matchAll(/^allow_anonymous false$/gm)].length, 2, 'no anonymous access on either listener');
});

test('the collector: its config loads, and its certificate, key, CA and database are where compose mounts them', async () => {
  const c = resolved.services.collector!;
  const file = hostPath(c, c.command![c.command!.indexOf('--config') + 1]!);
  const { config } = loadCollectorConfig(file);
  assert.match(config.broker.url, /^mqtts:\/\/mosquitto:8883$/, 'the broker by service name, over mutual TLS');
  for (const f of [config.broker.ca, config.broker.cert, config.broker.key]) assert.ok(statSync(hostPath(c, f)).isFile(), f);
  assert.equal(hostPath(c, config.broker.cert), join(pki, 'clients/collector.pem'), 'its own certificate: CN=collector, the registry user');
  assert.ok((c.volumes ?? []).some((v) => v.startsWith('collector-data:/var/lib/driftline')), 'a volume for its state');
  assert.ok(config.store.path.startsWith('/var/lib/driftline/'), 'the database in that volume');
  assert.equal(new URL(config.notify.alertmanagerUrl).host, 'alertmanager:9093');
});

test('Grafana: the provisioning and dashboards folders, at the path the dashboard provider reads', async () => {
  const g = resolved.services.grafana!;
  assert.equal(hostPath(g, '/etc/grafana/provisioning'), join(ROOT, 'deploy/grafana/provisioning'));
  const provider = parse(await readFile(join(ROOT, 'deploy/grafana/provisioning/dashboards/driftline.yaml'), 'utf8')) as { providers: { options: { path: string } }[] };
  const path = provider.providers[0]!.options.path;
  assert.equal(hostPath(g, path), join(ROOT, 'deploy/grafana/dashboards'));
  assert.equal(g.environment?.GF_AUTH_ANONYMOUS_ENABLED, 'false');
});
