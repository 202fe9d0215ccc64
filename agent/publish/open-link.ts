/**
 * The agent's MQTT link (link.ts) as its config and model make it: the device's identity for the
 * birth message, the broker and the outbox's limits. Says once where it publishes.
 */
import { basename } from 'node:path';
import type { IClientOptions } from 'mqtt';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/log.js';
import { describeBroker } from '../../lib/mqtt-options.js';
import { HOST_DEVICE, type AgentConfig } from '../config.js';
import type { LoadedModel } from '../infer/model.js';
import type { ProviderFallback } from '../infer/provider-fallback.js';
import type { Db } from '../store/database.js';
import { DeviceLink } from './link.js';

export interface LinkParts {
  /** The agent's version, for the birth message. */
  readonly version: string;
  readonly client: IClientOptions;
  readonly db: Db;
  readonly model: LoadedModel;
  readonly fallback: ProviderFallback | undefined;
  readonly log: Logger;
  readonly clock: Clock;
  /** A write to the outbox failed: true when space was made and the write is worth one retry. */
  readonly onWriteFailed: (e: unknown) => boolean;
}

/** Opens the link; it starts sending on start(). */
export function openLink(config: AgentConfig, { version, client, db, model, fallback, log, clock, onWriteFailed }: LinkParts): DeviceLink {
  const m = config.mqtt;
  const device = m.device || HOST_DEVICE;
  const identity = {
    site: m.site,
    device,
    version,
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
