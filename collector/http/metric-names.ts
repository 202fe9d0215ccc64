/**
 * The collector's metric names, once: collector/http/metrics.ts registers them under these names
 * and the Grafana dashboards (deploy/grafana/) build their queries from the same constants, so a
 * renamed metric is renamed everywhere. docs/metrics.md describes each one.
 */

export const COLLECTOR_METRICS = {
  messages: 'driftline_collector_messages_total',
  rejected: 'driftline_collector_rejected_total',
  storeFailures: 'driftline_collector_store_failures_total',
  brokerRefused: 'driftline_collector_broker_refused_total',
  brokerClients: 'driftline_collector_broker_clients',
  brokerRetainedTopics: 'driftline_collector_broker_retained_topics',
  quarantined: 'driftline_collector_quarantined_total',
  quarantineSummaries: 'driftline_collector_quarantine_summaries',
  ruleErrors: 'driftline_collector_rule_errors_total',
  seqGaps: 'driftline_collector_seq_gaps_total',
  seqLate: 'driftline_collector_seq_late_total',
  alertsFiring: 'driftline_collector_alerts_firing',
  alerts: 'driftline_collector_alerts',
  notifications: 'driftline_collector_notifications_total',
  notifyQueue: 'driftline_collector_notify_queue',
  devices: 'driftline_collector_devices',
  brokerConnected: 'driftline_collector_broker_connected',
  leader: 'driftline_collector_leader',
  leaderFeedLag: 'driftline_collector_leader_feed_lag_seconds',
  cameraVerdict: 'driftline_collector_camera_verdict',
  cameraDriver: 'driftline_collector_camera_driver',
  cameraLastWindowAge: 'driftline_collector_camera_last_window_age_seconds',
} as const;

/** `driftline_collector_alerts{state}`: active alerts nobody acknowledged yet, and those acknowledged. */
export const ALERT_STATES = ['firing', 'acknowledged'] as const;
