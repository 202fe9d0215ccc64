/**
 * The shipped Mosquitto setup, run for real: Mosquitto 2.x on spare ports with the config that
 * deploy/compose.yaml mounts (compose.conf including driftline.conf; only ports and paths are
 * changed, in a generated copy), credentials made by deploy/mosquitto/credentials.sh (openssl, a
 * test CA in a temp folder) and the ACL it generates from a device registry. Real MQTT clients show
 * what each user may do. Refusals are proven three ways: MQTT 5's PUBACK reason code (135, not
 * authorised), the broker's own log line, and, for MQTT 3.1.1 (whose PUBACK cannot refuse), a
 * subscriber that reads everything under driftline/v1/ and receives the device's next allowed
 * message but never the refused one (the broker handles one client's publishes in order, so the
 * drain is bounded by that marker, not by a clock).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { mosquittoAcl } from '../../collector/broker/mosquitto-acl.js';
import { loadRegistry } from '../../collector/broker/registry.js';
import { alertTopic, eventTopic, statusTopic, summaryTopic } from '../../protocol/topics.js';
import { ROOT } from '../helpers/cli.js';
import { TestBroker } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';

const run = promisify(execFile);
const SCRIPT = join(ROOT, 'deploy/mosquitto/credentials.sh');
const asRoot = process.getuid?.() === 0;

let pki = '';
let broker: TestBroker | undefined;
let tlsPort = 0;
let passwordPort = 0;
const clients: MqttClient[] = [];

async function credentials(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  // As root, Mosquitto drops to its own user before it reads its key and password file: give
  // them its group, exactly as docs/deploy.md tells an operator to.
  const env = { ...process.env, ...(asRoot ? { DRIFTLINE_BROKER_GROUP: 'mosquitto' } : {}) };
  return run('bash', [SCRIPT, '-d', pki, ...args], { env, cwd: ROOT });
}

/** Each file under `dir` with its sha256 and mode, to show a rerun changes nothing. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out.set(p.slice(dir.length), createHash('sha256').update(await readFile(p)).digest('hex'));
  }
  return out;
}

/** The shipped config with only ports and paths changed; each replaced string must be there. */
function adjust(text: string, swaps: [string, string][], file: string): string {
  for (const [from, to] of swaps) {
    assert.ok(text.includes(from), `${file} no longer contains ${JSON.stringify(from)}: update this test's copy`);
    text = text.split(from).join(to);
  }
  return text;
}

const pem = (f: string): Promise<Buffer> => readFile(join(pki, f));

/** mTLS options for a client issued by credentials.sh. */
async function certOf(user: string): Promise<IClientOptions> {
  return { ca: await pem('broker/ca.pem'), cert: await pem(`clients/${user}.pem`), key: await pem(`clients/${user}.key`) };
}

async function passwordOf(user: string): Promise<IClientOptions> {
  return { ca: await pem('broker/ca.pem'), username: user, password: (await pem(`clients/${user}.password`)).toString() };
}

type Attempt = { client: MqttClient } | { refused: string; code?: number };

