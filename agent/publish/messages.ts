/**
 * Builds the agent's wire messages (protocol/messages.ts) from what the pipeline produces: a closed
 * telemetry window with its drift verdict becomes a `driftline.summary/1`; the agent's identity,
 * model and provider become the `driftline.status/1` birth and will.
 */
import { SCHEMAS, type EventKind, type EventMessage, type FeatureStats, type StatusMessage, type SummaryMessage, type Verdict } from '../../protocol/messages.js';
import type { DriftResult } from '../drift/types.js';
import type { WindowAggregate } from '../telemetry/window.js';

/** A window's verdict on the wire: a window the reference cannot judge is `insufficient` (its cause goes beside it); no drift result, `unscored`. */
export function wireVerdict(d: DriftResult | undefined): Verdict {
  return !d ? 'unscored' : d.severity === 'insufficient-reference' ? 'insufficient' : d.severity;
}

export interface Identity {
  readonly site: string;
  readonly device: string;
  readonly version: string;
  readonly model: { readonly name: string; readonly sha256: string };
  readonly provider: string;
  readonly providers: readonly string[];
  readonly cameras: readonly string[];
  readonly windowSeconds: number;
  readonly reviewUrl?: string;
  /** The outbox's sequence epoch (see Outbox.epoch). */
  readonly epoch?: string;
}

export interface WindowReport {
  readonly camera: string;
  readonly window: WindowAggregate;
  readonly dropped: number;
  readonly errors: number;
  readonly drift: DriftResult | undefined;
  /** Reference mean and std per feature, for the z shift; absent without a profile. */
  readonly reference?: Readonly<Record<string, { readonly mean: number; readonly std: number }>>;
  /** Per feature family, its score on the threshold scale (agent/drift/family-scores.ts); empty when not judged. */
  readonly familyScores?: Readonly<Record<string, number | undefined>>;
  /** Review frames saved during the window. */
  readonly review?: readonly { file: string; ts: number; reason: string }[];
}

export function birth(id: Identity, ts = Date.now(), seq?: number): StatusMessage {
  return {
    schema: SCHEMAS.status,
    site: id.site,
    device: id.device,
    state: 'online',
    ts,
    agent: { version: id.version },
    model: { ...id.model },
    provider: id.provider,
    providers: [...id.providers],
    cameras: [...id.cameras],
    windowSeconds: id.windowSeconds,
    ...(id.reviewUrl ? { reviewUrl: id.reviewUrl } : {}),
    ...(id.epoch ? { epoch: id.epoch } : {}),
    ...(seq ? { seq } : {}),
  };
}

/**
 * The offline status: the Last Will (a crash or a lost link: no reason), or a clean stop's, which
 * says why (`stopReason`), so the collector can tell a planned restart from a crash. It names the
 * epoch and the status `seq` of its connection, as the birth does.
 */
export function offline(id: Identity, ts = Date.now(), stopReason?: string, seq?: number): StatusMessage {
  return { schema: SCHEMAS.status, site: id.site, device: id.device, state: 'offline', ts, ...(stopReason ? { stopReason } : {}), ...(id.epoch ? { epoch: id.epoch } : {}), ...(seq ? { seq } : {}) };
}

/**
 * Why this process is stopping cleanly: SIGTERM carries no reason, so it comes from the environment
 * at the moment of the stop (`DRIFTLINE_STOP_REASON`, set by the upgrade script or the unit), cut to
 * the wire's 64 characters; `stopping` by default.
 */
export function stopReason(env: NodeJS.ProcessEnv = process.env): string {
  const r = (env.DRIFTLINE_STOP_REASON ?? '').trim();
  return r ? r.slice(0, 64) : 'stopping';
}

const finite = (v: number): number => (Number.isFinite(v) ? v : 0);
const orNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

export function summary(id: Identity, r: WindowReport, seq: number): SummaryMessage {
  const w = r.window;
  const features: Record<string, FeatureStats> = {};
  for (const [k, f] of Object.entries(w.features)) {
    const ref = r.reference?.[k];
    const z = ref && ref.std > 0 && w.frames > 0 ? (f.mean - ref.mean) / ref.std : null;
    features[k] = { mean: finite(f.mean), std: finite(f.std), min: finite(f.min), max: finite(f.max), z: z === null || Number.isFinite(z) ? z : null, ...(ref ? { ref: finite(ref.mean) } : {}) };
  }
  const d = r.drift;
  const m: SummaryMessage = {
    schema: SCHEMAS.summary,
    site: id.site,
    device: id.device,
    camera: r.camera,
    seq,
    start: Math.round(w.startTs),
    end: Math.round(w.endTs),
    frames: w.frames,
    dropped: r.dropped,
    errors: r.errors,
    model: { ...id.model },
    provider: id.provider,
    status: wireVerdict(d),
    ...(d?.severity === 'insufficient' ? { insufficient: 'frames' as const } : d?.severity === 'insufficient-reference' ? { insufficient: 'reference' as const } : {}),
    features,
    classCounts: w.classCounts,
    confHist: w.confHist,
    latencyMs: w.latencyMs,
  };
  if (d) {
    m.thresholds = d.thresholds;
    m.drivers = d.drivers.map((x) => ({ key: x.key, value: finite(x.value), warn: orNull(x.warn), alert: orNull(x.alert), level: x.level, ...(x.features ? { features: x.features } : {}) }));
    m.scores = Object.fromEntries(Object.entries(d.scores).map(([k, v]) => [k, Number.isFinite(v) ? v : null]));
    const families = Object.entries(r.familyScores ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1]));
    if (families.length) m.familyScores = Object.fromEntries(families);
    m.rates = { uncertain: finite(d.rates.uncertain), ood: finite(d.rates.ood), oodDetection: finite(d.rates.oodDetection) };
    m.oodFeatures = d.oodFeatures;
    m.sequential = Object.fromEntries(Object.entries(d.sequential).map(([k, v]) => [k, { statistic: finite(v.statistic), alarm: v.alarm }]));
  }
  if (r.review?.length) m.review = r.review.slice(0, 64).map((x) => ({ ...x }));
  return m;
}

export function event(id: Identity, camera: string, seq: number, kind: EventKind, message: string, detail?: Record<string, unknown>, ts = Date.now()): EventMessage {
  return { schema: SCHEMAS.event, site: id.site, device: id.device, camera, seq, ts, kind, message: message.slice(0, 1024), ...(detail ? { detail } : {}) };
}
