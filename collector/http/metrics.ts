/**
 * The collector's Prometheus metrics (docs/metrics.md), named in metric-names.ts. Counters live where
 * the work happens (ingest, dispatcher); these gauges and counters read them at scrape time, so
 * ingest pays nothing for being observed.
 *
 * The per-camera gauges come from the store's camera rows (one query: each camera's latest seq,
 * verdict and end), read once per scrape. Only a drifting window (warn, alert) can have drivers, so
 * only those windows are opened to name their leading family, once per window: the family is kept
 * by camera and seq until the camera's next window.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { registerProcessMetrics } from '../../lib/process-metrics.js';
import type { SummaryMessage, Verdict } from '../../protocol/messages.js';
import type { BrokerStats } from '../broker/access.js';
import type { Dispatcher } from '../notify/dispatcher.js';
import type { Ingest } from '../ingest/ingest.js';
import type { AlertRecord, StoreQueries } from '../store/store.js';
import { VERDICT_VALUES } from '../../protocol/levels.js';
import { COLLECTOR_METRICS as M } from './metric-names.js';

export interface MetricSources {
  readonly ingest: Ingest;
  readonly dispatcher: Dispatcher;
  /** The active alerts (the rule engine's; on PostgreSQL, the leader's, none on a standby). */
  readonly rules: { readonly firing: readonly AlertRecord[] };
  readonly store: StoreQueries;
  readonly brokerConnected: () => boolean;
  readonly seqGaps: () => number;
  /** Replicas on PostgreSQL: summaries stored after a later one of their camera (each filled a counted gap). */
  readonly seqLate?: () => number;
  /** The embedded broker's refusals and load; undefined with an external broker. */
  readonly broker?: () => BrokerStats;
  /** The feature family of a window's leading driver (rules/evidence.ts leadFamily); undefined: none. */
  readonly leadFamily: (s: SummaryMessage) => string | undefined;
  /** Wall clock, ms (the last window's age); Date.now by default. */
  readonly now?: () => number;
}

interface CameraView {
  readonly labels: { site: string; device: string; camera: string };
  readonly verdict: number | undefined;
  readonly family: string | undefined;
  readonly ageSeconds: number;
}

/** The window's leading family; one odd window never fails the whole scrape. */
function familyOf(src: MetricSources, s: SummaryMessage): string | undefined {
  try {
    return src.leadFamily(s);
  } catch {
    return undefined;
  }
}

/**
 * Every camera's latest window, read once per scrape: prom-client starts every metric's collect()
 * in one pass, so the view (a promise: PostgreSQL answers later) is kept until the next microtask
 * and the three gauges share it.
 */
function cameraViews(src: MetricSources): () => Promise<CameraView[]> {
  const families = new Map<string, { seq: number; family: string | undefined }>();
  let current: Promise<CameraView[]> | undefined;
  const build = async (): Promise<CameraView[]> => {
    const now = (src.now ?? Date.now)();
    const seen = new Set<string>();
    const views: CameraView[] = [];
    for (const c of await src.store.cameras()) {
      const key = `${c.site}/${c.device}/${c.camera}`;
      seen.add(key);
      let f = families.get(key);
      if (f?.seq !== c.lastSeq) {
        const drifting = c.lastStatus === 'warn' || c.lastStatus === 'alert';
        const s = drifting ? await src.store.summary(c.site, c.device, c.camera, c.lastSeq) : undefined;
        f = { seq: c.lastSeq, family: s && familyOf(src, s) };
        families.set(key, f);
      }
      views.push({
        labels: { site: c.site, device: c.device, camera: c.camera },
        verdict: VERDICT_VALUES[c.lastStatus as Verdict],
        family: f.family,
        ageSeconds: Math.max(0, (now - c.lastEnd) / 1000),
      });
    }
    for (const k of families.keys()) if (!seen.has(k)) families.delete(k);
    return views;
  };
  return () => {
    if (current) return current;
    current = build();
    queueMicrotask(() => (current = undefined));
    return current;
  };
}

