/**
 * The agent's configuration: one schema, validated once at start-up against the YAML file plus
 * environment overrides (DRIFTLINE_<SECTION>__<KEY>, e.g. DRIFTLINE_STORE__MAX_BYTES), then frozen.
 * Unknown keys are errors. docs/configuration.md is checked against this schema by a test.
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LOG_SECTION } from '../lib/log.js';
import { MQTT_TLS_SCHEMA } from '../lib/mqtt-options.js';
import { readConfigFile } from '../lib/config-file.js';
import { applyEnv, check, configError, problem, refuseUnknownEnv, type Config, type Ctx, type Expand, type Schema } from '../lib/schema.js';
import { SEGMENT } from '../protocol/topics.js';
import { KNOWN_PROVIDERS, PROVIDER_CHOICES } from './infer/providers.js';
import { RESIZE_MODES } from './preprocess/letterbox.js';
import { CONDITION_KEYS } from './synth/conditions.js';

export const SHIPPED_MODEL = fileURLToPath(new URL('../models/line-detector.onnx', import.meta.url));
/**
 * The agent's HTTP port (/healthz, /readyz, /metrics, review frames) unless http.port says otherwise.
 * 9464 is in Prometheus' exporter range; the collector's default is 8080 and its broker's 1883.
 */
export const DEFAULT_HTTP_PORT = 9464;
const NAME = SEGMENT;
/** The host name, cut to a valid topic segment: the device name when none is configured. */
export const HOST_DEVICE = hostname().replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64) || 'edge';

const FFMPEG_SOURCE = {
  kind: { kind: 'string', oneOf: ['ffmpeg'], doc: 'ffmpeg: RTSP, HTTP/MJPEG, video files, V4L2 devices' },
  url: { kind: 'string', path: true, doc: 'rtsp://…, http(s)://…, a file path (relative: to the config file) or /dev/videoN' },
  width: { kind: 'number', integer: true, min: 32, max: 8192, default: 640, doc: 'frame width delivered to the pipeline (ffmpeg scales)' },
  height: { kind: 'number', integer: true, min: 32, max: 8192, default: 480, doc: 'frame height' },
  fps: { kind: 'number', min: 0, max: 240, default: 0, doc: 'frame rate to deliver; 0 keeps the stream rate' },
  loop: { kind: 'boolean', default: false, doc: 'loop a video file' },
  realtime: { kind: 'boolean', default: false, doc: 'read a file at its native rate, like a live camera (frames dropped when the pipeline is slower); off: a file is read at the pipeline\'s pace and every frame is processed' },
  stallSeconds: { kind: 'number', min: 0.5, max: 3600, default: 10, doc: 'no data for this long: restart the source' },
} as const satisfies Schema;

const GSTREAMER_SOURCE = {
  kind: { kind: 'string', oneOf: ['gstreamer'], doc: 'gst-launch-1.0 pipeline (Jetson: hardware camera and decoder)' },
  preset: { kind: 'string', oneOf: ['jetson-csi', 'rtsp-nvdec', 'raw'], default: 'raw', doc: 'jetson-csi: nvarguscamerasrc; rtsp-nvdec: rtspsrc + nvv4l2decoder; raw: `pipeline` as given' },
  pipeline: { kind: 'string', default: 'videotestsrc', doc: 'raw: the source part of the pipeline; Driftline appends conversion to RGB and its sink' },
  url: { kind: 'string', default: 'rtsp://127.0.0.1/stream', doc: 'rtsp-nvdec: the camera URL' },
  latencyMs: { kind: 'number', integer: true, min: 0, default: 200, doc: 'rtsp-nvdec: jitter-buffer latency' },
  sensorId: { kind: 'number', integer: true, min: 0, default: 0, doc: 'jetson-csi: sensor id' },
  captureWidth: { kind: 'number', integer: true, min: 32, default: 1920, doc: 'jetson-csi: sensor mode width' },
  captureHeight: { kind: 'number', integer: true, min: 32, default: 1080, doc: 'jetson-csi: sensor mode height' },
  captureFps: { kind: 'number', min: 1, default: 30, doc: 'jetson-csi: sensor frame rate' },
  width: { kind: 'number', integer: true, min: 32, max: 8192, default: 640, doc: 'frame width delivered to the pipeline' },
  height: { kind: 'number', integer: true, min: 32, max: 8192, default: 480, doc: 'frame height' },
  finite: { kind: 'boolean', default: false, doc: 'the pipeline ends by itself (a file): end of stream is not a drop' },
  stallSeconds: { kind: 'number', min: 0.5, max: 3600, default: 10, doc: 'no data for this long: restart the pipeline' },
} as const satisfies Schema;

