/**
 * A stand-in fleet for the collector benchmark: full-size summaries (every feature, every score,
 * histograms) as the agent builds them, published by a separate process so that publishing does not
 * share the collector's event loop. Run as a script: node --import tsx bench/fleet.ts URL SITE N CAMERAS
 */
import { connectAsync } from 'mqtt';
import type { DriftResult } from '../agent/drift/camera-drift.js';
import { PROFILE_FEATURES } from '../agent/drift/profile.js';
import { summary, type Identity } from '../agent/publish/messages.js';
import type { WindowSummary } from '../agent/telemetry/window.js';
import { summaryTopic } from '../protocol/topics.js';

const CLASSES = ['good', 'scratch', 'missing_notch'];

export function identity(site: string): Identity {
  return { site, device: 'edge', version: '0.1.0', model: { name: 'line-detector.onnx', sha256: 'c'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: [], windowSeconds: 60 };
}

const window: WindowSummary = {
  startTs: 1_790_000_000_000,
  endTs: 1_790_000_059_500,
  frames: 120,
  features: Object.fromEntries(PROFILE_FEATURES.map((f, i) => [f, { mean: 100 + i, std: 3.5, min: 90 + i, max: 110 + i }])),
  classCounts: { good: 117, scratch: 2, missing_notch: 1 },
  confHist: Object.fromEntries(CLASSES.map((c) => [c, Array.from({ length: 20 }, (_, i) => (i * 7) % 13)])),
  latencyMs: Object.fromEntries(['preprocess', 'inference', 'postprocess'].map((s) => [s, { p50: 1.1, p95: 1.9, p99: 2.4, max: 3.2 }])),
};

/** The drift result of a window at `severity`, with all the scores a real one has. */
export function driftResult(severity: 'ok' | 'alert'): DriftResult {
  const scores: Record<string, number> = {};
  for (const f of PROFILE_FEATURES) for (const s of ['psi', 'js', 'ks', 'w1']) scores[`${s}:${f}`] = 0.0123;
  for (const c of CLASSES) scores[`js:conf.${c}`] = 0.02;
  Object.assign(scores, { 'js:classMix': 0.01, 'rate:uncertain': 0.12, 'rate:ood': 0, 'mean:topScore': 0.91 });
  return {
    severity,
    frames: 120,
    thresholds: 'calibrated',
    drivers: severity === 'alert' ? [{ key: 'psi:brightness', value: 0.8, warn: 0.3, alert: 0.4, level: 'alert' }] : [],
    rates: { uncertain: 0.12, ood: 0, oodDetection: 0 },
    oodFeatures: {},
    sequential: { topScore: { statistic: 0, alarm: false }, uncertain: { statistic: 0.4, alarm: false }, classMix: { statistic: 0, alarm: false } },
    scores,
  };
}

export function payload(site: string, camera: string, seq: number, severity: 'ok' | 'alert' = 'ok'): string {
  return JSON.stringify(summary(identity(site), { camera, window, dropped: 0, errors: 0, drift: driftResult(severity), reference: Object.fromEntries(PROFILE_FEATURES.map((f) => [f, { mean: 100, std: 5 }])) }, seq));
}

if (process.argv[1]?.endsWith('fleet.ts')) {
  const [url, site, n, cams] = process.argv.slice(2);
  const count = Number(n);
  const cameras = Number(cams);
  const client = await connectAsync(url!, { clientId: `bench-fleet-${site}` });
  let inflight = 0;
  let wake: (() => void) | undefined;
  // Built once per camera: a real fleet's serialising happens on the edge boxes, not beside the collector.
  const templates = Array.from({ length: cameras }, (_, c) => payload(site!, `cam${c}`, 999_999_999));
  for (let i = 0; i < count; i++) {
    const cam = `cam${i % cameras}`;
    const seq = Math.floor(i / cameras) + 1;
    const body = templates[i % cameras]!.replace('"seq":999999999', `"seq":${seq}`);
    while (inflight >= 200) await new Promise<void>((r) => (wake = r));
    inflight++;
    client.publish(summaryTopic(site!, 'edge', cam), body, { qos: 1 }, () => {
      inflight--;
      wake?.();
      wake = undefined;
    });
  }
  while (inflight > 0) await new Promise<void>((r) => (wake = r));
  await client.endAsync();
}