/** Connects once (no retries): the client, or why it was refused (CONNACK code or TLS error). */
function attempt(port: number, o: IClientOptions): Promise<Attempt> {
  return new Promise((resolve) => {
    const c = connect(`mqtts://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000, clientId: `t-${Math.random().toString(16).slice(2, 10)}`, ...o });
    // Only this function's own listeners come off: mqtt.js keeps its state with listeners of its own.
    const onConnect = (): void => done({ client: c });
    const onError = (e: Error & { code?: number | string }): void => done({ refused: e.message, ...(typeof e.code === 'number' ? { code: e.code } : {}) });
    const onClose = (): void => done({ refused: 'connection closed before CONNACK' });
    const done = (r: Attempt): void => {
      c.off('connect', onConnect);
      c.off('error', onError);
      c.off('close', onClose);
      if ('refused' in r) c.end(true);
      else {
        c.on('error', () => undefined); // a later error (the broker closing it) is the test's to see
        clients.push(c);
      }
      resolve(r);
    };
    c.once('connect', onConnect);
    c.once('error', onError);
    c.once('close', onClose);
  });
}

async function connected(port: number, o: IClientOptions): Promise<MqttClient> {
  const r = await attempt(port, o);
  if ('refused' in r) assert.fail(`expected a connection, got: ${r.refused}\nbroker log:\n${broker?.log.slice(-3000)}`);
  return r.client;
}

/** Publishes at QoS 1; MQTT 5's PUBACK reason code, 0 when accepted. */
async function puback(c: MqttClient, topic: string, payload = 'x', retain = false): Promise<number> {
  try {
    await c.publishAsync(topic, payload, { qos: 1, retain });
    return 0;
  } catch (e) {
    const code = (e as { code?: number }).code;
    if (typeof code !== 'number') throw e;
    return code;
  }
}

/** A collector-user subscriber of everything under driftline/v1/, recording what arrives. */
async function watcher(): Promise<{ seen: string[]; next: (topic: string, payload: string) => Promise<void> }> {
  const c = await connected(tlsPort, await certOf('collector'));
  const seen: string[] = [];
  const waiting = new Map<string, () => void>();
  c.on('message', (topic, payload) => {
    seen.push(`${topic} ${payload.toString()}`);
    waiting.get(`${topic} ${payload.toString()}`)?.();
  });
  const granted = await c.subscribeAsync('driftline/v1/#', { qos: 1 });
  assert.equal(granted[0]?.qos, 1, 'the collector may read driftline/v1/#');
  return {
    seen,
    next: (topic, payload) => new Promise<void>((resolve) => waiting.set(`${topic} ${payload}`, resolve)),
  };
}

/** The broker logged its refusal of this client's publish on this topic. */
function assertDeniedInLog(user: string, topic: string): void {
  const line = new RegExp(`Denied PUBLISH from ${user} \\([^)]*'${topic.replace(/[.+]/g, '\\$&')}'`);
  assert.match(broker!.log, line, `the broker log shows it refused ${user} on ${topic}`);
}

before(async () => {
  pki = await mkdtemp(join(tmpdir(), 'driftline-pki-'));
  await credentials('ca');
  await credentials('server', 'localhost', '127.0.0.1');
  await credentials('client', 'edge-1', '--site', 'plant-a');
  await credentials('client', 'edge-2', '--site', 'plant-a');
  await credentials('client', 'oven-1', '--site', 'plant-b');
  await credentials('client', 'collector', '--role', 'collector');
  await credentials('client', 'display', '--role', 'viewer');
  // Signed by the same CA but never put in the registry: it has a certificate and no rights.
  await credentials('client', 'stranger', '--site', 'plant-a');
  const entries = await Promise.all(['edge-1', 'edge-2', 'oven-1', 'collector', 'display'].map((u) => readFile(join(pki, 'clients', `${u}.registry.yaml`), 'utf8')));
  await writeFile(join(pki, 'registry.yaml'), `users:\n${entries.join('')}`);
  await credentials('acl', join(pki, 'registry.yaml'));

  broker = await TestBroker.start(async (port, dir) => {
    tlsPort = port;
    passwordPort = await freePort(); // anew on each call: the broker may start again on fresh ports
    const confd = join(dir, 'conf.d');
    await mkdir(confd, { mode: 0o755, recursive: true });
    const shipped = await readFile(join(ROOT, 'deploy/mosquitto/driftline.conf'), 'utf8');
    await writeFile(
      join(confd, 'driftline.conf'),
      adjust(shipped, [['listener 8883\n', `listener ${port} 127.0.0.1\n`], ['listener 8884\n', `listener ${passwordPort} 127.0.0.1\n`], ['/etc/mosquitto/driftline/', `${pki}/broker/`]], 'driftline.conf'),
    );
    const main = await readFile(join(ROOT, 'deploy/mosquitto/compose.conf'), 'utf8');
    // TestBroker adds persistence_location (its own folder), which Mosquitto allows only once.
    // `log_type all` adds the debug lines that name each refused publish.
    return [adjust(main, [['persistence_location /mosquitto/data/\n', ''], ['/mosquitto/config/conf.d', confd]], 'compose.conf'), 'log_type all'];
  });
});

after(async () => {
  // A client the broker closed (a takeover, the restart) has nothing to wait for: ending it is enough.
  for (const c of clients.filter((x) => !x.connected)) c.end(true);
  await Promise.all(clients.filter((x) => x.connected).map((c) => c.endAsync(true).catch(() => undefined)));
  await broker?.stop();
  if (pki) await rm(pki, { recursive: true, force: true });
});

test('credentials.sh: shellcheck passes; a rerun keeps every file byte for byte; the ACL is the registry\'s', async () => {
  await run('shellcheck', [SCRIPT]);
  const first = await snapshot(pki);
  await credentials('ca');
  await credentials('server', 'localhost', '127.0.0.1');
  await credentials('client', 'edge-1', '--site', 'plant-a');
  await credentials('client', 'collector', '--role', 'collector');
  await credentials('acl', join(pki, 'registry.yaml'));
  assert.deepEqual(await snapshot(pki), first);
  const acl = await readFile(join(pki, 'broker/driftline.acl'), 'utf8');
  assert.equal(acl, mosquittoAcl(loadRegistry(join(pki, 'registry.yaml')), 'registry.yaml'));
  assert.doesNotMatch(acl, /^pattern /m, 'no pattern lines: they apply to every user');
  assert.doesNotMatch(acl, /stranger/, 'only registry entries get rights');
  // What Mosquitto reads is all in broker/, and nothing secret to the clients or the CA is.
  assert.deepEqual((await readdir(join(pki, 'broker'))).sort(), ['broker.key', 'broker.pem', 'ca.pem', 'crl.pem', 'driftline.acl', 'driftline.passwd']);
  const passwd = await readFile(join(pki, 'broker/driftline.passwd'), 'utf8');
  assert.match(passwd, /^edge-1:\$7\$/m, "Mosquitto's own PBKDF2 hash");
  assert.doesNotMatch(passwd, new RegExp((await pem('clients/edge-1.password')).toString().replace(/[+/=]/g, '\\$&')), 'never the password itself');
});

test('a device publishes its own status, summaries and events over mutual TLS; the collector user receives them', async () => {
  const w = await watcher();
  const dev = await connected(tlsPort, await certOf('edge-1'));
  const got = w.next(eventTopic('plant-a', 'edge-1', 'cam-1'), 'event');
  assert.equal(await puback(dev, statusTopic('plant-a', 'edge-1'), 'status', true), 0, 'its status, retained');
  assert.equal(await puback(dev, summaryTopic('plant-a', 'edge-1', 'cam-1'), 'summary'), 0);
  assert.equal(await puback(dev, eventTopic('plant-a', 'edge-1', 'cam-1'), 'event'), 0);
  await got;
  for (const m of ['status', 'summary', 'event']) assert.ok(w.seen.some((s) => s.startsWith('driftline/v1/plant-a/edge-1/') && s.endsWith(` ${m}`)), `the collector got the ${m}: ${w.seen.join(', ')}`);
  // The client id is the username, whatever the client asked for (use_username_as_clientid).
  assert.match(broker!.log, /New client connected from 127\.0\.0\.1:\d+ as edge-1 \(p5/);
});

const FOREIGN = [
  ['another device of its site', statusTopic('plant-a', 'edge-2')],
  ["another device's summary", summaryTopic('plant-a', 'edge-2', 'cam-1')],
  ['its own name under another site', statusTopic('plant-b', 'edge-1')],
  ['its own name under another site (summary)', summaryTopic('plant-b', 'edge-1', 'cam-1')],
  ['the alerts tree, as the old pattern allowed', 'driftline/v1/alerts/edge-1/status'],
  ['an alert about itself', alertTopic('plant-a', 'edge-1')],
  ['outside the contract', 'driftline/v1/plant-a/edge-1/cam-1/summary/extra'],
] as const;

test("a device is refused on another device's topics, another site's and the alerts tree (MQTT 5: reason code 135)", async () => {
  const w = await watcher();
  const dev = await connected(tlsPort, await certOf('edge-1'));
  for (const [what, topic] of FOREIGN) assert.equal(await puback(dev, topic, 'forged'), 135, `${what}: ${topic}`);
  const marker = w.next(statusTopic('plant-a', 'edge-1'), 'marker-v5');
  assert.equal(await puback(dev, statusTopic('plant-a', 'edge-1'), 'marker-v5'), 0);
  await marker;
  assert.deepEqual(w.seen.filter((s) => s.endsWith(' forged')), [], 'no refused message reached the subscriber');
  for (const [, topic] of FOREIGN) assertDeniedInLog('edge-1', topic);
});

test('MQTT 3.1.1: the refused messages never arrive, and the broker logs each refusal', async () => {
  const w = await watcher();
  const dev = await connected(tlsPort, { ...(await certOf('oven-1')), protocolVersion: 4 });
  const forged = [statusTopic('plant-a', 'edge-1'), statusTopic('plant-a', 'oven-1'), alertTopic('plant-b', 'oven-1'), 'driftline/v1/alerts/oven-1/status'];
  // 3.1.1 has no negative PUBACK: the broker acknowledges and drops.
  for (const topic of forged) assert.equal(await puback(dev, topic, 'forged-v4'), 0);
  const marker = w.next(summaryTopic('plant-b', 'oven-1', 'cam-9'), 'marker-v4');
  assert.equal(await puback(dev, summaryTopic('plant-b', 'oven-1', 'cam-9'), 'marker-v4'), 0);
  await marker; // published after the forged ones on the same connection, so they were handled first
  assert.deepEqual(w.seen.filter((s) => s.endsWith(' forged-v4')), [], 'none of the forged messages arrived');
  for (const topic of forged) assertDeniedInLog('oven-1', topic);
});

test('the display user reads alerts and cannot publish, with its certificate or its password', async () => {
  const forbidden = [statusTopic('plant-a', 'edge-1'), summaryTopic('plant-a', 'edge-1', 'cam-1'), alertTopic('plant-a', 'edge-1')];
  // One at a time: a client id is its username, so a second connection of one user replaces the first.
  const overTls = await connected(tlsPort, await certOf('display'));
  for (const topic of forbidden) assert.equal(await puback(overTls, topic, 'from-display'), 135, `over mutual TLS: ${topic}`);
  await overTls.endAsync();
  const display = await connected(passwordPort, await passwordOf('display'));
  for (const topic of forbidden) assert.equal(await puback(display, topic, 'from-display'), 135, `with its password: ${topic}`);
  assertDeniedInLog('display', alertTopic('plant-a', 'edge-1'));
  // What it may do: read the alert the collector publishes.
  const alerts: string[] = [];
  const fired = new Promise<void>((resolve) =>
    display.on('message', (t, p) => {
      alerts.push(`${t} ${p.toString()}`);
      if (p.toString() === 'fired') resolve();
    }),
  );
  await display.subscribeAsync('driftline/v1/alerts/#', { qos: 1 });
  const collector = await connected(tlsPort, await certOf('collector'));
  assert.equal(await puback(collector, alertTopic('plant-a', 'edge-1'), 'fired'), 0, 'the collector publishes alerts');
  await fired;
  assert.deepEqual(alerts, [`${alertTopic('plant-a', 'edge-1')} fired`], 'it got the alert, and none of its own publishes');
});

test('the collector publishes alerts only, never as a device', async () => {
  const collector = await connected(tlsPort, await certOf('collector'));
  assert.equal(await puback(collector, statusTopic('plant-a', 'edge-1'), 'offline'), 135);
  assert.equal(await puback(collector, summaryTopic('plant-a', 'edge-1', 'cam-1'), '{}'), 135);
  assert.equal(await puback(collector, alertTopic('plant-b', 'oven-1'), 'resolved'), 0);
});

test('a client without credentials, with wrong ones, or from outside the registry gets nothing', async () => {
  const ca = await pem('broker/ca.pem');
  // Mutual TLS listener: no certificate, no connection (the TLS handshake fails).
  const noCert = await attempt(tlsPort, { ca });
  assert.ok('refused' in noCert, 'no client certificate: refused');
  // A certificate from another CA: refused as well.
  const other = await mkdtemp(join(tmpdir(), 'driftline-pki-other-'));
  try {
    await run('bash', [SCRIPT, '-d', other, 'ca']);
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(other, 'k.pem'), '-out', join(other, 'c.pem'), '-days', '1', '-subj', '/CN=edge-1']);
    const forged = await attempt(tlsPort, { ca, cert: await readFile(join(other, 'c.pem')), key: await readFile(join(other, 'k.pem')) });
    assert.ok('refused' in forged, 'a self-made certificate named edge-1: refused');
  } finally {
    await rm(other, { recursive: true, force: true });
  }
  // Password listener: no username, an unknown one, a wrong password.
  for (const o of [{}, { username: 'nobody', password: 'x' }, { username: 'edge-1', password: 'wrong-password' }]) {
    const r = await attempt(passwordPort, { ca, ...o });
    assert.ok('refused' in r && r.code === 135, `${JSON.stringify(o)}: CONNACK 135 (not authorised), got ${JSON.stringify(r)}`);
  }
  const v4 = await attempt(passwordPort, { ca, protocolVersion: 4 });
  assert.ok('refused' in v4 && v4.code === 5, `MQTT 3.1.1 anonymous: CONNACK 5 (not authorised), got ${JSON.stringify(v4)}`);
  // A valid certificate of a user the registry does not list: connected, and allowed nothing.
  const stranger = await connected(tlsPort, await certOf('stranger'));
  assert.equal(await puback(stranger, statusTopic('plant-a', 'stranger'), 'hello'), 135);
});

test('over the password listener a device is held to its own topics too; no client id takes over another', async () => {
  const w = await watcher();
  const edge1 = await connected(tlsPort, await certOf('edge-1'));
  // edge-2 asks for edge-1's client id: the broker gives it its username instead, so edge-1 stays.
  const edge2 = await connected(passwordPort, { ...(await passwordOf('edge-2')), clientId: 'edge-1' });
  assert.equal(await puback(edge2, statusTopic('plant-a', 'edge-1'), 'forged'), 135);
  const marker = w.next(statusTopic('plant-a', 'edge-2'), 'marker-pw');
  assert.equal(await puback(edge2, statusTopic('plant-a', 'edge-2'), 'marker-pw'), 0);
  await marker;
  assert.equal(await puback(edge1, summaryTopic('plant-a', 'edge-1', 'cam-1'), 'still-here'), 0, 'edge-1 was not disconnected');
  assert.deepEqual(w.seen.filter((s) => s.endsWith(' forged')), []);
});

test('rotate: the old certificate and password stop working after the restart, the new ones work', async () => {
  const before = { ...(await certOf('edge-2')) };
  const oldPassword = (await pem('clients/edge-2.password')).toString();
  const rotated = await credentials('rotate', 'edge-2');
  assert.match(rotated.stdout, /passwordHash: "scrypt\$/, 'prints the new registry entry');
  assert.notEqual((await pem('clients/edge-2.password')).toString(), oldPassword);
  await broker!.stop();
  await broker!.resume(); // Mosquitto reads the CRL at start
  const old = await attempt(tlsPort, before);
  assert.ok('refused' in old, 'the revoked certificate is refused');
  const oldPw = await attempt(passwordPort, { ca: before.ca, username: 'edge-2', password: oldPassword });
  assert.ok('refused' in oldPw && oldPw.code === 135, 'the old password is refused');
  const fresh = await connected(tlsPort, await certOf('edge-2'));
  assert.equal(await puback(fresh, statusTopic('plant-a', 'edge-2'), 'back'), 0);
  const freshPw = await connected(passwordPort, await passwordOf('edge-2'));
  assert.equal(await puback(freshPw, statusTopic('plant-a', 'edge-2'), 'back'), 0);
  await chmod(pki, 0o700); // nothing else needs it now
});
