/**
 * The agent's Prometheus metrics (docs/metrics.md, "Agent"), named in metric-names.ts. The frame loop
 * only keeps plain numbers (counters per camera, stage timings in fixed buckets); every metric here
 * reads them, or the store, at scrape time, so being scraped costs the frame loop nothing. The
 * standard process and Node.js metrics come unprefixed, through lib/process-metrics.ts.
 */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import { registerProcessMetrics } from '../../lib/process-metrics.js';
import type { CameraCounters } from '../pipeline/pipeline-options.js';
import { STAGES, STAGE_BUCKETS, type StageTimings } from '../pipeline/stage-timings.js';
import type { SourceState } from '../source/source.js';
import type { LastWindow, LastWindows } from './last-windows.js';
import { AGENT_METRICS as M } from './metric-names.js';

export interface AgentMetricSources {
  readonly version: string;
  readonly model: { readonly name: string; readonly sha256: string };
  /** The execution provider in use, and those tried, in order (auto resolved). */
  readonly provider: string;
  readonly requested: readonly string[];
  /** The provider the device should be on, when it runs on a worse one: required, or used before. */
  readonly fallbackFrom: string | undefined;
  /** Per camera, the pipeline's counts (Pipeline.counters). */
  readonly counters: () => readonly CameraCounters[];
  /** Per camera, its source's state, reconnects and errors. */
  readonly sources: readonly { readonly name: string; readonly state: SourceState; readonly counters: { readonly reconnects: number; readonly errors: number } }[];
  /** Per camera, the frame rate its source is configured to deliver; cameras whose rate is the stream's own are left out. */
  readonly expectedFps: readonly { readonly camera: string; readonly fps: number }[];
  readonly timings: StageTimings;
  /** The frame loop's bursts so far (Pipeline.bursts): how many, and the frames they ran. */
  readonly bursts: { readonly runs: number; readonly frames: number };
  readonly windows: LastWindows;
  /** Per camera: whether the liveness check finds it wedged now, and when its last frame finished (seconds since the epoch; undefined before the first). */
  readonly progress: () => readonly { readonly camera: string; readonly wedged: boolean; readonly lastFrameSeconds: number | undefined }[];
  /** The review sampler's counts; undefined when review frames are off. */
  readonly review?: { readonly saved: number; readonly overBudget: number; readonly paused: number; readonly failed: number; readonly evicted: number };
  /** The MQTT side; undefined when mqtt.url is empty. */
  readonly mqtt?: () => { readonly connected: boolean; readonly rows: number; readonly oldestAgeSeconds: number; readonly dropped: number };
  /** The database's size on disk: the main file and its WAL, bytes. */
  readonly databaseBytes: () => number;
}

/**
 * A histogram whose counts are kept elsewhere (StageTimings): prom-client's Histogram can only be
 * fed one observation at a time, so this is the one metric written out by hand. The registry needs
 * only a name, a type and get(); prom-client's typings name its four classes, hence the one cast.
 */
function stageHistogram(timings: StageTimings): Metric {
  const name = M.stageDuration;
  const metric = {
    name,
    help: 'Time per frame in each stage of the frame loop (preprocess, inference, postprocess, telemetry), seconds',
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      STAGES.forEach((stage, s) => {
        const { buckets, count, sumSeconds } = timings.cumulative(s);
        STAGE_BUCKETS.forEach((le, b) => values.push({ metricName: `${name}_bucket`, labels: { stage, le }, value: buckets[b]! }));
        values.push({ metricName: `${name}_bucket`, labels: { stage, le: '+Inf' }, value: count });
        values.push({ metricName: `${name}_sum`, labels: { stage }, value: sumSeconds });
        values.push({ metricName: `${name}_count`, labels: { stage }, value: count });
      });
      return Promise.resolve({ name, help: metric.help, type: 'histogram', aggregator: 'sum', values });
    },
  };
  return metric as unknown as Metric;
}

/** How often the agent samples its event-loop delay for `nodejs_eventloop_lag_*`, ms. */
export const EVENT_LOOP_RESOLUTION_MS = 100;

