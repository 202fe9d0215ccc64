/**
 * The collector's composition root: broker (embedded or external), ingest, store, rules,
 * notifiers and the HTTP API, wired here and nowhere else. stop() closes them in the order that
 * loses nothing: stop taking messages, deliver what is queued, close the store.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../lib/log.js';
import { driftlineError } from '../lib/errors.js';
import { clientOptions, describeBroker } from '../lib/mqtt-options.js';
import { secret } from '../lib/secret.js';
import { undoAll, undoCreate } from '../lib/undo-create.js';
import { brokerPortTaken, checkCollector } from './checks.js';
import type { CollectorConfig } from './config.js';
import type { OwnClient } from './broker/access.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker/embedded.js';
import { loadRegistry } from './broker/registry.js';
import { Subscriber } from './broker/subscriber.js';
import { buildHttp } from './http/server.js';
import { collectorMetrics } from './http/metrics.js';
import { handlers } from './ingest/handlers.js';
import { Ingest } from './ingest/ingest.js';
import { ingestPath } from './ingest/offload.js';
import { AlertmanagerSink } from './notify/alertmanager.js';
import { Dispatcher } from './notify/dispatcher.js';
import { MqttAlertSink } from './notify/mqtt-alerts.js';
import type { Sink } from './notify/sink.js';
import { WebhookSink } from './notify/webhook.js';
import { RuleEngine, type AlertChange, type AlertListener, type RuleSettings } from './rules/engine.js';
import { leadFamily } from './rules/evidence.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { AlertRecord } from './store/store.js';
import type { MqttClient } from 'mqtt';

const DAY = 86_400_000;

/**
 * How on-call reaches this collector, for links in alerts: http.publicUrl, else the listener's own
 * address (known once it listens; before, the configured host and port).
 */
export function publicUrl(config: CollectorConfig, listening: string | undefined): string {
  const base = config.http.publicUrl || listening || `http://${config.http.host === '0.0.0.0' ? hostname() : config.http.host}:${config.http.port}`;
  return base.replace(/\/+$/, '');
}

/** The notifiers the config names; `httpUrl` and `mqtt` are known once the collector listens and connects. */
export function buildSinks(config: CollectorConfig, webhookSecret: string, httpUrl: () => string | undefined, mqtt: () => MqttClient | undefined): Sink[] {
  const sinks: Sink[] = [];
  const n = config.notify;
  if (n.alertmanagerUrl) sinks.push(new AlertmanagerSink(n.alertmanagerUrl, n.timeoutMs, () => config.http.publicUrl || httpUrl() || ''));
  if (n.webhookUrl) sinks.push(new WebhookSink(n.webhookUrl, webhookSecret, n.timeoutMs));
  if (n.mqtt) sinks.push(new MqttAlertSink(mqtt));
  return sinks;
}

/** The rules' settings from the config; the runbook link is the collector's own /runbook unless rules.runbookUrl names one. */
export function ruleSettings(config: CollectorConfig, httpUrl: () => string | undefined): RuleSettings {
  return {
    driftForMs: config.rules.driftForSeconds * 1000,
    driftClearMs: config.rules.driftClearSeconds * 1000,
    driftMinSeverity: config.rules.driftMinSeverity,
    offlineSilenceMs: config.rules.offlineSilenceSeconds * 1000,
    maintenanceGraceMs: config.rules.maintenanceGraceSeconds * 1000,
    stalledWindows: config.rules.stalledWindows,
    modelChangedHoldMs: config.rules.modelChangedHoldSeconds * 1000,
    duplicateClearMs: config.rules.duplicateClearSeconds * 1000,
    resendMs: config.notify.resendSeconds * 1000,
    runbookUrl: () => config.rules.runbookUrl || `${publicUrl(config, httpUrl())}/runbook`,
  };
}

/** The collector's alert changes, each after its write: the log, the notifiers and any embedder subscribe to `alert`. */
export type AlertEvents = EventEmitter<{ alert: Parameters<AlertListener> }>;

/** One log line per alert change (resends are not news). */
export function logAlert(log: Logger, a: AlertRecord, change: AlertChange): void {
  if (change !== 'resend') log.info({ alert: a.id, rule: a.rule, state: a.state, severity: a.severity, labels: a.labels }, `alert ${change}: ${a.annotations.summary}`);
}

