/**
 * The agent's composition root: the only place that wires stages together. Opens the store, loads
 * the model once for all cameras, builds the sources from config, runs the pipeline, enforces
 * retention on a timer, opens the HTTP listener (health, metrics, review frames) before anything
 * starts to flow, and on stop closes it, drains the pipeline and flushes everything to SQLite.
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import type { Registry } from 'prom-client';
import { basename } from 'node:path';
import { systemClock, type Clock } from '../lib/clock.js';
import { driftlineError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { clientOptions, describeBroker } from '../lib/mqtt-options.js';
import { secret } from '../lib/secret.js';
import { undoCreate } from '../lib/undo-create.js';
import { checkAgent, profileMismatch, type AgentChecks } from './checks.js';
import { HOST_DEVICE, type AgentConfig } from './config.js';
import { CameraDrift } from './drift/camera-drift.js';
import { familyScores } from './drift/family-scores.js';
import { Judge, REFERENCE_REACH } from './drift/judge.js';
import { operatingPointMismatch, resizeMismatch, type Profile } from './drift/profile.js';
import { ScoringReference } from './drift/scores.js';
import { LastWindows } from './http/last-windows.js';
import type { HttpAddress } from './http/server.js';
import { startAgentHttp } from './http/start.js';
import { Detector } from './infer/detector.js';
import { loadModel, type LoadedModel } from './infer/model.js';
import { providerFallback, type ProviderFallback } from './infer/provider-fallback.js';
import type { DetectionOodReference } from './ood/detection-ood.js';
import { describeWedged, pipelineWedged, type Wedged } from './pipeline/liveness.js';
import { Pipeline, type CameraCounters } from './pipeline/pipeline.js';
import { DeviceLink } from './publish/link.js';
import { wireStatus } from './publish/messages.js';
import { ReviewSampler, reviewDirFor } from './review/sampler.js';
import { FfmpegSource } from './source/ffmpeg.js';
import { GstreamerSource } from './source/gstreamer.js';
import { ImageDirSource } from './source/image-dir.js';
import type { FrameSource } from './source/source.js';
import { SyntheticSource } from './source/synthetic.js';
import { openDatabase, readMeta, writeMeta } from './store/database.js';
import { FrameWriter } from './store/frame-writer.js';
import { Retention } from './store/retention.js';
import { StorageWatch } from './store/storage-watch.js';
import { WindowWriter } from './store/window-writer.js';

const DAY = 86_400_000;
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface RunningAgent {
  readonly pipeline: Pipeline;
  /** The profile windows are scored against; undefined when drift scoring is off. */
  readonly profile: string | undefined;
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

function buildSource(name: string, s: AgentConfig['cameras'][number]['source'], clock: Clock): FrameSource {
  if (s.kind === 'synthetic') {
    const schedule = s.schedule.map(({ at, ...conditions }) => ({ at, conditions }));
    return new SyntheticSource({ name, width: s.width, height: s.height, fps: s.fps, seed: s.seed, schedule, wallClock: clock });
  }
  if (s.kind === 'images') return new ImageDirSource({ name, path: s.path, width: s.width, height: s.height, fps: s.fps, loop: s.loop, clock });
  if (s.kind === 'gstreamer') {
    const source =
      s.preset === 'jetson-csi'
        ? { preset: s.preset, sensorId: s.sensorId, captureWidth: s.captureWidth, captureHeight: s.captureHeight, fps: s.captureFps }
        : s.preset === 'rtsp-nvdec'
          ? { preset: s.preset, url: s.url, latencyMs: s.latencyMs }
          : { preset: s.preset, pipeline: s.pipeline };
    return new GstreamerSource({ name, width: s.width, height: s.height, finite: s.finite, stallMs: s.stallSeconds * 1000, source, clock });
  }
  return new FfmpegSource({
    name,
    url: s.url,
    width: s.width,
    height: s.height,
    ...(s.fps > 0 ? { fps: s.fps } : {}),
    loop: s.loop,
    realtime: s.realtime,
    stallMs: s.stallSeconds * 1000,
    clock,
  });
}