export function agentMetrics(src: AgentMetricSources): Registry {
  const registry = new Registry();
  // The event-loop delay sampled every 100 ms, not prom-client's 10: each sample wakes the frame
  // loop's thread, and 100 wake-ups a second cost about 0.1 ms of CPU a frame at 40 frames/s (on the
  // 2-core VM of docs/performance.md); a stall of the loop shows at either resolution.
  registerProcessMetrics(registry, { eventLoopResolutionMs: EVENT_LOOP_RESOLUTION_MS });
  const registers = [registry];
  new Gauge({
    name: M.info,
    help: 'Always 1: the agent version and the model it runs (file name and sha256)',
    labelNames: ['version', 'model', 'sha256'],
    registers,
  }).set({ version: src.version, model: src.model.name, sha256: src.model.sha256 }, 1);
  // Counters mirror plain numbers kept by the frame loop: reset() then inc() to the current total.
  new Counter({
    name: M.frames,
    help: 'Frames per camera by result: processed, dropped (the camera delivered faster than the pipeline took them, or the agent stopped with one waiting), errored',
    labelNames: ['camera', 'result'],
    registers,
    collect() {
      this.reset();
      for (const c of src.counters()) {
        this.inc({ camera: c.name, result: 'processed' }, c.processed);
        this.inc({ camera: c.name, result: 'dropped' }, c.dropped);
        this.inc({ camera: c.name, result: 'errored' }, c.errors);
      }
    },
  });
  new Gauge({
    name: M.cameraUp,
    help: '1 while the camera is connected and delivering frames, 0 while it connects, stalls, backs off or has ended',
    labelNames: ['camera'],
    registers,
    collect() {
      for (const s of src.sources) this.set({ camera: s.name }, s.state === 'streaming' ? 1 : 0);
    },
  });
  new Counter({
    name: M.cameraReconnects,
    help: 'Times the camera source was restarted after an error, an end or a stall',
    labelNames: ['camera'],
    registers,
    collect() {
      this.reset();
      for (const s of src.sources) this.inc({ camera: s.name }, s.counters.reconnects);
    },
  });
  new Counter({
    name: M.cameraSourceErrors,
    help: "Errors the camera's source reported: its program's stderr lines, exits, streams cut inside a frame, unreadable files",
    labelNames: ['camera'],
    registers,
    collect() {
      this.reset();
      for (const s of src.sources) this.inc({ camera: s.name }, s.counters.errors);
    },
  });
  const fps = new Gauge({
    name: M.cameraExpectedFps,
    help: "Frames per second the camera's source is configured to deliver (absent where it keeps the stream's own rate)",
    labelNames: ['camera'],
    registers,
  });
  for (const e of src.expectedFps) fps.set({ camera: e.camera }, e.fps);
  new Gauge({
    name: M.pipelineWedged,
    help: '1 while the camera streams but a frame of it has waited longer than http.wedgedSeconds with none finishing (what /healthz fails on)',
    labelNames: ['camera'],
    registers,
    collect() {
      for (const p of src.progress()) this.set({ camera: p.camera }, p.wedged ? 1 : 0);
    },
  });
  new Gauge({
    name: M.lastFrame,
    help: "When the camera's last frame finished the pipeline (written, or failed), seconds since the epoch",
    labelNames: ['camera'],
    registers,
    collect() {
      for (const p of src.progress()) if (p.lastFrameSeconds !== undefined) this.set({ camera: p.camera }, p.lastFrameSeconds);
    },
  });
  registry.registerMetric(stageHistogram(src.timings));
  new Counter({
    name: M.bursts,
    help: "Bursts the frame loop ran: the cameras' gathered frames through the model back to back (model.gather); 0 while it runs one frame at a time",
    registers,
    collect() {
      this.reset();
      this.inc(src.bursts.runs);
    },
  });
  new Counter({
    name: M.burstFrames,
    help: 'Frames run in bursts; divided by the bursts, how many cameras\' frames a burst ran together',
    registers,
    collect() {
      this.reset();
      this.inc(src.bursts.frames);
    },
  });
  new Gauge({
    name: M.providerInfo,
    help: 'Always 1: the execution provider in use, and the providers configured, in the order tried',
    labelNames: ['provider', 'requested'],
    registers,
  }).set({ provider: src.provider, requested: src.requested.join(',') }, 1);
  new Gauge({
    name: M.providerFallback,
    help: '1 when the agent runs on a worse execution provider than it should: not the one model.requireProvider names, or below one this device ran on before',
    registers,
  }).set(src.fallbackFrom ? 1 : 0);
  windowMetrics(registry, src.windows);
  if (src.review) {
    const r = src.review;
    new Counter({
      name: M.reviewFrames,
      help: 'Review frames by result: saved, over_budget (hourly budget spent), paused (disk full), failed (write failed), evicted (deleted for the disk cap)',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        this.inc({ result: 'saved' }, r.saved);
        this.inc({ result: 'over_budget' }, r.overBudget);
        this.inc({ result: 'paused' }, r.paused);
        this.inc({ result: 'failed' }, r.failed);
        this.inc({ result: 'evicted' }, r.evicted);
      },
    });
  }
  if (src.mqtt) mqttMetrics(registry, src.mqtt);
  new Gauge({
    name: M.databaseBytes,
    help: 'Size of the SQLite store on disk: the database file and its write-ahead log, bytes',
    registers,
    collect() {
      this.set(src.databaseBytes());
    },
  });
  return registry;
}

