/**
 * The collector as one of any number of replicas on one PostgreSQL database (`store.url`; docs/scale.md),
 * wired here: every replica ingests its share of the fleet from the shared subscription, stores it,
 * and serves the HTTP API and dashboard from the database; the one that holds the leadership lock
 * runs the rules and notifies (leader.ts). stop() stops taking messages first (the broker gives this
 * replica's share to the others meanwhile), then stops its rules while it still holds the lead (their
 * writes get a few seconds to commit), hands the lead on, delivers what is queued and closes.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { Gauge } from 'prom-client';
import type { Logger } from '../../lib/log.js';
import { clientOptions, describeBroker } from '../../lib/mqtt-options.js';
import { secret } from '../../lib/secret.js';
import { undoAll } from '../../lib/undo-create.js';
import { collectorFilters } from '../../protocol/topics.js';
import type { CollectorConfig } from '../config.js';
import { Subscriber } from '../broker/subscriber.js';
import { COLLECTOR_METRICS } from '../http/metric-names.js';
import { collectorMetrics } from '../http/metrics.js';
import { buildHttp } from '../http/server.js';
import { Ingest } from '../ingest/ingest.js';
import { ingestPath } from '../ingest/offload.js';
import { buildSinks, listenOrExplain, logAlert, ruleSettings, startupSecrets, type AlertEvents } from '../main.js';
import { Dispatcher } from '../notify/dispatcher.js';
import { leadFamily } from '../rules/evidence.js';
import { redactUrl } from '../../lib/redact.js';
import { PostgresStore } from '../store/postgres-store.js';
import { passwordInUrl } from '../store/postgres-url.js';
import { adoptSession } from './adopt.js';
import { clusterHandlers } from './handlers.js';
import { ClusterLeader } from './leader.js';
import { Leadership } from './leadership.js';

const DAY = 86_400_000;
/** Drift runs rebuilt by a new leader reach this far beyond the drift hold and clear times. */
const REPLAY_MARGIN_MS = 10 * 60_000;

export interface RunningReplica {
  readonly brokerUrl: string;
  readonly httpUrl: string;
  readonly store: PostgresStore;
  readonly ingest: Ingest;
  /** Where device messages are decoded (ingest.decodeThread, decided at start). */
  readonly decodeThread: 'worker' | 'main';
  readonly dispatcher: Dispatcher;
  readonly subscriber: Subscriber;
  readonly leadership: Leadership;
  readonly leader: ClusterLeader;
  /** Alert changes, while this replica leads (the log subscribes first). */
  readonly alerts: AlertEvents;
  stop(): Promise<void>;
}