/** The judge for the reference profile that checkAgent read (none: scoring off); checked against the model. */
function loadDrift(config: AgentConfig, read: AgentChecks['profile'], sha256: string): { file: string; judge: Judge; profile: Profile } | undefined {
  const d = config.drift;
  if (!d.enabled || !read) return undefined;
  const { file, profile } = read;
  if (profile.model.sha256 !== sha256) throw profileMismatch(file, profile.model.sha256, sha256);
  let judge: Judge;
  try {
    judge = new Judge(new ScoringReference(profile), profile.calibration, {
      windowSeconds: config.telemetry.windowSeconds,
      warnEveryHours: d.warnEveryHours,
      alertEveryHours: d.alertEveryHours,
      thresholds: d.thresholds,
      psiWarn: d.psiWarn,
      psiAlert: d.psiAlert,
      minFrames: d.minFrames,
    });
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_PROFILE', { file, reason: (e as Error).message }, { cause: e });
  }
  return { file, judge, profile };
}

/** The profile's detection-level OOD reference, when drift runs against it and it was made for this model. */
function detectionOodOf(config: AgentConfig, read: AgentChecks['profile'], model: LoadedModel): { detectionOod?: DetectionOodReference } {
  const ref = read?.profile.detectionOod;
  return config.drift.enabled && ref && model.embedding && read.profile.model.sha256 === model.sha256 ? { detectionOod: ref } : {};
}

/** Says once, at start, which out-of-distribution scoring applies, and why not the detection-level one. */
function logOodMode(log: Logger, model: LoadedModel, detector: Detector, read: AgentChecks['profile']): void {
  if (detector.scoresDetections) {
    log.info({ ood: 'embedding', output: model.embedding!.output, dim: model.embedding!.dim, threshold: +detector.oodThreshold.toFixed(2) }, 'OOD scoring: detection-level, on the model embedding and box appearance');
  } else if (model.embedding) {
    log.info({ ood: 'confidence', output: model.embedding.output, profile: read?.file }, 'OOD scoring: confidence-based; the model has an embedding but the profile has no detectionOod (rebuild it with driftline baseline to score detections)');
  } else {
    log.info({ ood: 'confidence' }, 'OOD scoring: confidence-based (the model has no embedding output)');
  }
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
  const mqttClient = config.mqtt.url ? clientOptions(config.mqtt, 'mqtt', config.mqtt.clientId || `driftline-agent-${config.mqtt.site}-${config.mqtt.device || HOST_DEVICE}`) : undefined;
  const sources = config.cameras.map((c) => buildSource(c.name, c.source, clock));
  const model = await loadModel(config.model.path, {
    providers: config.model.providers,
    intraOpThreads: config.model.threads,
    tensorrt: { options: config.model.tensorrt, storePath: config.store.path },
    log,
  });
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
    ...detectionOodOf(config, checks.profile, model),
  });
  logOodMode(log, model, detector, checks.profile);
  const undo = [
    undoCreate(config.store.path),
    ...(config.store.path === ':memory:' ? [] : [undoCreate(`${config.store.path}.reserve`)]),
    ...(config.review.enabled ? [undoCreate(config.review.dir || reviewDirFor(config.store.path))] : []),
  ];
  let db: ReturnType<typeof openDatabase> | undefined;
  try {
    const drift = loadDrift(config, checks.profile, model.sha256);
    if (drift) {
      // Windows hold about fps x windowSeconds frames; the synthetic and recorded sources say their rate.
      const fps = Math.max(...config.cameras.map((c) => ('fps' in c.source && c.source.fps > 0 ? c.source.fps : 10)));
      const frames = Math.round(fps * config.telemetry.windowSeconds);
      const dead = drift.judge.powerless(frames);
      if (dead.length) log.warn({ frames, scores: dead }, `${dead.length} of the profile's scores cannot cross their warn threshold in windows of ~${frames} frames (the reference reaches their bound); drift rests on the others`);
      const resampled = resizeMismatch(drift.profile, config.model.resize);
      if (resampled) log.warn({ resize: config.model.resize, profileResize: drift.profile.data.resize }, resampled);
      const m = config.model;
      const counted = operatingPointMismatch(drift.profile, { conf: m.conf, classConf: m.classConf, agnostic: m.agnosticNms, agnosticIou: m.agnosticIou, classPriority: m.classPriority });
      if (counted) log.warn({ profileOperatingPoint: drift.profile.data.operatingPoint }, counted);
      if (!drift.judge.covers(frames)) {
        const longest = drift.judge.longestCalibrated();
        log.warn({ frames, longestCalibrated: longest }, `windows of ~${frames} frames are longer than the reference profile can judge (at most ${REFERENCE_REACH * longest}): they will be insufficient-reference; shorten telemetry.windowSeconds or rebuild the profile from a longer recording`);
      }
    }
    db = openDatabase(config.store.path, { synchronous: config.store.synchronous });
    return await startPipeline(config, log, { mqttClient, sources, model, detector, drift, db, clock, reviewToken });
  } catch (e) {
    await detector.close();
    db?.close();
    for (const u of undo) u();
    throw e;
  }
}

