/**
 * The whole path: the real agent with two synthetic cameras (one whose light fades, then comes
 * back) -> the machine's Mosquitto -> the collector -> a real Alertmanager (Debian's
 * prometheus-alertmanager, started here). The drift alert appears in Alertmanager for the fading
 * camera only, with its labels and evidence, and resolves there when the light is back.
 *
 * Every duration below derives from the window length, and the window length from the frames a
 * window needs: a window with fewer than `drift.minFrames` frames is `insufficient` (it neither
 * raises nor clears drift), and a live source's frames are dropped when the pipeline falls behind,
 * so a window holds twice the frames it needs at the source's rate.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentConfig } from '../../agent/config.js';
import { startAgent } from '../../agent/main.js';
import { silentLogger } from '../../lib/log.js';
import { TestAlertmanager, type AmAlert } from '../helpers/alertmanager.js';
import { testCollector, uniqueName, untilSubscribed } from '../helpers/collector.js';
import { clearRetainedStatus, MACHINE_BROKER } from '../helpers/mosquitto.js';
import { releaser } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

const FPS = 16;
const MIN_FRAMES = 30;
/** Seconds per window: 2 x MIN_FRAMES frames at FPS (4 s, 64 frames). */
const W = Math.ceil((2 * MIN_FRAMES) / FPS);
/** CUSUM evidence to signal; a sequential alarm clears within CUSUM_H / k (k = 0.5) windows of the light coming back. */
const CUSUM_H = 5;
const CLEAR_WINDOWS = CUSUM_H / 0.5;
const RESEND_S = 2;
/** Model load, first connection: before the first window can close. */
const STARTUP_MS = 30_000;
const windows = (n: number): number => n * W * 1000;

test('drift alert reaches Alertmanager for the drifting camera only, and resolves there', { timeout: STARTUP_MS + windows(40) }, async (t) => {
  const release = releaser(t);
  const am = await TestAlertmanager.start();
  release('alertmanager', () => am.stop());
  const collector = await testCollector({
    broker: { url: MACHINE_BROKER },
    // Drift fires on two windows at warn or worse and clears on two ok ones (one window spans a little under W).
    rules: { driftForSeconds: 1.5 * W, driftClearSeconds: 1.5 * W },
    notify: { alertmanagerUrl: am.url, resendSeconds: RESEND_S },
  });
  release('collector', () => collector.stop());
  await untilSubscribed(collector);
  const site = uniqueName('site');
  const device = uniqueName('edge');
  release('retained status', () => clearRetainedStatus(site, device)); // released after the agent, whose clean stop retains offline
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  const cam = (name: string, seed: number, schedule: object[]): object => ({ name, source: { kind: 'synthetic', width: 320, height: 240, fps: FPS, seed, schedule } });
  const { config } = agentConfig(
    {
      model: { providers: ['cpu'] },
      store: { path: join(dir, 'agent.db') },
      telemetry: { windowSeconds: W },
      drift: { cusumH: CUSUM_H, minFrames: MIN_FRAMES },
      mqtt: { url: MACHINE_BROKER, site, device },
      http: { port: 0 },
      cameras: [
        cam('stable', 3, []),
        // Two windows of nominal light, a fall to half over one window, four windows dim, then back.
        cam('drifting', 4, [
          { at: 0, gain: 1 },
          { at: 2 * W, gain: 1 },
          { at: 3 * W, gain: 0.5 },
          { at: 6 * W, gain: 0.5 },
          { at: 6.5 * W, gain: 1 },
        ]),
      ],
    },
    {},
  );
  const agent = await startAgent(config, silentLogger);
  release('agent', () => agent.stop());
  const ours = (alerts: AmAlert[]): AmAlert[] => alerts.filter((a) => a.labels.site === site);
  const drift = (alerts: AmAlert[]): AmAlert[] => ours(alerts).filter((a) => a.labels.alertname === 'DriftlineDrift');

  // The dim light starts at window 2 and is full by window 3; two bad windows fire.
  await until(() => collector.rules.firing.some((a) => a.rule === 'drift' && a.labels.site === site), STARTUP_MS + windows(8), 'the drift alert at the collector');
  const fired = drift(await am.until((as) => drift(as).length > 0, 5 * RESEND_S * 1000, 'the drift alert'));
  assert.equal(fired.length, 1, 'one drift alert in Alertmanager');
  const a = fired[0]!;
  assert.equal(a.labels.camera, 'drifting');
  assert.equal(a.labels.device, device);
  assert.match(a.labels.model!, /^line-detector\.onnx@[0-9a-f]{12}$/);
  assert.equal(a.labels.feature, 'illumination', 'the family that moved is the label: a dimmer light is illumination');
  assert.match(a.annotations.summary!, /: illumination: brightness \u2212\d+% \(z = \u2212/, `the headline leads with the brightness change: ${a.annotations.summary}`);
  assert.ok(['warning', 'critical'].includes(a.labels.severity!));
  assert.equal(a.annotations.runbook_url, `${collector.httpUrl}/runbook#drift`, "an absolute link to the collector's runbook page");
  assert.match(a.annotations.cause!, /^(input-drift|camera-fault): /, `a lighting change is classified as input drift or a camera fault: ${a.annotations.cause}`);
  assert.equal(a.status.state, 'active');
  assert.ok(a.generatorURL.startsWith(`${collector.httpUrl}/alerts/`), a.generatorURL);
  const page = await fetch(a.generatorURL);
  assert.equal(page.status, 200, 'the Source link opens the alert page');
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  const detail = (await (await fetch(a.generatorURL.replace('/alerts/', '/api/v1/alerts/'))).json()) as { evidence: { drivers: unknown[]; cause: { class: string } } };
  assert.ok(detail.evidence.drivers.length > 0, 'the link leads to the evidence: scores against thresholds');

  // The light is back by window 6.5; the sequential alarm clears within CLEAR_WINDOWS, then two ok windows.
  await until(() => !collector.rules.firing.some((x) => x.rule === 'drift' && x.labels.site === site), windows(6.5 + CLEAR_WINDOWS + 4), 'the drift alert to resolve at the collector');
  await am.until((as) => !drift(as).some((x) => x.status.state === 'active'), 5 * RESEND_S * 1000, 'the drift alert to be resolved (endsAt sent)');
  assert.deepEqual(ours(await am.alerts()).filter((x) => x.labels.camera === 'stable'), [], 'no alert for the stable camera');
  const history = collector.store.alerts({ limit: 100 }).filter((x) => x.labels.site === site && x.rule === 'drift');
  assert.deepEqual(history.map((x) => [x.labels.camera, x.state]), [['drifting', 'resolved']]);
});
