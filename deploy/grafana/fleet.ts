/**
 * "Driftline / Fleet": the on-call view of every camera the collector knows. Alerts firing and
 * acknowledged, devices offline, a drift-status map of devices × cameras over time and a table of
 * each camera's verdict, leading driver and last window now; then the edge agents Prometheus scrapes
 * (providers, wedged pipelines, outbox backlog) and the collector's own health (ingest, rejects,
 * notifications). The `site` variable narrows the per-camera panels.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { AGENT_METRICS as A, FRAME_RESULTS } from '../../agent/http/metric-names.js';
import { ALERT_STATES, COLLECTOR_METRICS as C } from '../../collector/http/metric-names.js';
import { VERDICT_VALUES } from '../../protocol/levels.js';
import type { DeviceRow } from '../../collector/store/store.js';
import { PROCESS_METRICS as P } from '../../lib/process-metrics.js';
import { booleanMappings, driftlineDashboard, labelValues, onTargetsOf, PanelIds, rate, row, sel, statPanel, statusHistoryPanel, tablePanel, thresholds, timeseriesPanel, verdictMappings } from './panels.js';

export const FLEET_UID = 'driftline-fleet';

const SITE = { site: '~$site' };
const [FIRING, ACKNOWLEDGED] = ALERT_STATES;
const [PROCESSED] = FRAME_RESULTS;
const OFFLINE: DeviceRow['state'] = 'offline';
const ONLINE: DeviceRow['state'] = 'online';
/** Column names of the camera table (the value columns of its queries A, B, C, renamed). */
const VERDICT = 'Verdict';
const AGE = 'Last window';