/** Per camera, its last window: verdict, family scores, rates, end time. */
function windowMetrics(registry: Registry, windows: LastWindows): void {
  const registers = [registry];
  new Gauge({
    name: M.driftVerdict,
    help: "The camera's last window: 0 ok, 1 warn, 2 alert; -1 insufficient (too few frames, or longer than the reference can judge), -2 unscored (drift scoring off)",
    labelNames: ['camera'],
    registers,
    collect() {
      for (const [camera, w] of windows.entries()) this.set({ camera }, w.verdict);
    },
  });
  new Gauge({
    name: M.driftScore,
    help: "The camera's last judged window: per feature family, its largest drift score on a scale where 1 is the warn threshold and 2 the alert threshold",
    labelNames: ['camera', 'family'],
    registers,
    collect() {
      // Only the families of each camera's last window: a window not judged leaves none.
      this.reset();
      for (const [camera, w] of windows.entries()) for (const [family, v] of Object.entries(w.families)) this.set({ camera, family }, v);
    },
  });
  const rate = (name: string, help: string, pick: (r: NonNullable<LastWindow['rates']>) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['camera'],
      registers,
      collect() {
        this.reset();
        for (const [camera, w] of windows.entries()) if (w.rates) this.set({ camera }, pick(w.rates));
      },
    });
  };
  rate(M.oodRate, "Share of the last window's frames whose input statistics lay outside the reference profile's support", (r) => r.ood);
  rate(M.oodDetectionRate, "Share of the last window's frames with a detection unlike its class in the reference (detection-level OOD)", (r) => r.oodDetection);
  rate(M.uncertainRate, "Share of the last window's frames with an uncertain detection (a low score, or a close rival class)", (r) => r.uncertain);
  new Gauge({
    name: M.lastWindow,
    help: "End of the camera's last closed window, seconds since the epoch",
    labelNames: ['camera'],
    registers,
    collect() {
      for (const [camera, w] of windows.entries()) this.set({ camera }, w.endSeconds);
    },
  });
}

function mqttMetrics(registry: Registry, read: NonNullable<AgentMetricSources['mqtt']>): void {
  const registers = [registry];
  // Read once per scrape: prom-client runs every collect() in one synchronous pass, so the reading
  // is kept until the next microtask and the four metrics share it (one outbox query, not four).
  let current: ReturnType<typeof read> | undefined;
  const mqtt = (): ReturnType<typeof read> => {
    if (!current) {
      current = read();
      queueMicrotask(() => (current = undefined));
    }
    return current;
  };
  new Gauge({
    name: M.mqttConnected,
    help: '1 while the agent is connected to the MQTT broker and announced',
    registers,
    collect() {
      this.set(mqtt().connected ? 1 : 0);
    },
  });
  new Gauge({
    name: M.outboxMessages,
    help: 'Messages stored in the outbox and not yet acknowledged by the broker',
    registers,
    collect() {
      this.set(mqtt().rows);
    },
  });
  new Gauge({
    name: M.outboxOldestAge,
    help: 'Age of the oldest message in the outbox, seconds (0 when it is empty)',
    registers,
    collect() {
      this.set(mqtt().oldestAgeSeconds);
    },
  });
  new Counter({
    name: M.outboxDropped,
    help: 'Unsent messages dropped because the outbox was full (mqtt.outboxMaxRows), since the agent started',
    registers,
    collect() {
      this.reset();
      this.inc(mqtt().dropped);
    },
  });
}
