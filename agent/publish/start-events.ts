/**
 * What the agent says once at start-up, in the log and as events on every camera's topic: a camera
 * whose geometry differs from the reference profile's, an execution provider worse than this
 * device ran on before (or than model.requireProvider), and a model that changed since the last
 * start. What must be said only once is remembered in the store's meta table.
 */
import { basename } from 'node:path';
import type { Logger } from '../../lib/log.js';
import type { AgentConfig } from '../config.js';
import type { Profile } from '../drift/types.js';
import type { LoadedModel } from '../infer/model.js';
import { providerFallback, type ProviderFallback } from '../infer/provider-fallback.js';
import { readMeta, writeMeta, type Db } from '../store/database.js';
import type { DeviceLink } from './link.js';

/**
 * A camera whose frames differ in size from the reference profile's capture geometry: said once, at
 * start-up, on its own topic. The input statistics are taken on a sampling grid of a fixed number of
 * points and the renderer of the synthetic line draws at a reference scale, so a camera of the same
 * aspect ratio at another resolution is still comparable; another aspect ratio shows other parts of
 * the scene, and the box size and aspect features change with it: its verdicts are not comparable.
 */
export function announceGeometry(config: AgentConfig, db: Db, profile: Profile, link: DeviceLink, log: Logger): void {
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
export function decideFallback(config: AgentConfig, db: Db, model: LoadedModel, log: Logger): ProviderFallback | undefined {
  const { fallback, remember } = providerFallback(model.provider, model.providers, config.model.requireProvider, readMeta(db, 'provider_best'));
  writeMeta(db, 'provider_best', remember);
  if (fallback) log.warn({ provider: model.provider, expected: fallback.from, reason: fallback.reason }, `running on ${model.provider}, not ${fallback.from} (${fallback.reason === 'required' ? 'model.requireProvider' : 'the provider this device ran on before'})`);
  return fallback;
}

/**
 * Events every camera's consumers must hear at start-up: the preferred execution provider was not
 * available, or the model differs from the one this agent ran last time (remembered in the store).
 */
export function announceRuntime(config: AgentConfig, db: Db, model: LoadedModel, fallback: ProviderFallback | undefined, link: DeviceLink): void {
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
