/**
 * The agent's composition root: the only place that wires stages together. Opens the store, loads
 * the model once for all cameras, builds the sources from config, runs the pipeline, enforces
 * retention on a timer, opens the HTTP listener (health, metrics, review frames) before anything
 * starts to flow, and on stop closes it, drains the pipeline and flushes everything to SQLite. A
 * start that fails closes what it opened and removes what it created.
 */
import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import { clientOptions } from '../lib/mqtt-options.js';
import { secret } from '../lib/secret.js';
import { undoAll, undoCreate } from '../lib/undo-create.js';
import { checkAgent } from './checks.js';
import { HOST_DEVICE, type AgentConfig } from './config.js';
import { detectionOodOf, loadDrift, logOodMode, warnDriftLimits } from './drift-setup.js';
import { CameraDrift } from './drift/camera-drift.js';
import { LastWindows } from './http/last-windows.js';
import type { HttpAddress } from './http/server.js';
import { startAgentHttp } from './http/start.js';
import { MAX_BURST } from './infer/burst.js';
import { Detector } from './infer/detector.js';
import { loadModel } from './infer/model.js';
import { describeWedged, pipelineWedged, type Wedged } from './pipeline/liveness.js';
import { Pipeline } from './pipeline/pipeline.js';
import type { CameraCounters } from './pipeline/pipeline-options.js';
import { CameraEvents } from './publish/camera-events.js';
import { frameErrorLog } from './publish/frame-errors.js';
import type { DeviceLink } from './publish/link.js';
import { openLink } from './publish/open-link.js';
import { announceGeometry, announceRuntime, decideFallback } from './publish/start-events.js';
import { VerdictLog } from './publish/verdict-log.js';
import { WindowReporter } from './publish/window-report.js';
import { ReviewSampler, reviewDirFor } from './review/sampler.js';
import { buildSource, expectedFps, gatherMs } from './source/from-config.js';
import { cameraIds } from './store/cameras.js';
import { openDatabase } from './store/database.js';
import { FrameWriter } from './store/frame-writer.js';
import { Retention } from './store/retention.js';
import { startRetentionTimer } from './store/retention-timer.js';
import { reviewSamplesIn } from './store/review-samples.js';
import { StorageWatch } from './store/storage-watch.js';
import { StoreFailures } from './store/store-failures.js';
import { WindowWriter } from './store/window-writer.js';

const DAY = 86_400_000;
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface RunningAgent {
  readonly pipeline: Pipeline;
  /** The file of the profile windows are scored against; undefined when drift scoring is off. */
  readonly profileFile: string | undefined;
  readonly review: ReviewSampler | undefined;
  readonly provider: string;
  readonly inferenceThread: 'main' | 'worker';
  /** The MQTT link; undefined when mqtt.url is empty. */
  readonly link: DeviceLink | undefined;
  /** Where the HTTP listener is bound (the real port when http.port is 0); undefined when http.enabled is false. */
  readonly http: HttpAddress | undefined;
  /** What /metrics serves (the benchmark times it without HTTP); undefined when http.enabled is false. */
  readonly metrics: Registry | undefined;
  /** The liveness check behind /healthz, for the systemd watchdog: the wedged cameras (none: alive) and a sentence. */
  liveness(): { readonly wedged: readonly Wedged[]; readonly message: string };
  stop(): Promise<readonly CameraCounters[]>;
}

export interface AgentDeps {
  /** The clock the agent reads (lib/clock.ts): the system's, unless a test moves it. */
  readonly clock?: Clock;
}