const IMAGES_SOURCE = {
  kind: { kind: 'string', oneOf: ['images'], doc: 'a folder of images, or a pattern like /data/frames/*.jpg' },
  path: { kind: 'string', path: true, doc: 'folder or pattern (* and ? in the file name)' },
  width: { kind: 'number', integer: true, min: 32, max: 8192, default: 640, doc: 'frame width (images are fitted, padded, not distorted)' },
  height: { kind: 'number', integer: true, min: 32, max: 8192, default: 480, doc: 'frame height' },
  fps: { kind: 'number', min: 0.1, max: 240, default: 5, doc: 'images per second' },
  loop: { kind: 'boolean', default: false, doc: 'start again after the last image' },
} as const satisfies Schema;

/** A keyframe: `at` (seconds) plus any of the synthetic conditions, each a number. */
type ScheduleKeyframe = { at: number } & Record<string, number>;

function keyframe(v: unknown, path: string, ctx: Ctx): ScheduleKeyframe | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return problem(ctx, path, v, 'a mapping like {at: 600, gain: 0.6}');
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k !== 'at' && !(CONDITION_KEYS as string[]).includes(k)) problem(ctx, `${path}.${k}`, x, `at or a condition: ${CONDITION_KEYS.join(', ')}`);
    else if (typeof x !== 'number' || !Number.isFinite(x) || (k === 'at' && x < 0)) problem(ctx, `${path}.${k}`, x, k === 'at' ? 'seconds >= 0' : 'a number');
    else out[k] = x;
  }
  if (!('at' in v)) problem(ctx, `${path}.at`, undefined, 'seconds >= 0');
  const { at } = out;
  return at === undefined ? undefined : Object.freeze({ ...out, at });
}

const SYNTHETIC_SOURCE = {
  kind: { kind: 'string', oneOf: ['synthetic'], doc: 'the synthetic line camera' },
  width: { kind: 'number', integer: true, min: 32, max: 8192, default: 640, doc: 'frame width' },
  height: { kind: 'number', integer: true, min: 32, max: 8192, default: 480, doc: 'frame height' },
  fps: { kind: 'number', min: 0.1, max: 240, default: 10, doc: 'frame rate' },
  seed: { kind: 'number', integer: true, min: 0, default: 1, doc: 'scene seed' },
  schedule: { kind: 'array', item: keyframe, doc: 'condition keyframes, interpolated linearly (e.g. gain 1 at 0 s, 0.6 at 600 s)' },
} as const satisfies Schema;

/** The source schemas by kind, for validation and for the configuration reference. */
export const SOURCE_SCHEMAS = { ffmpeg: FFMPEG_SOURCE, gstreamer: GSTREAMER_SOURCE, images: IMAGES_SOURCE, synthetic: SYNTHETIC_SOURCE } as const;
type SourceSchema = (typeof SOURCE_SCHEMAS)[keyof typeof SOURCE_SCHEMAS];
/** SOURCE_SCHEMAS looked up by the kind a config file names, which may be any string. */
const SOURCE_BY_KIND: Readonly<Record<string, SourceSchema>> = SOURCE_SCHEMAS;

const CAMERA = {
  name: { kind: 'string', pattern: NAME, doc: 'camera name (letters, digits, _ . -), unique in this agent' },
  source: { kind: 'object', fields: {}, optional: true, doc: 'where frames come from: see the source tables' },
} as const satisfies Schema;

/** A camera: CAMERA's name, and the source validated by the schema its kind names. */
type CameraConfig = Omit<Config<typeof CAMERA>, 'source'> & { readonly source: Config<SourceSchema> };

function camera(v: unknown, path: string, ctx: Ctx): CameraConfig | undefined {
  const src = (v as { source?: unknown } | null)?.source;
  const c = check(CAMERA, typeof v === 'object' && v !== null ? { ...v, source: undefined } : v, path, ctx);
  if (src === undefined) return problem(ctx, `${path}.source`, undefined, 'a source mapping with a kind');
  // source() is undefined only once it recorded a problem, and then the whole config is refused.
  return Object.freeze({ ...c, source: source(src, `${path}.source`, ctx)! });
}

function source(v: unknown, path: string, ctx: Ctx): Config<SourceSchema> | undefined {
  const kind = (v as { kind?: unknown } | null)?.kind;
  const schema = typeof kind === 'string' ? SOURCE_BY_KIND[kind] : undefined;
  if (!schema) return problem(ctx, `${path}.kind`, kind, 'one of ffmpeg, gstreamer, images, synthetic');
  return check(schema, v, path, ctx);
}

