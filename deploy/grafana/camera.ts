/**
 * "Driftline / Camera": one camera of one edge agent, for the engineer deciding whether to
 * recalibrate, retrain or ignore. Its feature families' drift scores over time against the warn and
 * alert thresholds, the verdict per window, the OOD and uncertain rates, then whether the camera
 * keeps up (fps against the expected rate, drops, errors, reconnects, stage latency), the
 * execution provider, the outbox and the process. The variables pick the agent (its scrape
 * `instance`) and one of its cameras.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { AGENT_METRICS as A, DRIFT_SCORE_ALERT, DRIFT_SCORE_WARN, FRAME_RESULTS } from '../../agent/http/metric-names.js';
import { VERDICT_VALUES } from '../../protocol/levels.js';
import { PROCESS_METRICS as P } from '../../lib/process-metrics.js';
import { booleanMappings, driftlineDashboard, labelValues, PanelIds, rate, row, sel, statPanel, statusHistoryPanel, thresholds, timeseriesPanel, verdictMappings } from './panels.js';

export const CAMERA_UID = 'driftline-camera';

const [PROCESSED, DROPPED, ERRORED] = FRAME_RESULTS;
const AGENT = { instance: '$instance' };
const CAMERA = { ...AGENT, camera: '$camera' };

export function cameraDashboard(): Dashboard {
  const ids = new PanelIds();
  return driftlineDashboard('Driftline / Camera', CAMERA_UID, 'One camera of one edge agent: drift scores against their thresholds, verdicts, OOD and uncertain rates, throughput, latency, provider and outbox')
    .withVariable(
      labelValues('instance', 'instance', A.info)
        .label('Agent')
        .description('The edge agent: its scrape target (host:port of its /metrics)'),
    )
    .withVariable(
      labelValues('camera', 'camera', sel(A.frames, AGENT)).label('Camera'),
    )

    .withRow(row(ids, 'Now'))
    .withPanel(statPanel(ids, { title: 'Verdict', description: "The camera's last window: ok, warn, alert; insufficient (too few frames) or unscored (no reference profile)", queries: [{ expr: sel(A.driftVerdict, CAMERA) }], w: 4, h: 4 }).mappings(verdictMappings(VERDICT_VALUES)))
    .withPanel(statPanel(ids, { title: 'Last window', description: 'Time since the camera\'s last window closed', queries: [{ expr: `time() - ${sel(A.lastWindow, CAMERA)}` }], unit: 's', w: 4, h: 4 }))
    .withPanel(statPanel(ids, { title: 'Camera', description: 'Whether the source delivers frames', queries: [{ expr: sel(A.cameraUp, CAMERA) }], w: 4, h: 4 }).mappings(booleanMappings({ text: 'down', color: 'red' }, { text: 'streaming', color: 'green' })))
    .withPanel(statPanel(ids, { title: 'Pipeline', description: 'Wedged: a frame has waited longer than http.wedgedSeconds with none finishing (what /healthz fails on)', queries: [{ expr: sel(A.pipelineWedged, CAMERA) }], w: 4, h: 4 }).mappings(booleanMappings({ text: 'flowing', color: 'green' }, { text: 'wedged', color: 'red' })))
    .withPanel(
      statPanel(ids, {
        title: 'Execution provider',
        description: 'The provider inference runs on, and those tried, in order',
        queries: [{ expr: sel(A.providerInfo, AGENT), legend: '{{provider}} (tried: {{requested}})' }],
        text: common.BigValueTextMode.Name,
        w: 4,
        h: 4,
      }),
    )
    .withPanel(statPanel(ids, { title: 'Provider fallback', description: 'Whether the agent runs on a worse provider than it should: not the one model.requireProvider names, or below one it ran on before', queries: [{ expr: sel(A.providerFallback, AGENT) }], w: 4, h: 4 }).mappings(booleanMappings({ text: 'as expected', color: 'green' }, { text: 'fell back', color: 'orange' })))

    .withRow(row(ids, 'Drift'))
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Feature-family drift scores',
        description: `Per feature family, the largest drift score of each window, on a scale where ${DRIFT_SCORE_WARN} is the warn threshold and ${DRIFT_SCORE_ALERT} the alert threshold (both drawn)`,
        queries: [{ expr: sel(A.driftScore, CAMERA), legend: '{{family}}' }],
        w: 16,
        h: 9,
      })
        .min(0)
        .axisSoftMax(DRIFT_SCORE_ALERT * 1.25)
        .thresholds(thresholds('green', { value: DRIFT_SCORE_WARN, color: 'orange' }, { value: DRIFT_SCORE_ALERT, color: 'red' }))
        .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed)),
    )
    .withPanel(statusHistoryPanel(ids, { title: 'Verdict per window', description: "The camera's verdict over time", queries: [{ expr: sel(A.driftVerdict, CAMERA), legend: '{{camera}}' }], mappings: verdictMappings(VERDICT_VALUES), w: 8, h: 9 }))
    .withPanel(
      timeseriesPanel(ids, {
        title: 'OOD and uncertain rates',
        description: "Shares of each window's frames: inputs outside the reference profile's support, detections unlike their class in the reference, and uncertain detections (the frames saved for review)",
        queries: [
          { expr: sel(A.oodRate, CAMERA), legend: 'inputs out of distribution' },
          { expr: sel(A.oodDetectionRate, CAMERA), legend: 'detections out of distribution' },
          { expr: sel(A.uncertainRate, CAMERA), legend: 'uncertain' },
        ],
        unit: 'percentunit',
        w: 24,
        h: 8,
      }).min(0),
    )

    .withRow(row(ids, 'Throughput and latency'))
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Frames per second',
        description: 'Frames the pipeline finished, against the rate the source is configured to deliver',
        queries: [
          { expr: rate(sel(A.frames, { ...CAMERA, result: PROCESSED! })), legend: 'processed' },
          { expr: sel(A.cameraExpectedFps, CAMERA), legend: 'expected' },
        ],
        unit: 'suffix: fps',
        w: 8,
        h: 8,
      }).min(0),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Drops, errors and reconnects',
        description: "Frames dropped (the camera delivered faster than the pipeline took them) and errored, per second; source restarts and the source's own errors (its stderr lines)",
        queries: [
          { expr: `sum by (result) (${rate(sel(A.frames, { ...CAMERA, result: `~${DROPPED}|${ERRORED}` }))})`, legend: '{{result}}' },
          { expr: rate(sel(A.cameraReconnects, CAMERA)), legend: 'reconnects' },
          { expr: rate(sel(A.cameraSourceErrors, CAMERA)), legend: 'source errors' },
        ],
        unit: 'cps',
        w: 8,
        h: 8,
      }).min(0),
    )
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Stage latency',
        description: "Time per frame in each stage of the agent's frame loop, p50 and p95 (all of the agent's cameras)",
        queries: [0.5, 0.95].map((q) => ({ expr: `histogram_quantile(${q}, sum by (le, stage) (${rate(sel(`${A.stageDuration}_bucket`, AGENT))}))`, legend: `{{stage}} p${q * 100}` })),
        unit: 's',
        w: 8,
        h: 8,
      }).min(0),
    )

    .withRow(row(ids, 'Outbox, review frames and store'))
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Outbox',
        description: 'Messages waiting for the broker, and the age of the oldest; messages dropped because the outbox was full',
        queries: [
          { expr: sel(A.outboxMessages, AGENT), legend: 'messages' },
          { expr: sel(A.outboxOldestAge, AGENT), legend: 'oldest (s)' },
          { expr: rate(sel(A.outboxDropped, AGENT)), legend: 'dropped per second' },
        ],
        w: 8,
        h: 8,
      }).min(0),
    )
    .withPanel(statusHistoryPanel(ids, { title: 'MQTT', description: 'Whether the agent is connected to its broker', queries: [{ expr: sel(A.mqttConnected, AGENT), legend: 'broker' }], mappings: booleanMappings({ text: 'disconnected', color: 'red' }, { text: 'connected', color: 'green' }), w: 4, h: 8 }))
    .withPanel(timeseriesPanel(ids, { title: 'Review frames', description: 'Review frames per second by result: saved, over the hourly budget, paused (disk full), failed, evicted', queries: [{ expr: `sum by (result) (${rate(sel(A.reviewFrames, AGENT))})`, legend: '{{result}}' }], unit: 'cps', w: 6, h: 8 }).min(0))
    .withPanel(timeseriesPanel(ids, { title: 'Database size', description: 'The SQLite store on disk: database file and write-ahead log', queries: [{ expr: sel(A.databaseBytes, AGENT), legend: 'store' }], unit: 'bytes', w: 6, h: 8 }).min(0))

    .withRow(row(ids, 'Agent process'))
    .withPanel(statPanel(ids, { title: 'Agent', description: 'Agent version and the model it runs', queries: [{ expr: sel(A.info, AGENT), legend: '{{model}} · agent {{version}}' }], text: common.BigValueTextMode.Name, w: 6, h: 8 }))
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Memory',
        description: 'Resident set size and V8 heap in use',
        queries: [
          { expr: sel(P.residentMemory, AGENT), legend: 'resident' },
          { expr: sel(P.heapUsed, AGENT), legend: 'heap used' },
        ],
        unit: 'bytes',
        w: 6,
        h: 8,
      }).min(0),
    )
    .withPanel(timeseriesPanel(ids, { title: 'CPU', description: 'CPU time per second (1 = one core)', queries: [{ expr: rate(sel(P.cpuSeconds, AGENT)), legend: 'cpu' }], unit: 'percentunit', w: 6, h: 8 }).min(0))
    .withPanel(timeseriesPanel(ids, { title: 'Event-loop lag p99', description: "The main thread's event-loop delay, 99th percentile", queries: [{ expr: sel(P.eventLoopLagP99, AGENT), legend: 'p99' }], unit: 's', w: 6, h: 8 }).min(0))
    .build();
}