export async function startAgent(config: AgentConfig, log: Logger, deps: AgentDeps = {}): Promise<RunningAgent> {
  const clock = deps.clock ?? systemClock;
  // Everything that can be wrong with files and programs is found first, all at once, before
  // anything is created on disk: a start that fails leaves nothing behind.
  const checks = await checkAgent(config, { matchModel: false });
  checks.throwIfAny();
  for (const w of checks.warnings) log.warn(w);
  const reviewToken = config.http.enabled ? secret(config.http.reviewToken, config.http.reviewTokenFile, 'http.reviewTokenFile') : '';
  const mqttClient = config.mqtt.url ? clientOptions(config.mqtt, 'mqtt', config.mqtt.clientId || `driftline-agent-${config.mqtt.site}-${config.mqtt.device || HOST_DEVICE}`, config.mqtt.url) : undefined;
  const sources = config.cameras.map((c) => buildSource(c.name, c.source, clock));
  const model = await loadModel(config.model.path, {
    providers: config.model.providers,
    intraOpThreads: config.model.threads,
    tensorrt: { options: config.model.tensorrt, storePath: config.store.path },
    log,
  });
  const gather = gatherMs(config.model.gather, config.cameras, sources, model.runMs);
  const detector = await Detector.open(model, {
    conf: config.model.conf,
    iou: config.model.iou,
    maxDet: config.model.maxDet,
    classConf: config.model.classConf,
    candidateFloor: config.model.candidateFloor,
    agnostic: config.model.agnosticNms,
    agnosticIou: config.model.agnosticIou,
    classPriority: config.model.classPriority,
    resize: config.model.resize,
    thread: config.model.inferenceThread,
    expectedFps: expectedFps(config.cameras, sources),
    // A burst of gathered frames needs a slot for each (gathering needs 2 cameras or more).
    slots: gather > 0 ? Math.min(config.cameras.length, MAX_BURST) : 2,
    ...detectionOodOf(config, checks.profile, model),
  });
  logOodMode(log, model, detector, checks.profile);
  // What is open so far, closed newest first if the start fails; the files and folders it created are removed.
  const release: (() => unknown)[] = [
    undoCreate(config.store.path),
    ...(config.store.path === ':memory:' ? [] : [undoCreate(`${config.store.path}.reserve`)]),
    ...(config.review.enabled ? [undoCreate(config.review.dir || reviewDirFor(config.store.path))] : []),
    () => detector.close(),
  ];
  try {
    const drift = loadDrift(config, checks.profile, model.sha256);
    if (drift) warnDriftLimits(config, drift, log);
    const db = openDatabase(config.store.path, { synchronous: config.store.synchronous });
    release.push(() => db.close());
    const retention = new Retention(db, {
      frameMaxAgeMs: config.store.frameRetentionDays * DAY,
      windowMaxAgeMs: config.store.windowRetentionDays * DAY,
      maxBytes: config.store.maxBytes,
      minFreeBytes: config.store.minFreeBytes,
    });
    const events = new CameraEvents({ cameras: config.cameras.map((c) => c.name), store: config.store.path, log, clock });
    const storage = new StorageWatch(retention, {
      minFreeBytes: config.store.minFreeBytes,
      clock,
      // Room for the shedding itself on a disk filled to the last byte: half the free-space floor, at most 8 MiB.
      ...(config.store.path === ':memory:' ? {} : { reserve: { path: `${config.store.path}.reserve`, bytes: Math.min(8 << 20, Math.floor(config.store.minFreeBytes / 2)) } }),
      onFull: (r) => events.storageFull(r),
      onRecovered: (r) => events.storageRecovered(r),
    });
    const failures = new StoreFailures(storage, log);
    const writer = new FrameWriter(db, {
      flushMs: config.store.flushMs,
      onFlush: (_n, e) => {
        if (e) failures.flushFailed(e, writer);
      },
    });
    release.push(() => writer.close());
    const stopRetention = startRetentionTimer({ retention, storage, clock, log, intervalMs: config.store.retentionIntervalSeconds * 1000 });
    release.push(stopRetention);
    const ids = cameraIds(db, config.cameras.map((c) => c.name));
    const cameras = config.cameras.map((c, i) => {
      const source = sources[i]!;
      source.onEvent = events.source(c.name, () => source.counters.reconnects);
      return { id: ids[i]!, source };
    });
    const review = config.review.enabled
      ? new ReviewSampler(db, {
          dir: config.review.dir || reviewDirFor(config.store.path),
          maxPerHour: config.review.maxPerHour,
          maxBytes: config.review.maxBytes,
          jpegQuality: config.review.jpegQuality,
          // While the store is out of space no review frame is saved: the outbox needs the room.
          allowed: () => !storage.full,
        })
      : undefined;
    // The storage watch sheds review frames, and the review sampler saves none while the store is full.
    if (review) storage.shedFilesWith(() => review.shed(0.5));
    const fallback = decideFallback(config, db, model, log);
    const link = mqttClient ? openLink(config, { version: VERSION, client: mqttClient, db, model, fallback, log, clock, onWriteFailed: (e) => storage.writeFailed(e) }) : undefined;
    if (link) events.sendThrough(link);
    const windows = new LastWindows();
    const report = new WindowReporter({ link, drift, windows, verdicts: new VerdictLog(log), reviewSamples: reviewSamplesIn(db) });
    const pipeline = new Pipeline(detector, writer, cameras, {
      clock,
      gatherMs: gather,
      windowMs: config.telemetry.windowSeconds * 1000,
      clockStepMs: config.telemetry.clockStepSeconds * 1000,
      onStoreError: (e) => failures.windowFailed(e),
      onClockStep: (camera, stepMs, ts) => events.clockStep(camera, stepMs, ts),
      onFrameError: frameErrorLog(log, clock),
      windows: new WindowWriter(db),
      ...(drift ? { drift: cameras.map(() => new CameraDrift(drift.judge, drift.profile.calibration, { h: config.drift.cusumH })) } : {}),
      ...(review ? { review } : {}),
      uncertainty: { uncertainBelow: config.drift.uncertainBelow, rivalMin: config.drift.rivalMin },
      onWindow: (camera, w, result, losses) => report.window(camera, w, result, losses),
    });
    // The listener opens before anything flows: a port that cannot be opened stops the start here,
    // with nothing sent and nothing left running.
    const http = config.http.enabled ? await startAgentHttp(config, log, { version: VERSION, pipeline, detector, model, fallback, db, link, review, sources, windows, clock, reviewToken }) : undefined;
    release.push(() => http?.app.close());
    if (link) {
      announceRuntime(config, db, model, fallback, link);
      if (drift) announceGeometry(config, db, drift.profile, link, log);
      link.start();
      release.push(() => link.stop());
    }
    pipeline.start();
    log.info({ cameras: config.cameras.map((c) => c.name), provider: model.provider, inferenceThread: detector.inferenceThread, store: config.store.path, profile: drift?.file, thresholds: drift?.judge.mode, http: http?.address.url }, 'agent started');
    return {
      pipeline,
      profileFile: drift?.file,
      review,
      provider: model.provider,
      inferenceThread: detector.inferenceThread,
      link,
      http: http?.address,
      metrics: http?.metrics,
      liveness() {
        const boundMs = config.http.wedgedSeconds * 1000;
        const wedged = pipelineWedged(pipeline.progress, clock.monotonic(), boundMs);
        return { wedged, message: wedged.length ? describeWedged(wedged, boundMs) : '' };
      },
      async stop() {
        // The listener first: nothing reads the store while it is being closed.
        await http?.app.close();
        stopRetention();
        await pipeline.stop();
        await link?.stop();
        writer.close();
        await detector.close();
        db.close();
        return pipeline.counters;
      },
    };
  } catch (e) {
    await undoAll(release);
    throw e;
  }
}