export function collectorMetrics(src: MetricSources): Registry {
  const registry = new Registry();
  registerProcessMetrics(registry);
  const cameras = cameraViews(src);
  // Counters mirror plain numbers kept by the work: reset() then inc() to the current total at scrape time.
  new Counter({
    name: M.messages,
    help: 'Device messages by kind and result (accepted, duplicate)',
    labelNames: ['kind', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(src.ingest.counters.accepted)) this.inc({ kind, result: 'accepted' }, n);
      for (const [kind, n] of Object.entries(src.ingest.counters.duplicates)) this.inc({ kind, result: 'duplicate' }, n);
    },
  });
  new Counter({
    name: M.rejected,
    help: 'Payloads dropped at ingest, by reason (oversized, topic, json, schema, identity, time)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(src.ingest.counters.rejected)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: M.storeFailures,
    help: 'Messages the store refused (not acknowledged; the broker re-delivers them)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.ingest.counters.failed);
    },
  });
  if (src.broker) {
    const stats = src.broker;
    new Counter({
      name: M.brokerRefused,
      help: 'Embedded broker: connections, publishes and subscriptions refused, by reason (auth, clientId, clients, packetSize, publish, subscribe, retained, inflight)',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(stats().refused)) this.inc({ reason }, n);
      },
    });
    new Gauge({
      name: M.brokerClients,
      help: "Embedded broker: clients connected now (the collector's own not counted)",
      registers: [registry],
      collect() {
        this.set(stats().clients);
      },
    });
    new Gauge({
      name: M.brokerRetainedTopics,
      help: 'Embedded broker: distinct retained topics held now (capped by broker.maxRetained)',
      registers: [registry],
      collect() {
        this.set(stats().retained);
      },
    });
  }
  new Counter({
    name: M.quarantined,
    help: 'Summaries kept apart because their seq jumped more than ingest.maxSeqJump ahead of the camera',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.ingest.counters.quarantined);
    },
  });
  new Gauge({
    name: M.quarantineSummaries,
    help: 'Summaries held in quarantine now (released when the device continues from them; pruned with retention)',
    registers: [registry],
    async collect() {
      this.set(await src.store.quarantineSize());
    },
  });
  new Counter({
    name: M.ruleErrors,
    help: 'Rules that threw on a stored message (logged with its identity); ingest went on',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.ingest.counters.ruleErrors);
    },
  });
  new Counter({
    name: M.seqGaps,
    help: 'Summaries missing between consecutive seq numbers of a camera (lost upstream: outbox overflow)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.seqGaps());
    },
  });
  if (src.seqLate) {
    const late = src.seqLate;
    new Counter({
      name: M.seqLate,
      help: 'Replicas on PostgreSQL: summaries stored after a later one of their camera, each filling a gap counted in seq_gaps_total (missing: gaps minus late)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(late());
      },
    });
  }
  new Gauge({
    name: M.alertsFiring,
    help: 'Active alerts by rule and severity',
    labelNames: ['rule', 'severity'],
    registers: [registry],
    collect() {
      this.reset();
      for (const a of src.rules.firing) this.inc({ rule: a.rule, severity: a.severity });
    },
  });
  new Gauge({
    name: M.alerts,
    help: 'Active alerts by state: firing (not acknowledged yet) or acknowledged',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      this.set({ state: 'firing' }, 0);
      this.set({ state: 'acknowledged' }, 0);
      for (const a of src.rules.firing) this.inc({ state: a.ack ? 'acknowledged' : 'firing' });
    },
  });
  new Gauge({
    name: M.cameraVerdict,
    help: "The verdict of the camera's latest window: 2 alert, 1 warn, 0 ok, -1 insufficient, -2 unscored",
    labelNames: ['site', 'device', 'camera'],
    registers: [registry],
    async collect() {
      const views = await cameras();
      this.reset();
      for (const c of views) if (c.verdict !== undefined) this.set(c.labels, c.verdict);
    },
  });
  new Gauge({
    name: M.cameraDriver,
    help: "1 for the feature family of the leading driver of the camera's latest window; absent when it has no driver",
    labelNames: ['site', 'device', 'camera', 'family'],
    registers: [registry],
    async collect() {
      const views = await cameras();
      this.reset();
      for (const c of views) if (c.family) this.set({ ...c.labels, family: c.family }, 1);
    },
  });
  new Gauge({
    name: M.cameraLastWindowAge,
    help: "Seconds since the end of the camera's latest window (0 when it ends ahead of the collector's clock)",
    labelNames: ['site', 'device', 'camera'],
    registers: [registry],
    async collect() {
      const views = await cameras();
      this.reset();
      for (const c of views) this.set(c.labels, c.ageSeconds);
    },
  });
  new Counter({
    name: M.notifications,
    help: 'Alert deliveries by sink and result (sent, failed, dropped)',
    labelNames: ['sink', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [sink, s] of Object.entries(src.dispatcher.stats)) {
        this.inc({ sink, result: 'sent' }, s.sent);
        this.inc({ sink, result: 'failed' }, s.failed);
        this.inc({ sink, result: 'dropped' }, s.dropped);
      }
    },
  });
  new Gauge({
    name: M.notifyQueue,
    help: 'Alert changes waiting for delivery, by sink',
    labelNames: ['sink'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [sink, s] of Object.entries(src.dispatcher.stats)) this.set({ sink }, s.queued);
    },
  });
  new Gauge({
    name: M.devices,
    help: 'Known devices by state (online, offline)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const devices = await src.store.devices();
      this.reset();
      this.set({ state: 'online' }, 0);
      this.set({ state: 'offline' }, 0);
      for (const d of devices) this.inc({ state: d.state });
    },
  });
  new Gauge({
    name: M.brokerConnected,
    help: '1 while the collector is connected and subscribed to the broker',
    registers: [registry],
    collect() {
      this.set(src.brokerConnected() ? 1 : 0);
    },
  });
  return registry;
}
