/**
 * Where each closed window goes (the pipeline's onWindow, once per window): its verdict and family
 * scores to the last windows that /metrics reads, its summary over MQTT with the reference profile's
 * means and the review frames saved during it, and its verdict to the log. The reference is mapped
 * once, when this is built. Kept out of the composition root, which only wires.
 */
import { familyScores } from '../drift/family-scores.js';
import type { Judge } from '../drift/judge.js';
import type { DriftResult, Profile } from '../drift/types.js';
import type { LastWindows } from '../http/last-windows.js';
import type { ReviewSampleRef } from '../store/review-samples.js';
import type { WindowAggregate } from '../telemetry/window.js';
import type { DeviceLink } from './link.js';
import { wireVerdict, type WindowReport } from './messages.js';
import type { VerdictLog } from './verdict-log.js';

export interface WindowReporterParts {
  /** The MQTT link; undefined when mqtt.url is empty (no summary is sent). */
  readonly link: Pick<DeviceLink, 'summary'> | undefined;
  /** The judge and the profile windows are scored against; undefined when drift scoring is off. */
  readonly drift: { readonly judge: Judge; readonly profile: Pick<Profile, 'features'> } | undefined;
  readonly windows: Pick<LastWindows, 'record'>;
  readonly verdicts: Pick<VerdictLog, 'window'>;
  /** The review frames of a camera stamped within a window (agent/store/review-samples.ts). */
  readonly reviewSamples: (cameraId: number, fromTs: number, toTs: number) => ReviewSampleRef[];
}

export class WindowReporter {
  /** Reference mean and std per feature, for the summaries' z shift; undefined without a profile. */
  private readonly reference: WindowReport['reference'];

  constructor(private readonly p: WindowReporterParts) {
    const drift = p.drift;
    this.reference = drift ? Object.fromEntries(Object.entries(drift.profile.features).map(([k, f]) => [k, { mean: f.mean, std: f.std }])) : undefined;
  }

  /** Camera `camera` closed window `w`, scored as `result` (undefined: not scored), with its losses. */
  window(camera: string, w: WindowAggregate, result: DriftResult | undefined, losses: { readonly cameraId: number; readonly dropped: number; readonly errors: number }): void {
    const { link, drift, windows, verdicts, reviewSamples } = this.p;
    const reference = this.reference;
    const families = result && drift ? familyScores(result, drift.judge) : {};
    windows.record(camera, w.endTs, wireVerdict(result), families, result?.rates);
    if (link) {
      const review = reviewSamples(losses.cameraId, w.startTs, w.endTs);
      link.summary({ camera, window: w, dropped: losses.dropped, errors: losses.errors, drift: result, familyScores: families, ...(reference ? { reference } : {}), review });
    }
    if (result) verdicts.window(camera, w.frames, result);
  }
}
