import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentConfig, DEFAULT_HTTP_PORT, loadAgentConfig, SHIPPED_MODEL } from '../../agent/config.js';
import { isDriftlineError } from '../../lib/errors.js';
import { redact } from '../../lib/redact.js';

const minimal = { cameras: [{ name: 'line-1', source: { kind: 'ffmpeg', url: 'rtsp://10.0.0.5/stream' } }] };

function rejects(raw: unknown, key: RegExp, env: NodeJS.ProcessEnv = {}): void {
  assert.throws(
    () => agentConfig(raw, env),
    (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && key.test(e.message),
    `${JSON.stringify(raw)} should be refused with ${key}`,
  );
}

test('a minimal config for one camera starts from documented defaults, deeply frozen', () => {
  const { config } = agentConfig(minimal, {});
  assert.equal(config.model.path, SHIPPED_MODEL);
  assert.deepEqual(config.model.providers, ['auto']);
  assert.equal(config.model.requireProvider, '');
  assert.deepEqual({ ...config.model.tensorrt }, { cacheDir: '', fp16: true, workspaceBytes: 1 << 30 });
  assert.equal(config.model.conf, 0.25);
  assert.equal(config.store.path, 'data/agent.db');
  assert.equal(config.store.maxBytes, 1 << 30);
  assert.deepEqual({ ...config.cameras[0]!.source }, { kind: 'ffmpeg', url: 'rtsp://10.0.0.5/stream', width: 640, height: 480, fps: 0, loop: false, realtime: false, stallSeconds: 10 });
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.model) && Object.isFrozen(config.cameras) && Object.isFrozen(config.cameras[0]!.source));
  assert.throws(() => {
    (config.model as { conf: number }).conf = 0.9;
  }, TypeError);
});

test('unknown and invalid keys name the key, the value and what was expected', () => {
  rejects({ ...minimal, stor: {} }, /invalid stor: got \{\}, expected a known key here: one of model, store, telemetry, drift, review, mqtt, http, log, cameras/);
  rejects({ ...minimal, store: { maxByte: 5 } }, /invalid store\.maxByte: got 5, expected a known key/);
  rejects({ ...minimal, model: { conf: 2 } }, /invalid model\.conf: got 2, expected a number in \[0, 1\]/);
  rejects({ ...minimal, model: { providers: ['gpu'] } }, /model\.providers: got "gpu", expected one of tensorrt, cuda, cpu, auto/);
  // A key whose default is empty takes an empty value written out, meaning the same ("do not publish").
  assert.equal(agentConfig({ ...minimal, mqtt: { url: '' }, model: { requireProvider: '' } }, {}).config.mqtt.url, '');
  rejects({ ...minimal, model: { path: '' } }, /model\.path: got "", expected a non-empty string/);
  rejects({ ...minimal, model: { providers: ['auto', 'cpu'] } }, /model\.providers: got \["auto","cpu"\], expected auto alone, or a list of providers in the order to try/);
  rejects({ ...minimal, model: { providers: ['cuda', 'cpu'], requireProvider: 'tensorrt' } }, /model\.requireProvider: got "tensorrt", expected a provider in model\.providers \(cuda, cpu\), or auto there/);
  rejects({ ...minimal, model: { tensorrt: { workspaceBytes: 5 } } }, /model\.tensorrt\.workspaceBytes: got 5/);
  rejects({ ...minimal, model: { threads: 1.5 } }, /model\.threads: got 1\.5, expected a whole number/);
  rejects({ cameras: [] }, /cameras: got \[\], expected a list of at least 1/);
  rejects({}, /cameras/);
  rejects({ cameras: [{ name: 'a b', source: { kind: 'ffmpeg', url: 'x' } }] }, /cameras\[0\]\.name: got "a b"/);
  rejects({ cameras: [{ name: 'a', source: { kind: 'webcam' } }] }, /cameras\[0\]\.source\.kind: got "webcam", expected one of ffmpeg, gstreamer, images, synthetic/);
  rejects({ cameras: [{ name: 'a', source: { kind: 'ffmpeg' } }] }, /cameras\[0\]\.source\.url/);
  rejects({ cameras: [{ name: 'a', source: { kind: 'synthetic', schedule: [{ at: 0, brightness: 2 }] } }] }, /cameras\[0\]\.source\.schedule\[0\]\.brightness/);
  rejects({ cameras: [{ name: 'a', source: { kind: 'synthetic' } }, { name: 'a', source: { kind: 'synthetic' } }] }, /cameras\[1\]\.name: got "a", expected a name no other camera uses/);
});

