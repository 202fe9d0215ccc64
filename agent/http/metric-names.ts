/**
 * The agent's metric names, once: agent/http/metrics.ts registers them under these names, and the
 * dashboards and alerting rules build their queries from the same constants, so a renamed metric is
 * renamed everywhere. docs/metrics.md ("Agent") describes each one.
 */

export const AGENT_METRICS = {
  info: 'driftline_agent_info',
  frames: 'driftline_agent_frames_total',
  cameraUp: 'driftline_agent_camera_up',
  cameraReconnects: 'driftline_agent_camera_reconnects_total',
  cameraSourceErrors: 'driftline_agent_camera_source_errors_total',
  cameraExpectedFps: 'driftline_agent_camera_expected_fps',
  lastFrame: 'driftline_agent_last_frame_timestamp_seconds',
  pipelineWedged: 'driftline_agent_pipeline_wedged',
  stageDuration: 'driftline_agent_stage_duration_seconds',
  bursts: 'driftline_agent_inference_bursts_total',
  burstFrames: 'driftline_agent_inference_burst_frames_total',
  providerInfo: 'driftline_agent_provider_info',
  providerFallback: 'driftline_agent_provider_fallback',
  driftVerdict: 'driftline_agent_drift_verdict',
  driftScore: 'driftline_agent_drift_score',
  oodRate: 'driftline_agent_ood_rate',
  oodDetectionRate: 'driftline_agent_ood_detection_rate',
  uncertainRate: 'driftline_agent_uncertain_rate',
  lastWindow: 'driftline_agent_last_window_timestamp_seconds',
  reviewFrames: 'driftline_agent_review_frames_total',
  outboxMessages: 'driftline_agent_outbox_messages',
  outboxOldestAge: 'driftline_agent_outbox_oldest_age_seconds',
  outboxDropped: 'driftline_agent_outbox_dropped_total',
  mqttConnected: 'driftline_agent_mqtt_connected',
  databaseBytes: 'driftline_agent_database_bytes',
} as const;

/** `driftline_agent_frames_total{result}`. */
export const FRAME_RESULTS = ['processed', 'dropped', 'errored'] as const;

/** `driftline_agent_drift_score` is on this scale: the warn threshold is 1, the alert threshold 2 (agent/drift/family-scores.ts). */
export const DRIFT_SCORE_WARN = 1;
export const DRIFT_SCORE_ALERT = 2;
