/**
 * The collector's Prometheus metrics (docs/metrics.md). Counters live where the work happens
 * (ingest, dispatcher); these gauges and counters read them at scrape time, so ingest pays nothing
 * for being observed.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { BrokerStats } from '../broker/access.js';
import type { Dispatcher } from '../notify/dispatcher.js';
import type { Ingest } from '../ingest/ingest.js';
import type { RuleEngine } from '../rules/engine.js';
import type { CollectorStore } from '../store/store.js';

export interface MetricSources {
  readonly ingest: Ingest;
  readonly dispatcher: Dispatcher;
  readonly rules: RuleEngine;
  readonly store: CollectorStore;
  readonly brokerConnected: () => boolean;
  readonly seqGaps: () => number;
  /** The embedded broker's refusals and load; undefined with an external broker. */
  readonly broker?: () => BrokerStats;
}

export function collectorMetrics(src: MetricSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'driftline_collector_' });
  // Counters mirror plain numbers kept by the work: reset() then inc() to the current total at scrape time.
  new Counter({
    name: 'driftline_collector_messages_total',
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
    name: 'driftline_collector_rejected_total',
    help: 'Payloads dropped at ingest, by reason (oversized, topic, json, schema, identity, time)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(src.ingest.counters.rejected)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'driftline_collector_store_failures_total',
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
      name: 'driftline_collector_broker_refused_total',
      help: 'Embedded broker: connections, publishes and subscriptions refused, by reason (auth, clientId, clients, packetSize, publish, subscribe, retained, inflight)',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(stats().refused)) this.inc({ reason }, n);
      },
    });
    new Gauge({
      name: 'driftline_collector_broker_clients',
      help: "Embedded broker: clients connected now (the collector's own not counted)",
      registers: [registry],
      collect() {
        this.set(stats().clients);
      },
    });
    new Gauge({
      name: 'driftline_collector_broker_retained_topics',
      help: 'Embedded broker: distinct retained topics held now (capped by broker.maxRetained)',
      registers: [registry],
      collect() {
        this.set(stats().retained);
      },
    });
  }
  new Counter({
    name: 'driftline_collector_quarantined_total',
    help: 'Summaries kept apart because their seq jumped more than ingest.maxSeqJump ahead of the camera',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.ingest.counters.quarantined);
    },
  });
  new Gauge({
    name: 'driftline_collector_quarantine_summaries',
    help: 'Summaries held in quarantine now (released when the device continues from them; pruned with retention)',
    registers: [registry],
    collect() {
      this.set(src.store.quarantineSize());
    },
  });
  new Counter({
    name: 'driftline_collector_rule_errors_total',
    help: 'Rules that threw on a stored message (logged with its identity); ingest went on',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.ingest.counters.ruleErrors);
    },
  });
  new Counter({
    name: 'driftline_collector_seq_gaps_total',
    help: 'Summaries missing between consecutive seq numbers of a camera (lost upstream: outbox overflow)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.seqGaps());
    },
  });
  new Gauge({
    name: 'driftline_collector_alerts_firing',
    help: 'Active alerts by rule and severity',
    labelNames: ['rule', 'severity'],
    registers: [registry],
    collect() {
      this.reset();
      for (const a of src.rules.firing) this.inc({ rule: a.rule, severity: a.severity });
    },
  });
  new Counter({
    name: 'driftline_collector_notifications_total',
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
    name: 'driftline_collector_notify_queue',
    help: 'Alert changes waiting for delivery, by sink',
    labelNames: ['sink'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [sink, s] of Object.entries(src.dispatcher.stats)) this.set({ sink }, s.queued);
    },
  });
  new Gauge({
    name: 'driftline_collector_devices',
    help: 'Known devices by state (online, offline)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      this.set({ state: 'online' }, 0);
      this.set({ state: 'offline' }, 0);
      for (const d of src.store.devices()) this.inc({ state: d.state });
    },
  });
  new Gauge({
    name: 'driftline_collector_broker_connected',
    help: '1 while the collector is connected and subscribed to the broker',
    registers: [registry],
    collect() {
      this.set(src.brokerConnected() ? 1 : 0);
    },
  });
  return registry;
}
