/**
 * The agent's HTTP side, put together from the running agent: the liveness check over the pipeline's
 * progress, readiness over the model, store and MQTT link, the metrics over the counts each part
 * keeps, and the review frames' access rule. The composition root (agent/main.ts) calls it once,
 * after the store and the model are up and before anything flows, and closes the app on stop.
 */
import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/log.js';
import type { AgentConfig } from '../config.js';
import type { Detector } from '../infer/detector.js';
import type { LoadedModel } from '../infer/model.js';
import { describeWedged, pipelineWedged } from '../pipeline/liveness.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { DeviceLink } from '../publish/link.js';
import { reviewDirFor, type ReviewSampler } from '../review/sampler.js';
import type { FrameSource } from '../source/source.js';
import { configuredFps } from '../source/from-config.js';
import { databaseBytes, type Db } from '../store/database.js';
import type { LastWindows } from './last-windows.js';
import type { ProviderFallback } from '../infer/provider-fallback.js';
import { agentMetrics } from './metrics.js';
import { readiness } from './ready.js';
import { reviewAccess } from './review-routes.js';
import { buildAgentHttp, listenAgentHttp, type HttpAddress } from './server.js';

/** What the HTTP side reads: the running agent's parts, which only the composition root holds. */
export interface AgentParts {
  readonly version: string;
  readonly pipeline: Pipeline;
  readonly detector: Detector;
  readonly model: LoadedModel;
  /** The provider the device should run on, when it runs on a worse one (agent/infer/provider-fallback.ts). */
  readonly fallback: ProviderFallback | undefined;
  readonly db: Db;
  readonly link: DeviceLink | undefined;
  readonly review: ReviewSampler | undefined;
  readonly sources: readonly FrameSource[];
  readonly windows: LastWindows;
  readonly clock: Clock;
  readonly reviewToken: string;
}

/** Builds the agent's HTTP side from its running parts and opens the listener (DRIFTLINE_ERR_LISTEN when it cannot). */
export async function startAgentHttp(config: AgentConfig, log: Logger, o: AgentParts): Promise<{ app: FastifyInstance; address: HttpAddress; metrics: Registry }> {
  const { pipeline, detector, model, db, link, review, sources, windows, clock } = o;
  const h = config.http;
  const boundMs = h.wedgedSeconds * 1000;
  const wedged = (): ReturnType<typeof pipelineWedged> => pipelineWedged(pipeline.progress, clock.monotonic(), boundMs);
  // The outbox stamps its rows with the system's wall clock (Outbox.enqueue): its age is measured on the same.
  const mqtt = link
    ? (): { connected: boolean; rows: number; oldestAgeSeconds: number; dropped: number } => {
        const oldest = link.outbox.oldestTs();
        return { connected: link.publisher.connected, rows: link.outbox.size, oldestAgeSeconds: oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000), dropped: link.outbox.dropped };
      }
    : undefined;
  const ping = db.prepare('SELECT 1');
  const storeFailure = (): string | undefined => {
    if (!db.open) return 'the database is closed';
    try {
      ping.get([]);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };
  const metrics = agentMetrics({
    version: o.version,
    model: { name: basename(model.file), sha256: model.sha256 },
    provider: model.provider,
    requested: model.providers,
    fallbackFrom: o.fallback?.from,
    counters: () => pipeline.counters,
    sources,
    expectedFps: config.cameras.flatMap((c) => {
      const fps = configuredFps(c.source);
      return fps > 0 ? [{ camera: c.name, fps }] : [];
    }),
    timings: pipeline.timings,
    bursts: pipeline.bursts,
    windows,
    progress: () => {
      const stuck = new Set(wedged().map((w) => w.camera));
      const now = clock.now();
      const mono = clock.monotonic();
      return pipeline.progress.map((p) => ({ camera: p.camera, wedged: stuck.has(p.camera), lastFrameSeconds: Number.isNaN(p.lastDone) ? undefined : (now - (mono - p.lastDone)) / 1000 }));
    },
    ...(review ? { review } : {}),
    ...(mqtt ? { mqtt } : {}),
    databaseBytes: () => {
      const b = databaseBytes(db);
      return b.file + b.wal;
    },
  });
  const access = reviewAccess({ enabled: config.review.enabled, host: h.host, token: o.reviewToken });
  const app = buildAgentHttp({
    liveness: () => {
      const w = wedged();
      return { wedged: w, message: w.length ? describeWedged(w, boundMs) : '' };
    },
    readiness: () =>
      readiness({
        inferenceFailure: detector.inferenceFailure,
        storeFailure: storeFailure(),
        ...(mqtt ? { mqtt: { ...mqtt(), maxRows: config.mqtt.outboxMaxRows } } : {}),
        outboxSeconds: h.readyOutboxSeconds,
      }),
    metrics,
    review: { db, dir: config.review.dir || reviewDirFor(config.store.path), access },
    log,
  });
  let address: HttpAddress;
  try {
    address = await listenAgentHttp(app, h.host, h.port);
  } catch (e) {
    await app.close().catch(() => undefined);
    throw e;
  }
  const reviewFrames = access.kind === 'open' ? 'open (loopback)' : access.kind === 'token' ? 'bearer token' : access.status === 404 ? 'off (review.enabled: false)' : 'off (not loopback and no http.reviewToken)';
  log.info({ url: address.url, reviewFrames, wedgedSeconds: h.wedgedSeconds }, `HTTP on ${address.url}: /healthz /readyz /metrics /review`);
  return { app, address, metrics };
}