interface Parts {
  readonly mqttClient: IClientOptions | undefined;
  readonly sources: FrameSource[];
  readonly model: Model;
  readonly detector: Detector;
  readonly drift: ReturnType<typeof loadDrift>;
  readonly db: ReturnType<typeof openDatabase>;
  readonly clock: Clock;
  /** http.reviewToken, read from its file when it has one. */
  readonly reviewToken: string;
}

async function startPipeline(config: AgentConfig, log: Logger, { mqttClient, sources, model, detector, drift, db, clock, reviewToken }: Parts): Promise<RunningAgent> {
  const upsert = db.prepare('INSERT INTO cameras (name) VALUES (?) ON CONFLICT(name) DO UPDATE SET name = excluded.name RETURNING id');
  const retention = new Retention(db, {
    frameMaxAgeMs: config.store.frameRetentionDays * DAY,
    windowMaxAgeMs: config.store.windowRetentionDays * DAY,
    maxBytes: config.store.maxBytes,
    minFreeBytes: config.store.minFreeBytes,
  });
  // Device-wide reports go on every camera's topic. One sender per report: `sent` remembers which
  // cameras' outbox took it, so a retry on a later pass sends only to the others.
  const everyCamera = (kind: 'storageFull' | 'storageRecovered', message: string, detail: Record<string, unknown>): (() => boolean) => {
    const sent = new Set<string>();
    return () => {
      if (!link) return true;
      for (const c of config.cameras) if (!sent.has(c.name) && link.event(c.name, kind, message, detail) > 0) sent.add(c.name);
      return sent.size === config.cameras.length;
    };
  };
  const reviewBox: { sampler?: ReviewSampler } = {};
  const storage = new StorageWatch(retention, {
    minFreeBytes: config.store.minFreeBytes,
    clock,
    shedFiles: () => reviewBox.sampler?.shed(0.5) ?? 0,
    // Room for the shedding itself on a disk filled to the last byte: half the free-space floor, at most 8 MiB.
    ...(config.store.path === ':memory:' ? {} : { reserve: { path: `${config.store.path}.reserve`, bytes: Math.min(8 << 20, Math.floor(config.store.minFreeBytes / 2)) } }),
    onFull: (r) => {
      log.error({ ...r, store: config.store.path }, 'storage full: shedding telemetry by the retention policy (the outbox is kept)');
      return everyCamera('storageFull', `the store is out of space (${Math.round(r.freeBytes / 1024)} KiB free): telemetry shed by the retention policy`, { ...r });
    },
    onRecovered: (r) => {
      log.info({ ...r, store: config.store.path }, 'storage recovered');
      return everyCamera('storageRecovered', `the store has space again (${Math.round(r.freeBytes / 1024)} KiB free) after ${r.fullForSeconds} s`, { ...r });
    },
  });
  const writer = new FrameWriter(db, {
    flushMs: config.store.flushMs,
    onFlush: (_n, e) => {
      if (!e) return;
      storage.writeFailed(e);
      log.warn({ err: e.message, pending: writer.pending }, 'telemetry flush failed; rows kept for retry');
    },
  });
  const retentionTimer = setInterval(() => {
    try {
      const r = retention.enforce(clock.now());
      if (r.framesDeleted + r.windowsDeleted > 0) log.info(r, 'retention');
      storage.afterPass(r);
    } catch (e) {
      if (!storage.writeFailed(e)) log.warn({ err: (e as Error).message }, 'retention failed');
    }
  }, config.store.retentionIntervalSeconds * 1000);
  retentionTimer.unref();
  const cameras = config.cameras.map((c, i) => {
    const source = sources[i]!;
    let lastError = Number.NEGATIVE_INFINITY;
    let wasDown = false;
    source.onEvent = (e) => {
      if (e.type === 'state') {
        log.info({ camera: c.name, state: e.state }, `camera ${c.name} ${e.state}`);
        if (e.state === 'stalled') {
          wasDown = true;
          link?.event(c.name, 'stalled', `camera ${c.name} delivered no frame within its stall timeout`);
        } else if (e.state === 'streaming' && wasDown) {
          wasDown = false;
          link?.event(c.name, 'resumed', `camera ${c.name} is delivering frames again`, { reconnects: source.counters.reconnects });
        }
      } else {
        log.warn({ camera: c.name, reason: e.reason }, `camera ${c.name} error`);
        // At most one error event per camera per minute: a camera in a reconnect loop must not flood the outbox.
        if (clock.monotonic() - lastError > 60_000) {
          lastError = clock.monotonic();
          link?.event(c.name, 'sourceError', e.reason);
        }
      }
    };
    return { id: (upsert.get(c.name) as { id: number }).id, source };
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
  reviewBox.sampler = review;
  const fallback = decideFallback(config, db, model, log);
  const link = mqttClient ? openLink(config, mqttClient, db, model, fallback, log, clock, (e) => storage.writeFailed(e)) : undefined;
  const steps = new Map<string, { lastEventMono: number; unreported: number }>();
  const reviewInWindow = db.prepare('SELECT file, ts, reason FROM review_samples WHERE camera_id = ? AND ts >= ? AND ts <= ? ORDER BY ts LIMIT 64');
  const reference = drift ? Object.fromEntries(Object.entries(drift.profile.features).map(([k, f]) => [k, { mean: f.mean, std: f.std }])) : undefined;
  const last = new Map<string, string>();
  const windows = new LastWindows();
  const pipeline = new Pipeline(detector, writer, cameras, {
    clock,
    windowMs: config.telemetry.windowSeconds * 1000,
    clockStepMs: config.telemetry.clockStepSeconds * 1000,
    onStoreError: (e) => {
      const retry = storage.writeFailed(e);
      log.warn({ err: (e as Error).message, retry }, 'window not written to the store; its summary is still sent');
      return retry;
    },
    onClockStep: (camera, stepMs, ts) => {
      log.warn({ camera, stepMs, ts }, `the wall clock stepped ${stepMs > 0 ? 'forward' : 'back'} by ${(Math.abs(stepMs) / 1000).toFixed(1)} s: camera ${camera}'s window was cut there`);
      // At most one event per camera per minute: a clock that keeps stepping must not flood the outbox.
      const s = steps.get(camera) ?? { lastEventMono: Number.NEGATIVE_INFINITY, unreported: 0 };
      steps.set(camera, s);
      s.unreported++;
      if (clock.monotonic() - s.lastEventMono < 60_000) return;
      s.lastEventMono = clock.monotonic();
      link?.event(camera, 'clockStep', `the wall clock stepped ${stepMs > 0 ? 'forward' : 'back'} by ${(Math.abs(stepMs) / 1000).toFixed(1)} s; the window was cut there`, { stepMs: Math.round(stepMs), steps: s.unreported });
      s.unreported = 0;
    },
    windows: new WindowWriter(db),
    ...(drift ? { drift: cameras.map(() => new CameraDrift(drift.judge, drift.profile.calibration, { h: config.drift.cusumH })) } : {}),
    ...(review ? { review } : {}),
    uncertainty: { uncertainBelow: config.drift.uncertainBelow, rivalMin: config.drift.rivalMin },
    onWindow: (camera, w, result, losses) => {
      const families = result && drift ? familyScores(result, drift.judge) : {};
      windows.record(camera, w.endTs, wireStatus(result), families, result?.rates);
      if (link) {
        const review = reviewInWindow.all([losses.cameraId, w.startTs, w.endTs]) as { file: string; ts: number; reason: string }[];
        link.summary({ camera, window: w, dropped: losses.dropped, errors: losses.errors, drift: result, familyScores: families, ...(reference ? { reference } : {}), review });
      }
      if (!result) return;
      const fields = { camera, frames: w.frames, severity: result.severity, drivers: result.drivers.slice(0, 3).map((d) => `${d.key}=${d.value.toPrecision(3)}`) };
      // A change of verdict is news; a steady one is debug detail.
      if (last.get(camera) !== result.severity) log.info(fields, `camera ${camera} drift ${result.severity}`);
      else log.debug(fields, 'window scored');
      last.set(camera, result.severity);
    },
  });
  // The listener opens before anything flows: a port that cannot be opened stops the start here,
  // with nothing sent and nothing left running.
  let http: Awaited<ReturnType<typeof startAgentHttp>> | undefined;
  try {
    http = config.http.enabled ? await startAgentHttp(config, log, { version: VERSION, pipeline, detector, model, fallback, db, link, review, sources, windows, clock, reviewToken }) : undefined;
  } catch (e) {
    clearInterval(retentionTimer);
    writer.close();
    throw e;
  }
  if (link) {
    announceRuntime(config, db, model, fallback, link);
    if (drift) announceGeometry(config, db, drift.profile, link, log);
    link.start();
  }
  pipeline.start();
  log.info({ cameras: config.cameras.map((c) => c.name), provider: model.provider, inferenceThread: detector.inferenceThread, store: config.store.path, profile: drift?.file, thresholds: drift?.judge.mode, http: http?.address.url }, 'agent started');
  return {
    pipeline,
    profile: drift?.file,
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
      clearInterval(retentionTimer);
      await pipeline.stop();
      await link?.stop();
      writer.close();
      await detector.close();
      db.close();
      return pipeline.counters;
    },
  };
}

type Model = Awaited<ReturnType<typeof loadModel>>;

function openLink(config: AgentConfig, client: IClientOptions, db: ReturnType<typeof openDatabase>, model: Model, fallback: ProviderFallback | undefined, log: Logger, clock: Clock, onWriteFailed: (e: unknown) => boolean): DeviceLink {
  const m = config.mqtt;
  const device = m.device || HOST_DEVICE;
  const identity = {
    site: m.site,
    device,
    version: VERSION,
    model: { name: basename(model.file), sha256: model.sha256 },
    provider: model.provider,
    providers: [...model.providers],
    fallbackFrom: fallback?.from ?? '',
    cameras: config.cameras.map((c) => c.name),
    windowSeconds: config.telemetry.windowSeconds,
    ...(m.reviewUrl ? { reviewUrl: m.reviewUrl } : {}),
  };
  const link = new DeviceLink(
    db,
    identity,
    {
      url: m.url,
      client,
      drainPerSecond: m.drainPerSecond,
      maxInflight: m.maxInflight,
      outboxMaxRows: m.outboxMaxRows,
      backoff: { initialMs: m.reconnectMinMs, maxMs: m.reconnectMaxMs, jitter: 0.5 },
      clock,
      onWriteFailed,
    },
    log,
  );
  log.info({ ...describeBroker(m.url, m), site: m.site, device, backlog: link.outbox.size }, 'publishing to MQTT');
  return link;
}

/**
 * A camera whose frames differ in size from the reference profile's capture geometry: said once, at
 * start-up, on its own topic. The input statistics are taken on a sampling grid of a fixed number of
 * points and the renderer of the synthetic line draws at a reference scale, so a camera of the same
 * aspect ratio at another resolution is still comparable; another aspect ratio shows other parts of
 * the scene, and the box size and aspect features change with it: its verdicts are not comparable.
 */
function announceGeometry(config: AgentConfig, db: ReturnType<typeof openDatabase>, profile: Profile, link: DeviceLink, log: Logger): void {
  const { width: pw, height: ph } = profile.data;
  if (!pw || !ph) return;
  // Once per camera, geometry and profile: remembered in the store, not said again at every start.
  for (const c of config.cameras) {
    const { width, height } = c.source;
    if (width === pw && height === ph) continue;
    const key = `geometry:${c.name}`;
    const value = `${width}x${height} against ${pw}x${ph} (${profile.model.sha256.slice(0, 12)}, ${profile.createdAt})`;
    if (readMeta(db, key) === value) continue;
    const comparable = Math.abs(width / height / (pw / ph) - 1) < 0.01;
    const message = comparable
      ? `camera ${c.name} delivers ${width}x${height}, the profile was made at ${pw}x${ph}: same aspect ratio, the statistics are comparable`
      : `camera ${c.name} delivers ${width}x${height}, the profile was made at ${pw}x${ph}: another aspect ratio, its drift verdicts are not comparable; make a profile at this geometry (driftline baseline)`;
    if (comparable) log.info({ camera: c.name, width, height, profileWidth: pw, profileHeight: ph }, message);
    else log.warn({ camera: c.name, width, height, profileWidth: pw, profileHeight: ph }, message);
    if (link.event(c.name, 'geometryMismatch', message, { width, height, profileWidth: pw, profileHeight: ph, comparable }) > 0) writeMeta(db, key, value);
  }
}

/**
 * Whether this device runs on a worse provider than it should (agent/infer/provider-fallback.ts),
 * remembering the best provider it has run on in its store. Logged once here; the birth message,
 * an event and /metrics carry it.
 */
function decideFallback(config: AgentConfig, db: ReturnType<typeof openDatabase>, model: Model, log: Logger): ProviderFallback | undefined {
  const { fallback, remember } = providerFallback(model.provider, model.providers, config.model.requireProvider, readMeta(db, 'provider_best'));
  writeMeta(db, 'provider_best', remember);
  if (fallback) log.warn({ provider: model.provider, expected: fallback.from, reason: fallback.reason }, `running on ${model.provider}, not ${fallback.from} (${fallback.reason === 'required' ? 'model.requireProvider' : 'the provider this device ran on before'})`);
  return fallback;
}

/**
 * Events every camera's consumers must hear at start-up: the preferred execution provider was not
 * available, or the model differs from the one this agent ran last time (remembered in the store).
 */
function announceRuntime(config: AgentConfig, db: ReturnType<typeof openDatabase>, model: Model, fallback: ProviderFallback | undefined, link: DeviceLink): void {
  const cameras = config.cameras.map((c) => c.name);
  if (fallback) {
    const attempts = model.attempts.map((a) => ({ provider: a.provider, ok: a.ok, ...(a.reason ? { reason: a.reason.slice(0, 200) } : {}) }));
    const why = fallback.reason === 'required' ? 'required by model.requireProvider' : 'this device ran on it before';
    for (const c of cameras) link.event(c, 'providerFallback', `execution provider ${fallback.from} (${why}) unavailable: running on ${model.provider}`, { preferred: fallback.from, provider: model.provider, reason: fallback.reason, attempts });
  }
  const prev = readMeta(db, 'model_sha256');
  if (prev && prev !== model.sha256) {
    for (const c of cameras) link.event(c, 'modelChanged', `model changed from ${prev.slice(0, 12)} to ${model.sha256.slice(0, 12)}`, { previous: prev, current: model.sha256, file: basename(model.file) });
  }
  writeMeta(db, 'model_sha256', model.sha256);
}