test('environment variables override the file, typed by the schema', () => {
  const { config, envUsed } = agentConfig(minimal, { DRIFTLINE_STORE__MAX_BYTES: '2000000', DRIFTLINE_MODEL__PROVIDERS: 'cuda, cpu', DRIFTLINE_LOG__LEVEL: 'debug', DRIFTLINE_STORE__PATH: '/var/lib/driftline/a.db' });
  assert.equal(config.store.maxBytes, 2_000_000);
  assert.deepEqual(config.model.providers, ['cuda', 'cpu']);
  assert.equal(config.log.level, 'debug');
  assert.equal(config.store.path, '/var/lib/driftline/a.db');
  assert.deepEqual(envUsed.sort(), ['DRIFTLINE_LOG__LEVEL', 'DRIFTLINE_MODEL__PROVIDERS', 'DRIFTLINE_STORE__MAX_BYTES', 'DRIFTLINE_STORE__PATH']);
  rejects(minimal, /store\.maxBytes \(from DRIFTLINE_STORE__MAX_BYTES\): got "lots", expected a number/, { DRIFTLINE_STORE__MAX_BYTES: 'lots' });
  // A value out of range names its variable too, not only one that does not parse.
  rejects(minimal, /store\.maxBytes \(from DRIFTLINE_STORE__MAX_BYTES\): got 5, expected a number in/, { DRIFTLINE_STORE__MAX_BYTES: '5' });
  // A misspelt variable is refused with the nearest name, not ignored; the collector's are left to it.
  rejects(minimal, /DRIFTLINE_STORE__MAXBYTES: got \(set in the environment\), expected a variable that names a configuration key.*did you mean DRIFTLINE_STORE__MAX_BYTES\?/, { DRIFTLINE_STORE__MAXBYTES: '5' });
  assert.deepEqual(agentConfig(minimal, { DRIFTLINE_COLLECTOR_HTTP__PORT: '8081', DRIFTLINE_LOG_FORMAT: 'json', DRIFTLINE_STOP_REASON: 'upgrade' }).envUsed, []);
});

test('http: on by default on 127.0.0.1:9464; its keys are validated and each problem names the key', () => {
  const { config } = agentConfig(minimal, {});
  assert.deepEqual({ ...config.http }, { enabled: true, host: '127.0.0.1', port: DEFAULT_HTTP_PORT, wedgedSeconds: 30, readyOutboxSeconds: 300, reviewToken: '', reviewTokenFile: '' });
  assert.equal(DEFAULT_HTTP_PORT, 9464);
  assert.equal(agentConfig({ ...minimal, http: { port: 0 } }, {}).config.http.port, 0, 'port 0: any free port');
  rejects({ ...minimal, http: { port: 70000 } }, /invalid http\.port: got 70000, expected a number in \[0, 65535\]/);
  rejects({ ...minimal, http: { port: 'eighty' } }, /invalid http\.port: got "eighty", expected a number/);
  rejects({ ...minimal, http: { port: 80.5 } }, /invalid http\.port: got 80\.5, expected a whole number/);
  rejects({ ...minimal, http: { wedgedSeconds: 0 } }, /invalid http\.wedgedSeconds: got 0, expected a number in \[1, 3600\]/);
  rejects({ ...minimal, http: { enabled: 'yes' } }, /invalid http\.enabled: got "yes", expected true or false/);
  // A misspelt secret key's value is still a secret: the error names the key and hides what it held.
  rejects({ ...minimal, http: { token: 'x' } }, /invalid http\.token: got "\(hidden\)", expected a known key here: one of enabled, host, port, wedgedSeconds, readyOutboxSeconds, reviewToken, reviewTokenFile/);
  rejects(minimal, /invalid http\.port \(from DRIFTLINE_HTTP__PORT\): got "x", expected a number/, { DRIFTLINE_HTTP__PORT: 'x' });
  const env = agentConfig(minimal, { DRIFTLINE_HTTP__HOST: '0.0.0.0', DRIFTLINE_HTTP__REVIEW_TOKEN: 's3cret' });
  assert.deepEqual([env.config.http.host, env.config.http.reviewToken], ['0.0.0.0', 's3cret']);
  assert.equal((redact(env.config) as { http: { reviewToken: string } }).http.reviewToken, '(hidden)', 'printed configs hide the token');
});