export function fleetDashboard(): Dashboard {
  const ids = new PanelIds();
  return driftlineDashboard('Driftline / Fleet', FLEET_UID, 'Every camera the collector knows: drift status by device and camera, alerts, devices offline; the edge agents and the collector')
    .withVariable(
      labelValues('site', 'site', C.cameraVerdict)
        .label('Site')
        .multi(true)
        .includeAll(true)
        .allValue('.*')
        .current({ text: 'All', value: '$__all' }),
    )

    .withRow(row(ids, 'Now'))
    .withPanel(statPanel(ids, { title: 'Alerts firing', description: 'Active alerts nobody has acknowledged yet', queries: [{ expr: `sum(${sel(C.alerts, { state: FIRING! })})` }], w: 4, h: 4 }).thresholds(thresholds('green', { value: 1, color: 'red' })))
    .withPanel(statPanel(ids, { title: 'Alerts acknowledged', description: 'Active alerts someone has acknowledged', queries: [{ expr: `sum(${sel(C.alerts, { state: ACKNOWLEDGED! })})` }], w: 4, h: 4 }).thresholds(thresholds('green', { value: 1, color: 'orange' })))
    .withPanel(statPanel(ids, { title: 'Devices offline', description: 'Devices whose last status was offline (their Last Will, or a clean stop)', queries: [{ expr: `sum(${sel(C.devices, { state: OFFLINE })})` }], w: 4, h: 4 }).thresholds(thresholds('green', { value: 1, color: 'red' })))
    .withPanel(statPanel(ids, { title: 'Devices online', description: 'Devices whose last status was online', queries: [{ expr: `sum(${sel(C.devices, { state: ONLINE })})` }], w: 4, h: 4 }).thresholds(thresholds('blue')))
    .withPanel(statPanel(ids, { title: 'Cameras drifting', description: 'Cameras whose latest window is warn or alert', queries: [{ expr: `sum(${sel(C.cameraVerdict, SITE)} > bool 0)` }], w: 4, h: 4 }).thresholds(thresholds('green', { value: 1, color: 'orange' })))
    .withPanel(statPanel(ids, { title: 'Oldest last window', description: "The largest time since a camera's latest window ended: a camera that stopped reporting", queries: [{ expr: `max(${sel(C.cameraLastWindowAge, SITE)})` }], unit: 's', w: 4, h: 4 }).thresholds(thresholds('green', { value: 900, color: 'orange' }, { value: 3600, color: 'red' })))

    .withRow(row(ids, 'Drift'))
    .withPanel(
      statusHistoryPanel(ids, {
        title: 'Drift status by device and camera',
        description: "Each camera's latest verdict over time: alert, warn, ok; insufficient (too few frames) and unscored (no reference profile) are not judged",
        queries: [{ expr: sel(C.cameraVerdict, SITE), legend: '{{device}} / {{camera}} ({{site}})' }],
        mappings: verdictMappings(VERDICT_VALUES),
        w: 24,
        h: 10,
      }),
    )
    .withPanel(
      tablePanel(ids, {
        title: 'Cameras now',
        description: "Each camera's latest verdict, the feature family of its leading driver (drifting windows only) and the time since its latest window ended",
        queries: [{ expr: sel(C.cameraVerdict, SITE) }, { expr: sel(C.cameraLastWindowAge, SITE) }, { expr: sel(C.cameraDriver, SITE) }],
        columns: { 'Value #A': VERDICT, 'Value #B': AGE, family: 'Leading driver', site: 'Site', device: 'Device', camera: 'Camera' },
        hide: ['instance', 'Value #C'],
        w: 24,
        h: 9,
      })
        .overrideByName(VERDICT, [
          { id: 'mappings', value: verdictMappings(VERDICT_VALUES) },
          { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorBackground } },
        ])
        .overrideByName(AGE, [{ id: 'unit', value: 's' }])
        .sortBy([new common.TableSortByFieldStateBuilder().displayName(VERDICT).desc(true)]),
    )

    .withRow(row(ids, 'Alerts and devices'))
    .withPanel(timeseriesPanel(ids, { title: 'Alerts by state', description: 'Active alerts: firing (not acknowledged) and acknowledged', queries: [{ expr: `sum by (state) (${C.alerts})`, legend: '{{state}}' }], w: 8, h: 8 }).min(0).decimals(0))
    .withPanel(timeseriesPanel(ids, { title: 'Active alerts by rule', description: 'Active alerts by rule and severity', queries: [{ expr: `sum by (rule, severity) (${C.alertsFiring})`, legend: '{{rule}} ({{severity}})' }], w: 8, h: 8 }).min(0).decimals(0))
    .withPanel(timeseriesPanel(ids, { title: 'Devices', description: 'Known devices by state', queries: [{ expr: `sum by (state) (${C.devices})`, legend: '{{state}}' }], w: 8, h: 8 }).min(0).decimals(0))
    .withPanel(timeseriesPanel(ids, { title: 'Last window age', description: "Time since each camera's latest window ended", queries: [{ expr: sel(C.cameraLastWindowAge, SITE), legend: '{{device}} / {{camera}}' }], unit: 's', w: 24, h: 8 }).min(0))

    .withRow(row(ids, 'Edge agents'))
    .withPanel(statPanel(ids, { title: 'Execution providers', description: 'Agents by the execution provider their inference runs on', queries: [{ expr: `count by (provider) (${A.providerInfo})`, legend: '{{provider}}' }], text: common.BigValueTextMode.ValueAndName, w: 6, h: 6 }))
    .withPanel(statPanel(ids, { title: 'Agents on a fallback provider', description: 'Agents running on a worse execution provider than they should (model.requireProvider, or one they ran on before)', queries: [{ expr: `sum(${A.providerFallback})` }], w: 6, h: 6 }).thresholds(thresholds('green', { value: 1, color: 'orange' })))
    .withPanel(statPanel(ids, { title: 'Wedged pipelines', description: 'Cameras whose frames stopped finishing while they stream (what /healthz fails on)', queries: [{ expr: `sum(${A.pipelineWedged})` }], w: 6, h: 6 }).thresholds(thresholds('green', { value: 1, color: 'red' })))
    .withPanel(statPanel(ids, { title: 'Cameras down', description: "Cameras whose source is not streaming (connecting, stalled, backing off)", queries: [{ expr: `sum(1 - ${A.cameraUp})` }], w: 6, h: 6 }).thresholds(thresholds('green', { value: 1, color: 'red' })))
    .withPanel(timeseriesPanel(ids, { title: 'Outbox backlog', description: 'Messages waiting in each agent\'s outbox for the broker', queries: [{ expr: `max by (instance) (${A.outboxMessages})`, legend: '{{instance}}' }], w: 12, h: 8 }).min(0))
    .withPanel(timeseriesPanel(ids, { title: 'Frames per second', description: 'Frames each agent finished, all cameras', queries: [{ expr: `sum by (instance) (${rate(sel(A.frames, { result: PROCESSED! }))})`, legend: '{{instance}}' }], unit: 'suffix: fps', w: 12, h: 8 }).min(0))

    .withRow(row(ids, 'Collector'))
    .withPanel(timeseriesPanel(ids, { title: 'Ingest', description: 'Device messages per second by kind and result (accepted, duplicate)', queries: [{ expr: `sum by (kind, result) (${rate(C.messages)})`, legend: '{{kind}} {{result}}' }], unit: 'cps', w: 8, h: 8 }).min(0))
    .withPanel(timeseriesPanel(ids, { title: 'Rejected', description: 'Payloads dropped at ingest per second, by reason', queries: [{ expr: `sum by (reason) (${rate(C.rejected)})`, legend: '{{reason}}' }], unit: 'cps', w: 8, h: 8 }).min(0))
    .withPanel(
      timeseriesPanel(ids, {
        title: 'Notifications',
        description: 'Alert deliveries per second by sink and result, and the changes waiting per sink',
        queries: [
          { expr: `sum by (sink, result) (${rate(C.notifications)})`, legend: '{{sink}} {{result}}' },
          { expr: `sum by (sink) (${C.notifyQueue})`, legend: '{{sink}} queued' },
        ],
        w: 8,
        h: 8,
      }).min(0),
    )
    .withPanel(statusHistoryPanel(ids, { title: 'Broker', description: 'Whether the collector is connected and subscribed to its broker', queries: [{ expr: C.brokerConnected, legend: '{{instance}}' }], mappings: booleanMappings({ text: 'disconnected', color: 'red' }, { text: 'connected', color: 'green' }), w: 8, h: 8 }))
    .withPanel(timeseriesPanel(ids, { title: 'Collector memory', description: 'Resident set size of each collector', queries: [{ expr: onTargetsOf(P.residentMemory, C.brokerConnected), legend: '{{instance}}' }], unit: 'bytes', w: 8, h: 8 }).min(0))
    .withPanel(timeseriesPanel(ids, { title: 'Collector event-loop lag p99', description: "Each collector's event-loop delay, 99th percentile", queries: [{ expr: onTargetsOf(P.eventLoopLagP99, C.brokerConnected), legend: '{{instance}}' }], unit: 's', w: 8, h: 8 }).min(0))
    .build();
}
