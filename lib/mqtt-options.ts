/**
 * MQTT connection settings shared by the agent and the collector: one schema for the config file,
 * and the translation into mqtt.js client options (TLS files read once at start-up, the password
 * from the config, the environment or a file). Secrets never reach a log line: describeBroker()
 * is what gets logged.
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { EMPTY_PEM } from './checks.js';
import { driftlineError } from './errors.js';
import { redactUrl } from './redact.js';
import { secret } from './secret.js';
import type { Config, Expand, Schema } from './schema.js';

export const MQTT_TLS_SCHEMA = {
  ca: { kind: 'string', default: '', path: true, doc: 'PEM file of the CA that signed the broker certificate (mqtts://); empty: the system CAs' },
  cert: { kind: 'string', default: '', path: true, doc: 'PEM client certificate, for brokers that authenticate devices by certificate' },
  key: { kind: 'string', default: '', path: true, doc: 'PEM private key of the client certificate' },
  rejectUnauthorized: { kind: 'boolean', default: true, doc: 'refuse a broker certificate that does not verify (leave on in production)' },
  username: { kind: 'string', default: '', doc: 'MQTT username (per device in production)' },
  password: { kind: 'string', default: '', doc: 'MQTT password; prefer passwordFile or the environment variable' },
  passwordFile: { kind: 'string', default: '', path: true, doc: 'file holding the MQTT password (e.g. a systemd credential); it, or password, replaces a password in the URL' },
  keepaliveSeconds: { kind: 'number', integer: true, min: 5, max: 3600, default: 30, doc: 'MQTT keepalive; the broker declares the client gone after 1.5 x this' },
  reconnectMinMs: { kind: 'number', integer: true, min: 50, default: 500, doc: 'first reconnect delay; doubles per failure, with jitter' },
  reconnectMaxMs: { kind: 'number', integer: true, min: 100, default: 30_000, doc: 'longest reconnect delay' },
} as const satisfies Schema;

export type MqttTlsConfig = Expand<Config<typeof MQTT_TLS_SCHEMA>>;

function readPem(key: string, file: string): Buffer | undefined {
  if (!file) return undefined;
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_CONFIG', { key, value: file, expected: `a readable PEM file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` }, { cause: e });
  }
  // install.sh creates the credentials empty: one named before it was filled is said so, not left to
  // a TLS handshake that fails for reasons it does not give.
  if (!pem.toString('latin1').trim()) throw driftlineError('DRIFTLINE_ERR_CONFIG', { key, value: file, expected: EMPTY_PEM });
  return pem;
}

/**
 * mqtt.js options for one connection to `url`; `section` names the config section in errors (mqtt,
 * broker). A configured password (password, passwordFile) replaces one in the URL, as the collector's
 * store.passwordFile does: mqtt.js would let the URL's `user:password@` win over the options, so the
 * options say there is none (`auth`), and keep the URL's user name unless one is configured.
 */
export function clientOptions(c: MqttTlsConfig, section: string, clientId: string, url: string): IClientOptions {
  const password = secret(c.password, c.passwordFile, `${section}.passwordFile`) || undefined;
  if ((c.cert && !c.key) || (c.key && !c.cert)) {
    throw driftlineError('DRIFTLINE_ERR_CONFIG', { key: `${section}.${c.cert ? 'key' : 'cert'}`, value: '""', expected: 'a client certificate and its key together' });
  }
  const o: IClientOptions = {
    clientId,
    keepalive: c.keepaliveSeconds,
    reconnectPeriod: 0, // reconnects are ours, with backoff
    connectTimeout: 10_000,
    rejectUnauthorized: c.rejectUnauthorized,
  };
  if (c.username) o.username = c.username;
  if (password !== undefined) {
    o.password = password;
    const inUrl = urlUser(url);
    if (inUrl !== undefined) {
      o.auth = undefined; // overrides what mqtt.js parses from the URL
      o.username ??= inUrl;
    }
  }
  const ca = readPem(`${section}.ca`, c.ca);
  const cert = readPem(`${section}.cert`, c.cert);
  const key = readPem(`${section}.key`, c.key);
  if (ca) o.ca = ca;
  if (cert) o.cert = cert;
  if (key) o.key = key;
  return o;
}

/** The user name in a URL's `user:password@` (undefined when it has none, or does not parse). */
function urlUser(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.username || u.password ? decodeURIComponent(u.username) : undefined;
  } catch {
    return undefined;
  }
}

/** The broker as a log line may show it: URL without credentials, and which auth is in use. */
export function describeBroker(url: string, c: MqttTlsConfig): Record<string, unknown> {
  let shown = url;
  let inUrl = { username: '', password: false };
  try {
    const u = new URL(url);
    inUrl = { username: decodeURIComponent(u.username), password: u.password !== '' };
    u.username = '';
    u.password = '';
    shown = u.toString();
  } catch {
    shown = redactUrl(url); // validated elsewhere; never shown with its password
  }
  // brokerPassword, not password: the collector's replica line names its store's beside it.
  const brokerPassword = c.password || c.passwordFile ? 'set' : inUrl.password ? 'set in the URL' : 'none';
  return { broker: shown, tls: /^(mqtts|wss):/.test(url), username: c.username || inUrl.username || undefined, clientCert: Boolean(c.cert), brokerPassword };
}
