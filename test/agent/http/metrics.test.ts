/**
 * /metrics from a live agent (the shipped model and its reference profile, a synthetic camera, a real
 * store, an MQTT URL where nothing listens so the outbox fills): every agent metric is there with a
 * sane value after a few windows, the standard process and Node.js metrics carry their standard
 * names, and Prometheus' own promtool accepts the output as it is served, unfiltered.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AGENT_METRICS as M } from '../../../agent/http/metric-names.js';
import { STAGES } from '../../../agent/pipeline/stage-timings.js';
import { FAMILY_NAMES } from '../../../protocol/features.js';
import { liveAgent } from '../../helpers/agent.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';
import { promtoolCheckMetrics } from '../../helpers/promtool.js';

/** Every sample of a metric: its labels and value. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

const one = (text: string, name: string, labels: Record<string, string> = {}): number => {
  const s = samples(text, name).filter((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.equal(s.length, 1, `${name}${JSON.stringify(labels)}: ${JSON.stringify(s)}`);
  return s[0]!.value;
};

test('/metrics from a live agent: every agent metric with sane values, standard process metrics, and promtool accepts it unfiltered', { timeout: 90_000 }, async (t) => {
  const release = releaser(t);
  const { agent, url } = await liveAgent(release, { mqtt: { url: 'mqtt://127.0.0.1:1', reconnectMinMs: 200 } });
  assert.ok(agent.profileFile, 'drift scoring against the shipped profile');
  await until(() => (agent.link?.outbox.size ?? 0) >= 3, 30_000, 'three windows closed');
  // Scraped until the last window was judged (a window short of drift.minFrames on a busy machine has no scores).
  let text = '';
  const t0 = Date.now();
  for (;;) {
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers.get('content-type')), /^text\/plain; version=0\.0\.4/);
    text = await res.text();
    if (samples(text, M.driftScore).length > 0) break;
    assert.ok(Date.now() - t0 < 30_000, `no judged window within 30 s:\n${text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const started = Date.now() / 1000;

  for (const name of Object.values(M)) {
    const kind = name === M.stageDuration ? 'histogram' : /_total$/.test(name) ? 'counter' : 'gauge';
    assert.match(text, new RegExp(`^# TYPE ${name} ${kind}$`, 'm'), `${name} is a ${kind}`);
  }
  assert.ok(one(text, M.frames, { camera: 'cam', result: 'processed' }) >= 5);
  assert.ok(one(text, M.frames, { camera: 'cam', result: 'dropped' }) >= 0);
  assert.equal(one(text, M.frames, { camera: 'cam', result: 'errored' }), 0);
  assert.equal(one(text, M.cameraUp, { camera: 'cam' }), 1);
  assert.equal(one(text, M.cameraReconnects, { camera: 'cam' }), 0);
  assert.equal(one(text, M.cameraSourceErrors, { camera: 'cam' }), 0);
  assert.equal(one(text, M.cameraExpectedFps, { camera: 'cam' }), 10);
  assert.equal(one(text, M.pipelineWedged, { camera: 'cam' }), 0);
  assert.ok(Math.abs(one(text, M.lastFrame, { camera: 'cam' }) - started) < 30, 'the last frame finished just now');
  for (const stage of STAGES) {
    const count = one(text, `${M.stageDuration}_count`, { stage });
    assert.ok(count >= 5, `${stage}: ${count} observations`);
    assert.equal(one(text, `${M.stageDuration}_bucket`, { stage, le: '+Inf' }), count);
    const sum = one(text, `${M.stageDuration}_sum`, { stage });
    assert.ok(sum > 0 && sum / count < 1, `${stage}: ${sum / count} s per frame`);
  }
  // One camera: nothing to gather, so frames run one at a time and no burst is counted.
  assert.equal(one(text, M.bursts), 0);
  assert.equal(one(text, M.burstFrames), 0);
  assert.deepEqual(samples(text, M.providerInfo), [{ labels: { provider: 'cpu', requested: 'cpu' }, value: 1 }]);
  assert.equal(one(text, M.providerFallback), 0);
  assert.deepEqual(samples(text, M.info).map((s) => [s.labels.model, s.labels.sha256?.length, s.value]), [['line-detector.onnx', 64, 1]]);

  assert.ok([-1, 0, 1, 2].includes(one(text, M.driftVerdict, { camera: 'cam' })), 'a verdict of the wire statuses');
  const families = samples(text, M.driftScore);
  assert.deepEqual(families.map((s) => s.labels.family).sort(), [...FAMILY_NAMES].sort(), 'one score per feature family');
  for (const f of families) assert.ok(f.labels.camera === 'cam' && Number.isFinite(f.value) && f.value >= 0, JSON.stringify(f));
  for (const name of [M.oodRate, M.oodDetectionRate, M.uncertainRate]) {
    const v = one(text, name, { camera: 'cam' });
    assert.ok(v >= 0 && v <= 1, `${name} ${v}`);
  }
  assert.ok(Math.abs(one(text, M.lastWindow, { camera: 'cam' }) - started) < 30, 'the last window ended just now');
  assert.ok(one(text, M.reviewFrames, { result: 'saved' }) >= 0);

  assert.ok(one(text, M.outboxMessages) >= 3, 'the summaries wait in the outbox');
  assert.ok(one(text, M.outboxOldestAge) >= 0);
  assert.equal(one(text, M.outboxDropped), 0);
  assert.equal(one(text, M.mqttConnected), 0);
  assert.ok(one(text, M.databaseBytes) > 4096);

  // The standard process and Node.js metrics, unprefixed; prom-client's three `_total` gauges dropped.
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_active_handles']) {
    assert.match(text, new RegExp(`^${name}[ {]`, 'm'), name);
  }
  assert.doesNotMatch(text, /^nodejs_active_(handles|requests|resources)_total/m);
  assert.doesNotMatch(text, /^driftline_agent_(process|nodejs)_/m);

  const lint = await promtoolCheckMetrics(text, release);
  assert.deepEqual(lint.out.split('\n').filter((l) => l.trim()), [], lint.out);
  assert.equal(lint.code, 0, 'promtool check metrics exits 0 on the unfiltered output');
});
