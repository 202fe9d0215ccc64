/**
 * The agent's HTTP listener on a live agent: the shipped model, a synthetic camera, a real store.
 * /healthz fails when inference really hangs: the inference worker thread is frozen from outside,
 * as a debugger freezes it (the inspector's Debugger.pause, the thread-level SIGSTOP), so its
 * session never answers; thawed, the agent recovers. /readyz is ready on a healthy agent and not
 * once the broker is unreachable and the outbox too old. Review frames are served for real.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentConfig } from '../../../agent/config.js';
import { startAgent } from '../../../agent/main.js';
import { isDriftlineError } from '../../../lib/errors.js';
import { silentLogger } from '../../../lib/log.js';
import { liveAgent } from '../../helpers/agent.js';
import { freezeWorkers } from '../../helpers/inspector.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

interface Body {
  ok?: boolean;
  ready?: boolean;
  message?: string;
  reasons?: string[];
  wedged?: { camera: string; waitingSeconds: number; lastFrameSecondsAgo?: number }[];
  checks?: { model: { ok: boolean }; store: { ok: boolean }; mqtt: { ok: boolean; enabled: boolean; connected?: boolean; outboxMessages?: number } };
}

async function get(url: string): Promise<{ status: number; body: Body }> {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as Body };
}

/** Runs `step` every 100 ms until `cond` holds (the poll itself is async, unlike helpers/wait's until). */
async function polled(step: () => Promise<void>, cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    await step();
    if (cond()) return;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Freezes every inference worker thread of this process with the inspector: the thread stops at its
 * next JavaScript statement (its next `run` message) and answers nothing until thawed.
 */
async function freezeInferenceWorkers(): Promise<{ thaw: () => Promise<void> }> {
  const session = new Session();
  session.connect();
  const frozen = await freezeWorkers(
    {
      post: (method, params) => session.post(method, params),
      on: (event, listener) => void session.on(event, (m: { params: Record<string, unknown> }) => listener(m.params)),
    },
    /inference-worker/,
  );
  return {
    thaw: async () => {
      await frozen.thaw();
      session.disconnect();
    },
  };
}

test('/healthz goes unhealthy, naming the camera, when inference hangs; healthy again once it runs', { timeout: 90_000 }, async (t) => {
  const release = releaser(t);
  const { agent, url } = await liveAgent(release, { http: { wedgedSeconds: 2 } });
  assert.equal(agent.inferenceThread, 'worker');
  await until(() => agent.pipeline.counters[0]!.processed > 5, 30_000, 'frames through the pipeline');
  assert.deepEqual(await get(`${url}/healthz`), { status: 200, body: { ok: true } });

  const frozen = await freezeInferenceWorkers();
  const thaw = release('inference worker (thawed)', () => frozen.thaw());
  let last: { status: number; body: Body } | undefined;
  const poller = async (): Promise<void> => {
    last = await get(`${url}/healthz`);
  };
  await polled(poller, () => last?.status === 503, 30_000, '/healthz to fail');
  const body = last!.body;
  assert.equal(body.ok, false);
  assert.equal(body.wedged?.[0]?.camera, 'cam');
  assert.ok(body.wedged![0]!.waitingSeconds >= 2, `waited ${body.wedged![0]!.waitingSeconds} s: only past the 2 s bound (shown to 0.1 s)`);
  assert.match(body.message!, /^pipeline wedged: camera cam has had a frame waiting for [\d.]+ s .*bound 2 s$/);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /^driftline_agent_pipeline_wedged\{camera="cam"\} 1$/m, '/metrics says the same');
  assert.equal((await get(`${url}/readyz`)).status, 200, 'liveness is not readiness: the model, store and outbox are fine');

  await thaw();
  const processed = agent.pipeline.counters[0]!.processed;
  await polled(poller, () => last?.status === 200 && agent.pipeline.counters[0]!.processed > processed, 30_000, '/healthz to recover');
});

test('/readyz: ready on a live agent; not ready once the broker is unreachable and the oldest unsent message too old', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const ok = await liveAgent(release);
  await until(() => ok.agent.pipeline.counters[0]!.processed > 0, 30_000, 'a processed frame');
  const ready = await get(`${ok.url}/readyz`);
  assert.deepEqual(ready, { status: 200, body: { ready: true, checks: { model: { ok: true }, store: { ok: true }, mqtt: { ok: true, enabled: false } } } });

  // Nothing listens on this port: every window's summary stays in the outbox.
  const dead = await liveAgent(release, { mqtt: { url: 'mqtt://127.0.0.1:1', reconnectMinMs: 200 }, http: { readyOutboxSeconds: 0 } });
  let last: { status: number; body: Body } | undefined;
  await polled(async () => void (last = await get(`${dead.url}/readyz`)), () => last?.status === 503, 30_000, '/readyz to fail');
  const b = last!.body;
  assert.equal(b.ready, false);
  assert.match(b.reasons![0]!, /^the MQTT broker is unreachable and the oldest unsent message is \d+ s old \(over http\.readyOutboxSeconds 0 s; \d+ messages waiting\)$/);
  assert.equal(b.checks!.mqtt.connected, false);
  assert.ok(b.checks!.mqtt.outboxMessages! >= 1);
  assert.deepEqual([b.checks!.model.ok, b.checks!.store.ok], [true, true]);
  assert.equal((await get(`${dead.url}/healthz`)).status, 200, 'an unreachable broker is not a wedged pipeline');
});

test('review frames from a live agent: listed, and each one a JPEG', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const { agent, url } = await liveAgent(release);
  let rows: { file: string; image: string; camera: string }[] = [];
  await polled(async () => void (rows = (await (await fetch(`${url}/review`)).json()) as typeof rows), () => rows.length > 0, 30_000, 'a saved review frame');
  assert.equal(rows[0]!.camera, 'cam');
  const jpeg = await fetch(`${url}${rows[0]!.image}`);
  assert.equal(jpeg.status, 200);
  assert.equal(jpeg.headers.get('content-type'), 'image/jpeg');
  assert.deepEqual([...new Uint8Array(await jpeg.arrayBuffer()).subarray(0, 3)], [0xff, 0xd8, 0xff]);
  assert.ok(agent.review, 'review frames are on by default');
  const missing = await fetch(`${url}/nope`);
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as Body).message!, /serves \/healthz, \/readyz, \/metrics and \/review/);
});

test('a port already taken stops the start with DRIFTLINE_ERR_LISTEN naming http.port, and leaves nothing behind', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  release('port holder', () => new Promise<void>((resolve) => holder.close(() => resolve())));
  const port = (holder.address() as { port: number }).port;
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-http-'));
  const raw = { model: { providers: ['cpu'] }, store: { path: join(dir, 'state', 'agent.db') }, http: { port }, cameras: [{ name: 'cam', source: { kind: 'synthetic', width: 160, height: 120 } }] };
  await assert.rejects(
    startAgent(agentConfig(raw, {}).config, silentLogger),
    (e: unknown) =>
      isDriftlineError(e, 'DRIFTLINE_ERR_LISTEN') &&
      e.message === `cannot open the agent's HTTP listener (/healthz, /readyz, /metrics) on 127.0.0.1:${port} (EADDRINUSE): another process (another agent?) holds it: choose another port with http.port (DRIFTLINE_HTTP__PORT), or stop what holds it`,
  );
  assert.deepEqual(await readdir(dir), [], 'the store, its folder and the review folder are removed');
});
