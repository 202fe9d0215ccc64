/**
 * TLS, per-device passwords and client certificates against a real Mosquitto: certificates made
 * with openssl, a broker with one listener per authentication kind, the options built exactly as
 * the agent and collector build them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { isDriftlineError } from '../../lib/errors.js';
import { clientOptions, describeBroker, type MqttTlsConfig } from '../../lib/mqtt-options.js';
import { freePort } from '../helpers/ports.js';
import { TestBroker } from '../helpers/mosquitto.js';

const run = promisify(execFile);
const BASE: MqttTlsConfig = { ca: '', cert: '', key: '', rejectUnauthorized: true, username: '', password: '', passwordFile: '', keepaliveSeconds: 30, reconnectMinMs: 100, reconnectMaxMs: 1000 };

async function pki(dir: string): Promise<void> {
  const ssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=driftline-test-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [name, cn, ext] of [['broker', '127.0.0.1', true], ['edge-7', 'edge-7', false]] as const) {
    await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    await ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, ...(ext ? ['-extfile', 'san.ext'] : []));
  }
  for (const f of ['ca.pem', 'broker.pem', 'broker.key']) await chmod(join(dir, f), 0o644);
  await run('mosquitto_passwd', ['-c', '-b', join(dir, 'passwd'), 'edge-3', 'line-3-secret']);
  await chmod(join(dir, 'passwd'), 0o644);
}

test('mqtts with a CA, per-device password, and client certificate; wrong credentials are refused', { timeout: 60_000 }, async (t) => {
  let dir = '';
  let certPort = 0;
  let certificates: Promise<void> | undefined;
  const broker = await TestBroker.start(async (port, d) => {
    dir = d;
    await (certificates ??= pki(d)); // once, even when the broker starts again on fresh ports
    certPort = await freePort();
    return [
      'per_listener_settings true',
      `listener ${port} 127.0.0.1`,
      `cafile ${d}/ca.pem`, `certfile ${d}/broker.pem`, `keyfile ${d}/broker.key`,
      'allow_anonymous false', `password_file ${d}/passwd`,
      `listener ${certPort} 127.0.0.1`,
      `cafile ${d}/ca.pem`, `certfile ${d}/broker.pem`, `keyfile ${d}/broker.key`,
      'require_certificate true', 'use_identity_as_username true', 'allow_anonymous false',
    ];
  });
  t.after(() => broker.stop());
  const tls = `mqtts://127.0.0.1:${broker.port}`;
  /** 'ok', or why it failed; the client is ended either way (a failed connect ends its own). */
  const attempt = async (url: string, c: Partial<MqttTlsConfig>): Promise<string> => {
    let client: MqttClient | undefined;
    try {
      client = await connectAsync(url, clientOptions({ ...BASE, ...c }, 'mqtt', `t-${randomUUID().slice(0, 8)}`, url));
      await client.publishAsync('driftline/v1/s/edge/status', 'x', { qos: 1 });
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    } finally {
      await client?.endAsync(true);
    }
  };
  await writeFile(join(dir, 'password.txt'), 'line-3-secret\n');
  assert.equal(await attempt(tls, { ca: join(dir, 'ca.pem'), username: 'edge-3', password: 'line-3-secret' }), 'ok');
  assert.equal(await attempt(tls, { ca: join(dir, 'ca.pem'), username: 'edge-3', passwordFile: join(dir, 'password.txt') }), 'ok', 'password from a file');
  // A configured password replaces one left in the URL (mqtt.js alone lets the URL's win), and the
  // URL's user name stands when none is configured; without a configured one, the URL's is used.
  const withOld = `mqtts://edge-3:an-old-one@127.0.0.1:${broker.port}`;
  assert.equal(await attempt(withOld, { ca: join(dir, 'ca.pem'), passwordFile: join(dir, 'password.txt') }), 'ok', 'the file, not the URL');
  assert.equal(await attempt(`mqtts://edge-3:line-3-secret@127.0.0.1:${broker.port}`, { ca: join(dir, 'ca.pem') }), 'ok', 'the URL alone');
  assert.match(await attempt(withOld, { ca: join(dir, 'ca.pem') }), /Not authorized|Bad User Name or Password/i, 'the URL alone, wrong');
  assert.match(await attempt(tls, { ca: join(dir, 'ca.pem'), username: 'edge-3', password: 'wrong' }), /Not authorized|Bad User Name or Password/i);
  assert.match(await attempt(tls, { username: 'edge-3', password: 'line-3-secret' }), /self[- ]signed|unable to verify|certificate/i, 'an unknown CA is refused');
  assert.equal(await attempt(`mqtts://127.0.0.1:${certPort}`, { ca: join(dir, 'ca.pem'), cert: join(dir, 'edge-7.pem'), key: join(dir, 'edge-7.key') }), 'ok', 'client certificate');
  assert.notEqual(await attempt(`mqtts://127.0.0.1:${certPort}`, { ca: join(dir, 'ca.pem') }), 'ok', 'no certificate, no connection');

  assert.throws(() => clientOptions({ ...BASE, cert: join(dir, 'edge-7.pem') }, 'mqtt', 'x', tls), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /mqtt\.key/.test(e.message));
  assert.throws(() => clientOptions({ ...BASE, ca: join(dir, 'missing.pem') }, 'broker', 'x', tls), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /broker\.ca.*ENOENT/.test(e.message));
  // A credential install.sh created and nobody filled: named, before any handshake.
  await writeFile(join(dir, 'empty-cert'), '');
  await writeFile(join(dir, 'empty-key'), '\n');
  assert.throws(() => clientOptions({ ...BASE, cert: join(dir, 'empty-cert'), key: join(dir, 'edge-7.key') }, 'broker', 'x', tls), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /broker\.cert.*empty: fill it/.test(e.message));
  assert.throws(() => clientOptions({ ...BASE, cert: join(dir, 'edge-7.pem'), key: join(dir, 'empty-key') }, 'mqtt', 'x', tls), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /mqtt\.key.*empty/.test(e.message));
  const shown = JSON.stringify(describeBroker('mqtts://edge-3:line-3-secret@mqtt.plant:8883', { ...BASE, username: 'edge-3', password: 'line-3-secret' }));
  assert.ok(!shown.includes('line-3-secret'), `no secret in what gets logged: ${shown}`);
  assert.match(shown, /"tls":true/);
  assert.match(shown, /"brokerPassword":"set"/, 'the broker password is named as such: a collector replica names its store password beside it');
  // A password with a # left unencoded breaks the URL: what is shown is masked all the same.
  const broken = JSON.stringify(describeBroker('mqtt://edge-3:pw#42@x@mqtt.plant:1883', BASE));
  assert.ok(!broken.includes('pw#42') && !broken.includes('42@x'), `no secret from an unencoded URL: ${broken}`);
});