export interface RunningCollector {
  readonly brokerUrl: string;
  readonly httpUrl: string;
  readonly store: SqliteStore;
  readonly ingest: Ingest;
  /** Where device messages are decoded (ingest.decodeThread, decided at start). */
  readonly decodeThread: 'worker' | 'main';
  readonly rules: RuleEngine;
  readonly dispatcher: Dispatcher;
  readonly subscriber: Subscriber;
  /** The embedded broker (its refusal counters), when broker.url is empty. */
  readonly embedded: EmbeddedBroker | undefined;
  /** Alert changes, for listeners beyond the log and the notifiers (the demo prints them). */
  readonly alerts: AlertEvents;
  stop(): Promise<void>;
}

export async function listenOrExplain<T>(what: string, key: string, host: string, port: number, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // The embedded broker's default port is MQTT's standard one: on a machine that already runs a
    // broker (Mosquitto), using that broker is usually what the operator wants.
    const hint = key === 'broker.port' && code === 'EADDRINUSE' ? brokerPortTaken(host, port) : undefined;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') throw driftlineError('DRIFTLINE_ERR_LISTEN', { what, address: `${host}:${port}`, code, key, ...(hint ? { hint } : {}) }, { cause: e });
    throw e;
  }
}

/** What every collector checks before it opens anything: the files it names (all problems at once), then its secrets. */
export async function startupSecrets(config: CollectorConfig): Promise<{ ackToken: string; webhookSecret: string }> {
  const checks = await checkCollector(config, { ports: false });
  checks.throwIfAny();
  return {
    ackToken: secret(config.http.ackToken, config.http.ackTokenFile, 'http.ackTokenFile'),
    webhookSecret: secret(config.notify.webhookSecret, config.notify.webhookSecretFile, 'notify.webhookSecretFile'),
  };
}

