/**
 * The whole path: the real agent with two synthetic cameras (one whose light fades, then comes
 * back) -> the machine's Mosquitto -> the collector -> a real Alertmanager (Debian's
 * prometheus-alertmanager, started here). The drift alert appears in Alertmanager for the fading
 * camera only, with its labels and evidence, and resolves there when the light is back.
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
import { testCollector, uniqueName } from '../helpers/collector.js';
import { clearRetainedStatus, MACHINE_BROKER } from '../helpers/mosquitto.js';
import { sleep, until } from '../helpers/wait.js';

test('drift alert reaches Alertmanager for the drifting camera only, and resolves there', { timeout: 150_000 }, async (t) => {
  const am = await TestAlertmanager.start();
  t.after(() => am.stop());
  const collector = await testCollector({
    broker: { url: MACHINE_BROKER },
    rules: { driftForSeconds: 2, driftClearSeconds: 3 },
    notify: { alertmanagerUrl: am.url, resendSeconds: 2 },
  });
  t.after(() => collector.stop());
  const site = uniqueName('site');
  const dir = await mkdtemp(join(tmpdir(), 'driftline-agent-'));
  const cam = (name: string, seed: number, schedule: object[]): object => ({ name, source: { kind: 'synthetic', width: 320, height: 240, fps: 16, seed, schedule } });
  const { config } = agentConfig(
    {
      model: { providers: ['cpu'] },
      store: { path: join(dir, 'agent.db') },
      telemetry: { windowSeconds: 2 },
      drift: { cusumH: 5 }, // a sequential alarm clears within h / k = 10 windows of the light coming back
      mqtt: { url: MACHINE_BROKER, site, device: 'edge' },
      cameras: [
        cam('stable', 3, []),
        cam('drifting', 4, [
          { at: 0, gain: 1 },
          { at: 4, gain: 1 },
          { at: 6, gain: 0.5 },
          { at: 16, gain: 0.5 },
          { at: 17, gain: 1 },
        ]),
      ],
    },
    {},
  );
  const agent = await startAgent(config, silentLogger);
  t.after(() => agent.stop());
  t.after(() => clearRetainedStatus(site, 'edge')); // after the agent's clean stop re-retains offline
  const ours = async (): Promise<AmAlert[]> => (await am.alerts()).filter((a) => a.labels.site === site);

  let fired: AmAlert[] = [];
  await until(() => collector.rules.firing.some((a) => a.rule === 'drift'), 60_000, 'the drift alert at the collector');
  for (let i = 0; i < 50 && !fired.length; i++) {
    fired = (await ours()).filter((a) => a.labels.alertname === 'DriftlineDrift');
    if (!fired.length) await sleep(200);
  }
  assert.equal(fired.length, 1, 'one drift alert in Alertmanager');
  const a = fired[0]!;
  assert.equal(a.labels.camera, 'drifting');
  assert.equal(a.labels.device, 'edge');
  assert.match(a.labels.model!, /^line-detector\.onnx@[0-9a-f]{12}$/);
  assert.ok(a.labels.feature, 'the feature that moved most is a label');
  assert.ok(['warning', 'critical'].includes(a.labels.severity!));
  assert.match(a.annotations.runbook_url!, /runbook\.md#drift$/);
  assert.match(a.annotations.cause!, /^(input-drift|camera-fault): /, `a lighting change is classified as input drift or a camera fault: ${a.annotations.cause}`);
  assert.equal(a.status.state, 'active');
  assert.ok(a.generatorURL.startsWith(`${collector.httpUrl}/api/v1/alerts/`), a.generatorURL);
  const detail = (await (await fetch(a.generatorURL)).json()) as { evidence: { drivers: unknown[]; cause: { class: string } } };
  assert.ok(detail.evidence.drivers.length > 0, 'the link leads to the evidence: scores against thresholds');

  await until(() => !collector.rules.firing.some((x) => x.rule === 'drift'), 60_000, 'the drift alert to resolve at the collector');
  let active = true;
  for (let i = 0; i < 50 && active; i++) {
    active = (await ours()).some((x) => x.labels.alertname === 'DriftlineDrift' && x.status.state === 'active');
    if (active) await sleep(200);
  }
  assert.equal(active, false, 'resolved in Alertmanager (endsAt sent)');
  assert.ok(!(await ours()).some((x) => x.labels.camera === 'stable'), 'no alert for the stable camera');
  const history = collector.store.alerts({ limit: 100 }).filter((x) => x.labels.site === site && x.rule === 'drift');
  assert.deepEqual(history.map((x) => [x.labels.camera, x.state]), [['drifting', 'resolved']]);
});