test('the YAML file: read, parsed, validated; broken files get a specific error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-cfg-'));
  const good = join(dir, 'agent.yaml');
  await writeFile(good, 'cameras:\n  - name: synth\n    source:\n      kind: synthetic\n      fps: 5\n      schedule:\n        - { at: 0, gain: 1 }\n        - { at: 600, gain: 0.6 }\n');
  const { config } = loadAgentConfig(good, {});
  assert.equal(config.cameras[0]!.source.kind, 'synthetic');
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'cameras: [\n  - name: x\n');
  assert.throws(() => loadAgentConfig(bad, {}), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /valid YAML/.test(e.message) && e.message.includes(bad));
  assert.throws(() => loadAgentConfig(join(dir, 'missing.yaml'), {}), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /ENOENT/.test(e.message));
});

test('docs/configuration.md documents every key of the agent schema and its sources', async () => {
  const { readFile } = await import('node:fs/promises');
  const { describe } = await import('../../lib/schema.js');
  const { AGENT_SCHEMA, SOURCE_SCHEMAS } = await import('../../agent/config.js');
  const doc = await readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  for (const r of describe(AGENT_SCHEMA)) assert.ok(doc.includes(`\`${r.key}\``), `docs/configuration.md is missing ${r.key}`);
  for (const s of Object.values(SOURCE_SCHEMAS)) for (const r of describe(s)) assert.ok(doc.includes(`\`cameras[].source.${r.key}\``), `missing cameras[].source.${r.key}`);
});

test('deploy/agent.example.yaml is a valid configuration', () => {
  const { config } = loadAgentConfig(new URL('../../deploy/agent.example.yaml', import.meta.url).pathname, {});
  assert.equal(config.cameras[0]!.source.kind, 'synthetic');
  assert.equal(config.model.threads, 1);
});

test('relative paths resolve against the config file\'s folder; URLs, absolute paths and defaults are left alone', () => {
  const raw = {
    model: { path: 'models/m.onnx' },
    drift: { profile: '../profiles/p.json' },
    mqtt: { url: 'mqtts://broker:8883', ca: 'ca.pem', passwordFile: '/run/credentials/pw' },
    cameras: [
      { name: 'a', source: { kind: 'ffmpeg', url: 'clips/a.mp4' } },
      { name: 'b', source: { kind: 'ffmpeg', url: 'rtsp://10.0.0.5/s' } },
      { name: 'c', source: { kind: 'ffmpeg', url: 'file:clips/c.mp4' } },
      { name: 'd', source: { kind: 'images', path: 'frames/*.jpg' } },
    ],
  };
  const { config } = agentConfig(raw, {}, '/etc/driftline');
  assert.equal(config.model.path, '/etc/driftline/models/m.onnx');
  assert.equal(config.drift.profile, '/etc/profiles/p.json');
  assert.equal(config.mqtt.ca, '/etc/driftline/ca.pem');
  assert.equal(config.mqtt.passwordFile, '/run/credentials/pw');
  assert.deepEqual(config.cameras.map((c) => (c.source.kind === 'ffmpeg' ? c.source.url : c.source.kind === 'images' ? c.source.path : '')), ['/etc/driftline/clips/a.mp4', 'rtsp://10.0.0.5/s', 'file:/etc/driftline/clips/c.mp4', '/etc/driftline/frames/*.jpg']);
  assert.equal(config.store.path, 'data/agent.db', 'a default stays relative to the working directory');
  assert.equal(config.review.dir, '', 'an empty path stays empty');
  assert.equal(agentConfig({ ...raw, store: { path: ':memory:' } }, {}, '/etc/driftline').config.store.path, ':memory:', "SQLite's :memory: is not a file");
});

test('every problem in a config is reported in one error, env overrides included', () => {
  assert.throws(
    () => agentConfig({ model: { conf: 2, providers: ['gpu', 'tpu'] }, cameras: [{ name: 'a', source: { kind: 'webcam' } }, { name: 'a', source: { kind: 'synthetic', schedule: [{ gain: 1 }] } }] }, { DRIFTLINE_STORE__MAX_BYTES: 'lots' }),
    (e: unknown) => {
      assert.ok(isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG'));
      const lines = e.message.split('\n');
      assert.equal(lines[0], '7 problems in the configuration:');
      for (const re of [/store\.maxBytes \(from DRIFTLINE_STORE__MAX_BYTES\): got "lots"/, /model\.conf: got 2/, /model\.providers: got "gpu"/, /model\.providers: got "tpu"/, /cameras\[0\]\.source\.kind: got "webcam"/, /cameras\[1\]\.source\.schedule\[0\]\.at: got undefined/, /cameras\[1\]\.name: got "a", expected a name no other camera uses/]) {
        assert.ok(lines.some((l) => re.test(l)), `${re} in\n${e.message}`);
      }
      return true;
    },
  );
});
