/**
 * The collector's configuration: one schema, validated once at start-up against the YAML file plus
 * environment overrides (DRIFTLINE_COLLECTOR_<SECTION>__<KEY>), then frozen. Unknown keys are
 * errors. docs/configuration.md is checked against this schema by a test.
 */
import { LOG_SECTION } from '../lib/log.js';
import { MQTT_TLS_SCHEMA } from '../lib/mqtt-options.js';
import { readConfigFile } from '../lib/config-file.js';
import { applyEnv, check, configError, problem, refuseUnknownEnv, type Config, type Ctx, type Expand, type Schema } from '../lib/schema.js';
import { isLoopback } from '../lib/loopback.js';
import { anonymousBeyondLoopback } from './broker/loopback.js';
import { storeUrlProblem } from './store/postgres-url.js';

export const ENV_PREFIX = 'DRIFTLINE_COLLECTOR';
const URL_HTTP = /^https?:\/\/[^\s]+$/;

export const COLLECTOR_SCHEMA = {
  broker: {
    kind: 'object',
    doc: 'where device messages arrive',
    fields: {
      url: { kind: 'string', default: '', pattern: /^(mqtts?|wss?):\/\/[^\s]+$/, doc: 'external broker URL (Mosquitto in production); empty: start the embedded broker' },
      host: { kind: 'string', default: '127.0.0.1', doc: 'embedded broker: address to listen on (0.0.0.0 for devices on the network)' },
      port: { kind: 'number', integer: true, min: 0, max: 65535, default: 1883, doc: 'embedded broker: TCP port (0: any free port)' },
      clientId: { kind: 'string', default: 'driftline-collector', doc: 'MQTT client id; with a persistent session the broker keeps messages for it while it is away' },
      shareGroup: { kind: 'string', default: 'driftline', pattern: /^[A-Za-z0-9_-]{1,64}$/, doc: 'external broker: shared-subscription group; replicas in one group split the fleet' },
      shared: { kind: 'boolean', default: false, doc: 'external broker: subscribe through $share/<shareGroup>/ so replicas split the fleet; off: one collector on a persistent session, which Mosquitto keeps across its restarts (docs/mqtt.md)' },
      sessionExpirySeconds: { kind: 'number', integer: true, min: 0, max: 4_294_967_295, default: 7 * 86_400, doc: 'external broker: how long the broker keeps queuing for this collector while it is away' },
      registry: { kind: 'string', default: '', path: true, doc: 'embedded broker: the device registry (YAML; docs/security.md) every client authenticates against and is held to its own topics by; empty: anonymous, loopback only' },
      allowAnonymous: { kind: 'boolean', default: false, doc: 'embedded broker: listen beyond loopback without a registry, so anyone who reaches it can publish as any device (only on a network you trust entirely)' },
      maxPacketBytes: { kind: 'number', integer: true, min: 1024, max: 256 << 20, default: (256 + 4) << 10, doc: 'embedded broker: largest MQTT packet; a client that sends a larger one is disconnected before the broker buffers it (the default leaves 4 KiB above ingest.maxPayloadBytes for topic and headers)' },
      maxRetained: { kind: 'number', integer: true, min: 1, max: 10_000_000, default: 10_000, doc: 'embedded broker: most distinct retained topics; a publish that would retain one more is refused (its client is disconnected)' },
      maxClients: { kind: 'number', integer: true, min: 1, max: 100_000, default: 1000, doc: "embedded broker: most connected clients, the collector's own not counted; more are refused (CONNACK: server unavailable)" },
      maxInflight: { kind: 'number', integer: true, min: 1, max: 65_535, default: 100, doc: 'embedded broker: most inbound QoS 2 messages one client may leave awaiting PUBREL; viewers are granted QoS 0, so nothing waits on them' },
      ...MQTT_TLS_SCHEMA,
    },
  },
  ingest: {
    kind: 'object',
    doc: 'validation of device messages',
    fields: {
      maxPayloadBytes: { kind: 'number', integer: true, min: 1024, max: 16 << 20, default: 256 << 10, doc: 'larger payloads are rejected unread' },
      maxSeqJump: { kind: 'number', integer: true, min: 1, default: 10_000, doc: 'a summary whose seq is further than this ahead of its camera\'s last is quarantined until the device continues from it (docs/mqtt.md)' },
      decodeThread: { kind: 'string', oneOf: ['auto', 'worker', 'main'], default: 'auto', doc: 'where device messages are parsed and validated; auto = a worker thread when the machine has more than one core, so the receiving thread only stores and acknowledges (the embedded broker always decodes on the main thread)' },
      clockSkewSeconds: { kind: 'number', min: 0, default: 300, doc: 'a summary whose window ends further ahead of the collector\'s clock (or ends before it starts) is quarantined with the reason; an event or status with such a ts is rejected (reason time)' },
    },
  },
  store: {
    kind: 'object',
    doc: 'the collector database: SQLite (the default, one collector) or PostgreSQL (replicas; docs/scale.md)',
    fields: {
      url: { kind: 'string', default: '', pattern: /^postgres(ql)?:\/\/[^\s]+$/, doc: 'PostgreSQL URL (postgres://user:password@host:5432/driftline); set: the collector stores there and runs as one of any number of replicas on it, instead of in the SQLite file at store.path; needs broker.url, and broker.shared when there is more than one replica. Keep the password out of the file: store.passwordFile, DRIFTLINE_COLLECTOR_STORE__URL, or PGPASSWORD / ~/.pgpass; one written into the URL is percent-encoded where it has @ # / ? : or %' },
      passwordFile: { kind: 'string', default: '', path: true, doc: 'PostgreSQL: file holding the password for store.url (a systemd credential); it replaces any password in the URL' },
      poolSize: { kind: 'number', integer: true, min: 1, max: 100, default: 4, doc: 'PostgreSQL: connections this replica opens for ingest, the API and retention (plus one that holds its leadership locks)' },
      path: { kind: 'string', default: 'data/collector.db', path: true, doc: 'database file (WAL mode); the default is relative to the working directory' },
      retentionDays: { kind: 'number', min: 0.001, default: 30, doc: 'summaries and events older than this are deleted' },
      alertRetentionDays: { kind: 'number', min: 0.001, default: 180, doc: 'resolved alerts older than this are deleted' },
      pruneIntervalSeconds: { kind: 'number', min: 1, default: 3600, doc: 'how often retention runs' },
      cacheBytes: { kind: 'number', integer: true, min: 1 << 19, default: 4 << 20, doc: 'SQLite page cache, bytes: memory the store may hold once its database has grown past it' },
    },
  },
  cluster: {
    kind: 'object',
    doc: 'replicas on PostgreSQL (store.url): one leads, runs the rules and notifies; the others stand by (docs/scale.md)',
    fields: {
      leaderPollSeconds: { kind: 'number', min: 0.1, max: 3, default: 1, doc: "how often a standby tries to take the lead (a dead leader's successor acts within about this long plus its rebuild) and the leader checks it still holds it; at most 3, so that a leader cut off from the network has stopped before PostgreSQL frees its lock (cluster/leadership.ts)" },
      feedIntervalMs: { kind: 'number', integer: true, min: 10, max: 60_000, default: 250, doc: 'how often the leader reads what the replicas stored, for the rules: the delay it adds to an alert' },
    },
  },
  rules: {
    kind: 'object',
    doc: 'when alerts fire and resolve (docs/runbook.md explains each)',
    fields: {
      evalIntervalSeconds: { kind: 'number', min: 0.1, max: 3600, default: 5, doc: 'how often the timer-driven rules (silence, resend) run' },
      driftForSeconds: { kind: 'number', min: 0, default: 300, doc: 'drift: windows at warn or alert must span this long before the alert fires' },
      driftClearSeconds: { kind: 'number', min: 0, default: 600, doc: 'drift: ok windows must span this long before the alert resolves (hysteresis)' },
      driftMinSeverity: { kind: 'string', oneOf: ['warn', 'alert'], default: 'warn', doc: 'the window verdict that counts as drifting' },
      offlineSilenceSeconds: { kind: 'number', min: 1, default: 300, doc: 'device offline: no message from an online device for this long' },
      maintenanceGraceSeconds: { kind: 'number', min: 0, default: 600, doc: 'device offline after a clean stop (its offline status says why: a restart, an upgrade): pages only if the device is not back within this long; 0 pages at once, like a crash. The Last Will (a crash, a lost link) always pages at once' },
      stalledWindows: { kind: 'number', min: 1, default: 3, doc: 'camera stalled: no summary for this many of its windows while its device is online' },
      modelChangedHoldSeconds: { kind: 'number', min: 1, default: 3600, doc: 'model changed: the informational alert resolves after this long' },
      duplicateClearSeconds: { kind: 'number', min: 1, default: 600, doc: 'duplicate device (embedded broker): the alert resolves this long after the last sign of two devices sharing an identity' },
      runbookUrl: { kind: 'string', default: '', doc: "runbook link put on every alert, to which #<rule> is appended; empty: the collector's own /runbook page at http.publicUrl" },
    },
  },
  notify: {
    kind: 'object',
    doc: 'where alerts go; a failing sink retries with backoff and never blocks ingest',
    fields: {
      alertmanagerUrl: { kind: 'string', default: '', pattern: URL_HTTP, doc: 'Alertmanager base URL (alerts go to /api/v2/alerts); empty: off' },
      resendSeconds: { kind: 'number', min: 1, default: 60, doc: 'Alertmanager: active alerts are sent again this often (keep under its resolve_timeout)' },
      webhookUrl: { kind: 'string', default: '', pattern: URL_HTTP, doc: 'generic JSON webhook; empty: off' },
      webhookSecret: { kind: 'string', default: '', doc: 'HMAC-SHA256 key for the webhook signature; prefer webhookSecretFile or the environment' },
      webhookSecretFile: { kind: 'string', default: '', path: true, doc: 'file holding the webhook HMAC key' },
      mqtt: { kind: 'boolean', default: true, doc: 'publish alerts on driftline/v1/alerts/{site}/{device}' },
      timeoutMs: { kind: 'number', integer: true, min: 100, default: 5000, doc: 'HTTP timeout per delivery attempt' },
      retryMinMs: { kind: 'number', integer: true, min: 10, default: 1000, doc: 'first retry delay; doubles per failure, with jitter' },
      retryMaxMs: { kind: 'number', integer: true, min: 10, default: 60_000, doc: 'longest retry delay' },
      maxQueue: { kind: 'number', integer: true, min: 1, default: 10_000, doc: 'undelivered alerts kept per sink; the oldest are dropped beyond it' },
    },
  },
  http: {
    kind: 'object',
    doc: 'the HTTP API, dashboard and Prometheus metrics',
    fields: {
      host: { kind: 'string', default: '127.0.0.1', doc: 'address to listen on' },
      port: { kind: 'number', integer: true, min: 0, max: 65535, default: 8080, doc: 'TCP port (0: any free port)' },
      ackToken: { kind: 'string', default: '', doc: 'bearer token for acknowledging alerts; prefer ackTokenFile or the environment; empty: acknowledging is off' },
      ackTokenFile: { kind: 'string', default: '', path: true, doc: 'file holding the acknowledge token' },
      publicUrl: { kind: 'string', default: '', pattern: URL_HTTP, doc: "how on-call reaches this collector, for links in alerts (runbook_url, Alertmanager's generatorURL); empty: http://host:port" },
    },
  },
  log: LOG_SECTION,
} as const satisfies Schema;