export async function startReplica(config: CollectorConfig, log: Logger): Promise<RunningReplica> {
  const { ackToken, webhookSecret } = await startupSecrets(config);
  const b = config.broker;
  const storePassword = secret('', config.store.passwordFile, 'store.passwordFile');
  const release: (() => unknown)[] = [];
  try {
    const store = await PostgresStore.open(config.store.url, { ...(storePassword ? { password: storePassword } : {}), maxSeqJump: config.ingest.maxSeqJump, poolSize: config.store.poolSize, applicationName: `driftline-collector ${b.clientId}`.slice(0, 63) });
    release.push(() => store.close());
    // Read by the notifiers and the runbook links when they send: the listener's address and the
    // broker session, which are made after everything they serve.
    const reach: { httpUrl?: string; subscriber?: Subscriber } = {};
    const sinks = buildSinks(config, webhookSecret, () => reach.httpUrl, () => reach.subscriber?.mqtt);
    const n = config.notify;
    /** Delivery records being written: a stopping replica waits for them before it hands the lead on. */
    const recording = new Set<Promise<unknown>>();
    /** Set when stop() begins: a lead won back meanwhile is not taken up. */
    let stopping = false;
    const dispatcher = new Dispatcher(sinks, {
      maxQueue: n.maxQueue,
      backoff: { initialMs: n.retryMinMs, maxMs: n.retryMaxMs, jitter: 0.3 },
      log,
      onDelivered: (sink, a) => {
        const write = store.delivered(a.id, sink, a.state, a.severity, Date.now()).catch((e: unknown) => log.warn({ alert: a.id, sink, err: (e as Error).message }, 'could not record a delivery; a new leader may send it again'));
        recording.add(write);
        void write.finally(() => recording.delete(write));
      },
    });
    release.push(() => dispatcher.close(0));
    const gaps: { count: number; late?: number } = { count: 0 };
    const ingest = new Ingest(clusterHandlers(store, log, gaps, config.ingest.maxSeqJump), { maxPayloadBytes: config.ingest.maxPayloadBytes, clockSkewMs: config.ingest.clockSkewSeconds * 1000, log });
    const client = clientOptions(b, 'broker', b.clientId, b.url);
    const backoff = { initialMs: b.reconnectMinMs, maxMs: b.reconnectMaxMs, jitter: 0.5 };
    const path = await ingestPath(config.ingest.decodeThread, ingest, { begin: () => store.beginBatch(), commit: () => store.commitBatch() }, log);
    release.push(() => path.close());
    const { onMessage, batch } = path;
    const filters = collectorFilters(b.shared ? b.shareGroup : undefined);
    const subscriber = new Subscriber({
      url: b.url,
      client,
      ...(b.shared ? { shareGroup: b.shareGroup } : {}),
      protocolVersion: 5,
      sessionExpirySeconds: b.sessionExpirySeconds,
      backoff,
      log,
      onMessage,
      batch,
    });
    reach.subscriber = subscriber;
    const leadership: { current?: Leadership } = {};
    const alerts: AlertEvents = new EventEmitter();
    alerts.on('alert', (a, change) => logAlert(log, a, change));
    const leader = new ClusterLeader({
      store,
      settings: ruleSettings(config, () => reach.httpUrl),
      dispatcher,
      sinks: sinks.map((s) => s.name),
      log,
      pollMs: config.cluster.feedIntervalMs,
      evalMs: config.rules.evalIntervalSeconds * 1000,
      replayMs: (config.rules.driftForSeconds + config.rules.driftClearSeconds) * 1000 + REPLAY_MARGIN_MS,
      onAlert: (a, change) => alerts.emit('alert', a, change),
      deadReplicas: () => leadership.current?.deadReplicas() ?? Promise.resolve([]),
      adopt: (clientId) => adoptSession({ url: b.url, client, clientId, filters, backoff, log, sessionExpirySeconds: b.sessionExpirySeconds, onMessage, batch }),
      // Its notifications queued are abandoned with the lead (onStandby 'lost'): the new leader sends what was not delivered.
      onFenced: () => leadership.current?.resign('a write of this leader was refused for a later leader term'),
      ruleError: (e, row) => {
        ingest.counters.ruleErrors++;
        log.error({ kind: row.kind, device: `${row.m.site}/${row.m.device}`, err: (e as Error).message?.slice(0, 300) }, 'a rule failed on a stored message; the rules go on');
      },
    });
    const lead = new Leadership({
      url: config.store.url,
      ...(storePassword ? { password: storePassword } : {}),
      clientId: b.clientId,
      pollMs: config.cluster.leaderPollSeconds * 1000,
      log,
      onLead: (term) => (stopping ? Promise.resolve() : leader.start(term)),
      onStandby: (why) => {
        // Losing the lock is news for the on-call engineer; a replica that is being stopped hands the lead on as planned.
        if (why === 'lost') {
          // Its undelivered notifications are the new leader's to send (the store records deliveries).
          const abandoned = dispatcher.abandon();
          log.warn({ abandoned }, 'this replica no longer leads: it stops running the rules and notifying');
        } else log.info('this replica is stopping: it hands the lead on');
        void leader.stop();
      },
    });
    leadership.current = lead;
    const metrics = collectorMetrics({ ingest, dispatcher, rules: leader, store, leadFamily, brokerConnected: () => subscriber.connected, seqGaps: () => gaps.count, seqLate: () => gaps.late ?? 0 });
    new Gauge({
      name: COLLECTOR_METRICS.leader,
      help: '1 while this replica leads (runs the rules and notifies), 0 while it stands by (PostgreSQL store only)',
      registers: [metrics],
      collect() {
        this.set(lead.isLeader ? 1 : 0);
      },
    });
    new Gauge({
      name: COLLECTOR_METRICS.leaderFeedLag,
      help: "On the leader, how far the rules are behind what the replicas stored, seconds (0 on a standby): the feed stops at the oldest transaction still open on the PostgreSQL server (PostgreSQL store only)",
      registers: [metrics],
      collect() {
        this.set(leader.feedLagMs() / 1000);
      },
    });
    const app = buildHttp({
      store,
      rules: {
        acknowledge: async (id, by, comment, now) => {
          const ack = { by, comment, at: new Date(now).toISOString() };
          const a = await store.acknowledge(id, ack);
          if (a) leader.acknowledge(id, ack);
          return a;
        },
      },
      metrics,
      ackToken,
      log,
      health: () => ({ broker: subscriber.connected, role: lead.isLeader ? 'leader' : 'standby' }),
    });
    await listenOrExplain('the HTTP API', 'http.port', config.http.host, config.http.port, () => app.listen({ host: config.http.host, port: config.http.port }));
    release.push(() => app.close());
    const addr = app.server.address() as AddressInfo;
    const httpUrl = `http://${config.http.host === '0.0.0.0' ? hostname() : config.http.host}:${addr.port}`;
    reach.httpUrl = httpUrl;
    // This replica's id first (a second process with it is refused), then its broker session.
    await lead.start();
    release.push(() => lead.stop());
    subscriber.start();
    const prune = setInterval(() => {
      if (!lead.isLeader) return;
      store.prune(Date.now(), config.store.retentionDays * DAY, config.store.alertRetentionDays * DAY).then(
        (deleted) => deleted && log.info({ deleted, batches: store.pruneStats.batches, longestBatchMs: Math.round(store.pruneStats.longestMs) }, 'retention'),
        (e: unknown) => log.warn({ err: (e as Error).message }, 'retention failed'),
      );
    }, config.store.pruneIntervalSeconds * 1000);
    prune.unref();
    const storePasswordFrom = storePassword ? 'store.passwordFile' : passwordInUrl(config.store.url) ? 'in the URL' : 'none given (PGPASSWORD, ~/.pgpass or no password)';
    log.info({ ...describeBroker(b.url, b), shared: b.shared, http: httpUrl, store: redactUrl(config.store.url), storePassword: storePasswordFrom, replica: b.clientId, role: lead.isLeader ? 'leader' : 'standby', sinks: sinks.map((s) => s.name), ack: ackToken ? 'token' : 'off', decodeThread: path.decodeThread }, 'collector replica started');
    if (!b.shared) log.info({ replica: b.clientId }, 'broker.shared is off: this replica receives every message; replicas beside it on this store would each receive and store them all (stored once, but each pays for all): turn broker.shared on when there is more than one');
    const running: RunningReplica = {
      brokerUrl: b.url,
      httpUrl,
      store,
      ingest,
      decodeThread: path.decodeThread,
      dispatcher,
      subscriber,
      leadership: lead,
      leader,
      alerts,
      async stop() {
        stopping = true;
        lead.standDown(); // a standby that is stopping does not take the lead meanwhile
        clearInterval(prune);
        // No new share for this replica while it is away: the others take it.
        await subscriber.mqtt?.unsubscribeAsync(filters).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 300)); // what the broker had already sent is stored and acknowledged
        await subscriber.stop();
        // The rules stop, and their writes (up to DRAIN_MS), a takeover in progress, the queued notifications and their
        // delivery records finish, while this replica still holds the lock: the next leader then finds
        // every alert written and every delivery this one made recorded.
        await leader.stop({ drain: true });
        await path.close(); // after the last session that ingests (a takeover's) has stopped
        await dispatcher.close();
        await Promise.all(recording);
        await lead.stop();
        await app.close();
        await store.close();
      },
    };
    return running;
  } catch (e) {
    await undoAll(release);
    throw e;
  }
}