export const AGENT_SCHEMA = {
  model: {
    kind: 'object',
    doc: 'the detector and how it runs',
    fields: {
      path: { kind: 'string', default: SHIPPED_MODEL, path: true, doc: 'ONNX model file (default: the shipped line detector)' },
      providers: { kind: 'list', of: 'string', oneOf: PROVIDER_CHOICES, nonEmpty: true, default: ['auto'], doc: 'execution providers, tried in order; auto (alone): those this platform has, best first (tensorrt, cuda, cpu), with no warning for the ones it lacks' },
      requireProvider: { kind: 'string', oneOf: ['', ...KNOWN_PROVIDERS], default: '', doc: 'the provider this device must run on: running on any other raises the provider-fallback alert; empty: none required (a provider this device ran on before and that now fails still raises it)' },
      tensorrt: {
        kind: 'object',
        doc: 'TensorRT settings, set as ORT_TENSORRT_* environment variables before the session is created (onnxruntime-node gives the provider no options object)',
        fields: {
          cacheDir: { kind: 'string', default: '', path: true, doc: 'engine cache folder (a folder per model sha256 inside, so a new model never loads a stale engine); empty: tensorrt-cache/ beside store.path, the state directory' },
          fp16: { kind: 'boolean', default: true, doc: 'let TensorRT build FP16 kernels' },
          workspaceBytes: { kind: 'number', integer: true, min: 1048576, max: 1099511627776, default: 1073741824, doc: 'TensorRT builder workspace, bytes' },
        },
      },
      threads: { kind: 'number', integer: true, min: 0, max: 256, default: 1, doc: 'ONNX Runtime intra-op threads; 0 = one per core' },
      inferenceThread: { kind: 'string', oneOf: ['auto', 'worker', 'main'], default: 'auto', doc: 'where inference runs; auto = a worker thread when a core is free, unless the model runs in under 5 ms and the cameras\' frame rates keep it under a quarter of a core (then the main thread)' },
      gather: { kind: 'string', oneOf: ['auto', 'off'], default: 'auto', doc: 'with several live cameras, each frame joins a burst as it arrives (letterboxed and summarised then), and the burst waits up to half the fastest camera\'s frame period (at most 100 ms) from its oldest frame\'s arrival for the other cameras\' frames, to run the model on them back to back: a model run right after another costs less CPU than one after a sleep; auto gathers only while the model\'s runs take at most half the time at the cameras\' frame rates, and not when a camera is a recorded file read at the frame loop\'s pace; off = one frame at a time, as it arrives' },
      conf: { kind: 'number', min: 0, max: 1, default: 0.25, doc: 'operating confidence threshold' },
      iou: { kind: 'number', min: 0, max: 1, default: 0.45, doc: 'NMS IoU threshold' },
      maxDet: { kind: 'number', integer: true, min: 1, max: 10000, default: 300, doc: 'detections kept per frame' },
      classConf: { kind: 'map', of: 'number', min: 0, max: 1, default: {}, doc: 'per-class thresholds by class name' },
      candidateFloor: { kind: 'number', min: 0, max: 1, default: 0.05, doc: 'candidates above this feed the confidence histograms' },
      agnosticNms: { kind: 'boolean', default: false, doc: 'also suppress across classes: of two kept boxes of different classes overlapping by more than agnosticIou (one part reported twice), the one of higher classPriority survives, on equal priority the higher score' },
      agnosticIou: { kind: 'number', min: 0, max: 1, default: 0.7, doc: 'IoU above which two boxes of different classes are one part (agnosticNms only); same-class suppression keeps using iou' },
      classPriority: { kind: 'list', of: 'string', default: [], doc: 'class names, highest priority first, for agnosticNms; classes not listed come after, equal' },
      resize: { kind: 'string', oneOf: RESIZE_MODES, default: 'auto', doc: 'letterbox resampling: auto (bilinear, or area for frames over 3x the model input), bilinear (OpenCV INTER_LINEAR, as Ultralytics), area (antialiased: whole-block means, then bilinear), sharp (antialiased by libvips; slower)' },
    },
  },
  store: {
    kind: 'object',
    doc: 'the local SQLite telemetry store',
    fields: {
      path: { kind: 'string', default: 'data/agent.db', path: true, doc: 'database file (WAL mode; -wal and -shm files sit beside it); the default is relative to the working directory' },
      flushMs: { kind: 'number', integer: true, min: 10, max: 60_000, default: 500, doc: 'batch interval for per-frame rows' },
      maxBytes: { kind: 'number', integer: true, min: 1 << 20, default: 1 << 30, doc: 'disk budget for the database, bytes' },
      minFreeBytes: { kind: 'number', integer: true, min: 0, default: 64 << 20, doc: 'free space kept on the store\'s filesystem: below it, retention sheds telemetry as if over maxBytes, and a storageFull event is sent' },
      frameRetentionDays: { kind: 'number', min: 0.001, default: 7, doc: 'per-frame rows older than this are deleted' },
      windowRetentionDays: { kind: 'number', min: 0.001, default: 90, doc: 'window aggregates older than this are deleted' },
      retentionIntervalSeconds: { kind: 'number', min: 1, default: 60, doc: 'how often retention runs' },
      synchronous: { kind: 'string', oneOf: ['normal', 'full'], default: 'normal', doc: 'normal: safe against crashes; full: also against power loss' },
    },
  },
  telemetry: {
    kind: 'object',
    doc: 'per-window aggregates of the per-frame telemetry',
    fields: {
      windowSeconds: { kind: 'number', min: 1, max: 86_400, default: 60, doc: 'window length; one aggregate row per camera per window' },
      clockStepSeconds: { kind: 'number', min: 0.1, max: 86_400, default: 2, doc: 'a wall-clock change this large between two frames (against the monotonic clock) is a clock step: the window is cut there and a clockStep event sent' },
    },
  },
  drift: {
    kind: 'object',
    doc: 'drift scoring of each telemetry window against the reference profile (docs/drift.md)',
    fields: {
      enabled: { kind: 'boolean', default: true, doc: 'score windows; off: windows are stored unscored' },
      profile: { kind: 'string', default: '', path: true, doc: 'reference profile; empty: <model>.profile.json beside the model' },
      thresholds: { kind: 'string', oneOf: ['calibrated', 'fixed'], default: 'calibrated', doc: 'calibrated from the profile, or fixed (psiWarn/psiAlert and 0.1/0.2 for the other scores)' },
      warnEveryHours: { kind: 'number', min: 0.01, default: 24, doc: 'calibrated: expected hours between false warnings per camera' },
      alertEveryHours: { kind: 'number', min: 0.01, default: 168, doc: 'calibrated: expected hours between false alerts per camera' },
      psiWarn: { kind: 'number', min: 0, default: 0.1, doc: 'fixed: PSI warn threshold' },
      psiAlert: { kind: 'number', min: 0, default: 0.25, doc: 'fixed: PSI alert threshold' },
      minFrames: { kind: 'number', integer: true, min: 2, default: 30, doc: 'windows with fewer frames are insufficient' },
      uncertainBelow: { kind: 'number', min: 0, max: 1, default: 0.5, doc: 'a kept detection scoring below this is uncertain' },
      rivalMin: { kind: 'number', min: 0, max: 1, default: 0.2, doc: 'a kept detection is uncertain when another class scores this over it' },
      cusumH: { kind: 'number', min: 1, default: 10, doc: 'evidence (in null standard deviations) the sequential detectors need to signal' },
    },
  },
  review: {
    kind: 'object',
    doc: 'frames saved for human review: uncertain detections or inputs outside the reference',
    fields: {
      enabled: { kind: 'boolean', default: true, doc: 'save review frames' },
      dir: { kind: 'string', default: '', path: true, doc: 'JPEG folder; empty: <store path>.review beside the database' },
      maxPerHour: { kind: 'number', integer: true, min: 0, default: 60, doc: 'frames saved per camera per hour at most' },
      maxBytes: { kind: 'number', integer: true, min: 1 << 20, default: 256 << 20, doc: 'disk cap for review JPEGs; the oldest are deleted beyond it' },
      jpegQuality: { kind: 'number', integer: true, min: 1, max: 100, default: 90, doc: 'JPEG quality' },
    },
  },
  mqtt: {
    kind: 'object',
    doc: 'publishing summaries and events to the collector over MQTT (docs/mqtt.md)',
    fields: {
      url: { kind: 'string', default: '', pattern: /^(mqtts?|wss?):\/\/[^\s]+$/, doc: 'broker URL (mqtt://, mqtts:// for TLS, ws://, wss://); empty: do not publish' },
      site: { kind: 'string', pattern: SEGMENT, default: 'default', doc: 'site (plant, line) this device belongs to: the second topic level' },
      device: { kind: 'string', pattern: SEGMENT, default: '', doc: 'this device\'s name, unique in the site; empty: the host name' },
      clientId: { kind: 'string', default: '', doc: 'MQTT client id; empty: driftline-agent-<site>-<device>' },
      ...MQTT_TLS_SCHEMA,
      drainPerSecond: { kind: 'number', min: 0.1, max: 10_000, default: 20, doc: 'most messages sent per second, so a backlog after an outage drains steadily' },
      maxInflight: { kind: 'number', integer: true, min: 1, max: 1000, default: 10, doc: 'most messages awaiting the broker\'s acknowledgement' },
      outboxMaxRows: { kind: 'number', integer: true, min: 100, default: 200_000, doc: 'outbox bound; beyond it the oldest unsent messages are dropped (and counted)' },
      reviewUrl: { kind: 'string', default: '', doc: 'base URL where review frames of this device can be fetched, for alert evidence links' },
    },
  },
  http: {
    kind: 'object',
    doc: 'the HTTP listener: /healthz, /readyz, /metrics (Prometheus) and read-only review frames (docs/api.md)',
    fields: {
      enabled: { kind: 'boolean', default: true, doc: 'serve HTTP; off: no listener (no scraping, no health checks over HTTP)' },
      host: { kind: 'string', default: '127.0.0.1', doc: 'address to listen on (0.0.0.0 for Prometheus on another machine; review frames then need reviewToken)' },
      port: { kind: 'number', integer: true, min: 0, max: 65535, default: DEFAULT_HTTP_PORT, doc: 'TCP port (0: any free port, logged at start)' },
      wedgedSeconds: { kind: 'number', min: 1, max: 3600, default: 30, doc: '/healthz fails when a streaming camera has had a frame waiting this long and no frame of it finished meanwhile' },
      readyOutboxSeconds: { kind: 'number', min: 0, max: 604_800, default: 300, doc: '/readyz fails while the broker is unreachable and the oldest unsent message is older than this (or the outbox is full)' },
      reviewToken: { kind: 'string', default: '', doc: 'bearer token required for review frames; prefer reviewTokenFile or the environment; empty: review frames are served on a loopback address only' },
      reviewTokenFile: { kind: 'string', default: '', path: true, doc: 'file holding the review token (e.g. a systemd credential)' },
    },
  },
  log: LOG_SECTION,
  cameras: { kind: 'array', minItems: 1, item: camera, doc: 'the cameras this agent watches: name and source' },
} as const satisfies Schema;