/** The collector's configuration, as COLLECTOR_SCHEMA validates it. */
export type CollectorConfig = Expand<Config<typeof COLLECTOR_SCHEMA>>;

/** Validates; every problem at once in one DRIFTLINE_ERR_CONFIG. Relative paths resolve against `baseDir`. */
export function collectorConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, baseDir?: string): { config: CollectorConfig; envUsed: string[] } {
  const ctx: Ctx = { problems: [], envSources: new Map(), ...(baseDir ? { baseDir } : {}) };
  const copy = structuredClone(raw ?? {}) as Record<string, unknown>;
  const envUsed = typeof copy === 'object' && !Array.isArray(copy) ? applyEnv(COLLECTOR_SCHEMA, copy, env, ENV_PREFIX, ctx) : [];
  refuseUnknownEnv(COLLECTOR_SCHEMA, env, ENV_PREFIX, ctx);
  const config = check(COLLECTOR_SCHEMA, copy, '', ctx);
  const n = config.notify;
  if (n?.webhookUrl && !n.webhookSecret && !n.webhookSecretFile) {
    problem(ctx, 'notify.webhookSecret', '', 'an HMAC key (or webhookSecretFile) when notify.webhookUrl is set: receivers must be able to verify alerts');
  }
  const b = config.broker;
  if (b && !b.url && !b.registry && !b.allowAnonymous && b.host !== undefined && !isLoopback(b.host)) {
    const p = anonymousBeyondLoopback(b.host);
    problem(ctx, p.key, '', p.expected);
  }
  if (config.store?.url && b && !b.url) problem(ctx, 'store.url', '(set)', 'broker.url as well: replicas on PostgreSQL share an external broker (the embedded one serves one collector)');
  const badUrl = config.store?.url ? storeUrlProblem(config.store.url) : undefined;
  if (badUrl) problem(ctx, 'store.url', config.store!.url, badUrl);
  if (b?.registry && b.allowAnonymous) problem(ctx, 'broker.allowAnonymous', true, 'false when broker.registry is set: the registry authenticates every client');
  if (ctx.problems.length) throw configError(ctx.problems);
  return { config, envUsed };
}

/** The config file (relative paths in it are relative to its folder), or the defaults. */
export function loadCollectorConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): { config: CollectorConfig; envUsed: string[] } {
  if (file === undefined) return collectorConfig({}, env);
  const { raw, dir } = readConfigFile(file);
  return collectorConfig(raw, env, dir);
}