export async function startCollector(config: CollectorConfig, log: Logger): Promise<RunningCollector> {
  // Files and secrets first, all problems at once; then the listeners; the store last but one. A
  // start that fails removes the database it created: nothing is left behind.
  const { ackToken, webhookSecret } = await startupSecrets(config);
  const b = config.broker;
  const brokerClient = clientOptions(b, 'broker', b.clientId, b.url);
  // What is open so far, closed newest first if the start fails; the database it created is removed.
  const release: (() => unknown)[] = [];
  try {
    let embedded: EmbeddedBroker | undefined;
    // The collector's own client on the embedded broker authenticates with a credential made here,
    // which never leaves this process: nothing to configure, nothing in the registry to steal.
    let own: OwnClient | undefined;
    release.push(undoCreate(config.store.path));
    const store = new SqliteStore(config.store.path, undefined, {
      cacheBytes: config.store.cacheBytes,
      onUpgrade: ({ from, to, bytes }) =>
        log.info({ file: config.store.path, from, to, mb: Math.round(bytes / 1e6) }, `upgrading the collector database from schema ${from} to ${to}; from schema 4 the summaries table is rebuilt once (about 7 s per GB on 2 cores), and the collector starts when it is done`),
    });
    release.push(() => store.close());
    // Read by the notifiers and the runbook links when they send: the listener's address and the
    // broker session, which are made after everything they serve.
    const reach: { httpUrl?: string; subscriber?: Subscriber } = {};
    const sinks = buildSinks(config, webhookSecret, () => reach.httpUrl, () => reach.subscriber?.mqtt);
    const n = config.notify;
    const dispatcher = new Dispatcher(sinks, { maxQueue: n.maxQueue, backoff: { initialMs: n.retryMinMs, maxMs: n.retryMaxMs, jitter: 0.3 }, log });
    release.push(() => dispatcher.close(0));
    const alerts: AlertEvents = new EventEmitter();
    alerts.on('alert', (a, change) => logAlert(log, a, change));
    alerts.on('alert', (a, change) => dispatcher.push(a, change));
    const rules = new RuleEngine(store, ruleSettings(config, () => reach.httpUrl), (a, change) => alerts.emit('alert', a, change));
    const gaps = { count: 0 };
    const ingest = new Ingest(handlers(store, rules, log, b.url && b.shared ? undefined : gaps, { maxSeqJump: config.ingest.maxSeqJump }), {
      maxPayloadBytes: config.ingest.maxPayloadBytes,
      clockSkewMs: config.ingest.clockSkewSeconds * 1000,
      log,
    });
    // The embedded broker starts once the store and ingest exist: it stores before it acknowledges,
    // so no device message can arrive before the collector can keep it.
    if (!b.url) {
      const registry = b.registry ? loadRegistry(b.registry) : undefined;
      own = { clientId: b.clientId, username: `driftline-collector-${randomBytes(6).toString('hex')}`, password: randomBytes(32).toString('base64url') };
      // Two devices with one identity: the rules raise duplicateDevice.
      const onDuplicate = (d: Parameters<RuleEngine['onDuplicateDevice']>[0]): void => {
        try {
          rules.onDuplicateDevice(d, Date.now());
        } catch (e) {
          log.error({ err: (e as Error).message, clientId: d.clientId }, 'duplicateDevice rule failed');
        }
      };
      // Each device message is stored before the broker acknowledges it (EmbeddedBrokerOptions.storeBeforeAck).
      const storeBeforeAck = (topic: string, payload: Buffer): void => {
        store.beginBatch();
        let failed: unknown;
        try {
          ingest.handle(topic, payload);
        } catch (e) {
          failed = e;
        }
        store.commitBatch(); // throws, rolled back, when the commit fails
        if (failed) throw failed;
      };
      const options = { host: b.host, port: b.port, ...(registry ? { registry } : {}), allowAnonymous: b.allowAnonymous, own, log, onDuplicate, storeBeforeAck };
      const caps = { maxPacketBytes: b.maxPacketBytes, maxRetained: b.maxRetained, maxClients: b.maxClients, maxInflight: b.maxInflight };
      embedded = await listenOrExplain('the embedded MQTT broker', 'broker.port', b.host, b.port, () => startEmbeddedBroker({ ...options, caps }));
      release.push(() => embedded?.close());
    }
    const brokerUrl = b.url || embedded!.url;
    // From an external broker the subscriber receives every device message: decode them off its
    // thread. On the embedded one its session receives none.
    const path = await ingestPath(b.url ? config.ingest.decodeThread : 'main', ingest, { begin: () => store.beginBatch(), commit: () => store.commitBatch() }, log);
    release.push(() => path.close());
    const subscriber = new Subscriber({
      url: brokerUrl,
      client: own ? { ...brokerClient, username: own.username, password: own.password } : brokerClient,
      ...(embedded || !b.shared ? {} : { shareGroup: b.shareGroup }),
      protocolVersion: embedded ? 4 : 5,
      sessionExpirySeconds: b.sessionExpirySeconds,
      backoff: { initialMs: b.reconnectMinMs, maxMs: b.reconnectMaxMs, jitter: 0.5 },
      log,
      // On the embedded broker the messages are stored inside it, before their PUBACK: the
      // collector's own session only publishes alerts and tells /healthz the broker is up.
      ...(embedded ? { filters: [] } : {}),
      onMessage: path.onMessage,
      batch: path.batch,
    });
    const broker = embedded;
    const metrics = collectorMetrics({ ingest, dispatcher, rules, store, leadFamily, brokerConnected: () => subscriber.connected, seqGaps: () => gaps.count, ...(broker ? { broker: () => broker.stats() } : {}) });
    const app = buildHttp({ store, rules, metrics, ackToken, log, health: () => ({ broker: subscriber.connected }) });
    await listenOrExplain('the HTTP API', 'http.port', config.http.host, config.http.port, () => app.listen({ host: config.http.host, port: config.http.port }));
    const addr = app.server.address() as AddressInfo;
    const httpUrl = `http://${config.http.host === '0.0.0.0' ? hostname() : config.http.host}:${addr.port}`;
    reach.httpUrl = httpUrl;
    reach.subscriber = subscriber;
    subscriber.start();
    const tick = setInterval(() => {
      try {
        rules.tick(Date.now());
      } catch (e) {
        log.error({ err: (e as Error).message }, 'rule evaluation failed');
      }
    }, config.rules.evalIntervalSeconds * 1000);
    const prune = setInterval(() => {
      try {
        const deleted = store.prune(Date.now(), config.store.retentionDays * DAY, config.store.alertRetentionDays * DAY);
        if (deleted) log.info({ deleted }, 'retention');
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'retention failed');
      }
    }, config.store.pruneIntervalSeconds * 1000);
    prune.unref();
    log.info({ ...describeBroker(brokerUrl, b), embedded: Boolean(embedded), http: httpUrl, store: config.store.path, sinks: sinks.map((s) => s.name), ack: ackToken ? 'token' : 'off', decodeThread: path.decodeThread }, 'collector started');
    const running: RunningCollector = {
      brokerUrl,
      httpUrl,
      store,
      ingest,
      decodeThread: path.decodeThread,
      rules,
      dispatcher,
      subscriber,
      embedded,
      alerts,
      async stop() {
        clearInterval(tick);
        clearInterval(prune);
        await subscriber.stop();
        await path.close();
        await dispatcher.close();
        await app.close();
        await embedded?.close();
        store.close();
      },
    };
    return running;
  } catch (e) {
    await undoAll(release);
    throw e;
  }
}