/** The agent's configuration, as AGENT_SCHEMA validates it. */
export type AgentConfig = Expand<Config<typeof AGENT_SCHEMA>>;

/**
 * Validates a raw config object plus environment overrides; returns it frozen, or throws one
 * DRIFTLINE_ERR_CONFIG listing every problem. Relative paths resolve against `baseDir` (the config
 * file's folder) when given.
 */
export function agentConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, baseDir?: string): { config: AgentConfig; envUsed: string[] } {
  const ctx: Ctx = { problems: [], envSources: new Map(), ...(baseDir ? { baseDir } : {}) };
  const copy = structuredClone(raw ?? {}) as Record<string, unknown>;
  const envUsed = typeof copy === 'object' && !Array.isArray(copy) ? applyEnv(AGENT_SCHEMA, copy, env, 'DRIFTLINE', ctx) : [];
  refuseUnknownEnv(AGENT_SCHEMA, env, 'DRIFTLINE', ctx, ['DRIFTLINE_COLLECTOR']); // the collector's variables, beside the agent's on one host
  const config = check(AGENT_SCHEMA, copy, '', ctx);
  const providers = config.model?.providers ?? [];
  if (providers.includes('auto') && providers.length > 1) problem(ctx, 'model.providers', providers, 'auto alone, or a list of providers in the order to try');
  const required = config.model?.requireProvider;
  if (required && !providers.includes('auto') && !(providers as readonly string[]).includes(required)) problem(ctx, 'model.requireProvider', required, `a provider in model.providers (${providers.join(', ')}), or auto there`);
  const names = new Set<string>();
  (config.cameras ?? []).forEach((c, i) => {
    if (!c?.name) return;
    if (names.has(c.name)) problem(ctx, `cameras[${i}].name`, c.name, 'a name no other camera uses');
    names.add(c.name);
  });
  if (ctx.problems.length) throw configError(ctx.problems);
  return { config, envUsed };
}

/** Reads and validates the YAML config file; relative paths in it are relative to its folder. */
export function loadAgentConfig(file: string, env: NodeJS.ProcessEnv = process.env): { config: AgentConfig; envUsed: string[] } {
  const { raw, dir } = readConfigFile(file);
  return agentConfig(raw, env, dir);
}
