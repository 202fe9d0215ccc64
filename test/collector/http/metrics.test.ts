/**
 * The collector's /metrics against what it ingested: windows published over MQTT to a real
 * collector (its embedded broker) show up as each camera's verdict, leading driver family and
 * last-window age, and the alerts they raise as alert-state gauges.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import { COLLECTOR_METRICS as M } from '../../../collector/http/metric-names.js';
import { VERDICT_VALUES } from '../../../protocol/levels.js';
import { SCHEMAS, type SummaryMessage } from '../../../protocol/messages.js';
import { statusTopic, summaryTopic } from '../../../protocol/topics.js';
import { ROOT } from '../../helpers/cli.js';
import { SHA, summaryMsg, testCollector, uniqueName, untilSubscribed } from '../../helpers/collector.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** The samples of the Prometheus text format (no escapes in our label values). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const SITE = 'plant-m';

test('/metrics: per-camera verdict, leading driver family and last-window age from the windows ingested; alert states', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const c = await testCollector({ rules: { driftForSeconds: 0, driftMinSeverity: 'alert' } });
  release('collector', () => c.stop());
  const device = uniqueName('metrics-dev');
  const mq = await connectAsync(c.brokerUrl, { clientId: uniqueName('metrics-test-device') });
  release('device client', () => mq.endAsync());
  await untilSubscribed(c);
  const cameras = ['c-ok', 'c-light', 'c-model', 'c-few', 'c-none'];
  const birth = { schema: SCHEMAS.status, site: SITE, device, state: 'online', ts: Date.now(), agent: { version: '0.1.0' }, model: { name: 'm.onnx', sha256: SHA }, provider: 'cpu', providers: ['cpu'], cameras, windowSeconds: 60 };
  await mq.publishAsync(statusTopic(SITE, device), JSON.stringify(birth), { qos: 1, retain: false });
  const now = Date.now();
  const publish = async (camera: string, seq: number, endAgoMs: number, o: Partial<SummaryMessage>): Promise<void> => {
    const m = summaryMsg(SITE, device, camera, seq, { start: now - endAgoMs - 60_000, end: now - endAgoMs, ...o });
    await mq.publishAsync(summaryTopic(SITE, device, camera), JSON.stringify(m), { qos: 1 });
  };
  const fading = summaryMsg(SITE, device, 'c-light', 1).features;
  fading.brightness = { mean: 47, std: 5, min: 37, max: 57, z: -20.6, ref: 80 };
  await publish('c-ok', 1, 120_000, { status: 'ok' });
  await publish('c-light', 1, 60_000, { status: 'alert', features: fading, drivers: [{ key: 'psi:brightness', value: 3.2, warn: 0.1, alert: 0.25, level: 'alert' }] });
  await publish('c-model', 1, 60_000, { status: 'warn', drivers: [{ key: 'cusum:classMix', value: 18.4, warn: 10, alert: null, level: 'warn' }] });
  await publish('c-few', 1, 60_000, { status: 'insufficient', insufficient: 'frames', frames: 3 });
  await publish('c-none', 1, 60_000, { status: 'unscored' });
  await until(() => c.store.cameras().filter((x) => x.device === device).length === cameras.length, 10_000, 'five cameras stored');
  await until(() => c.rules.firing.some((a) => a.rule === 'drift' && a.labels.device === device), 10_000, 'the drift alert');

  const scrape = async (): Promise<Sample[]> => {
    const r = await fetch(`${c.httpUrl}/metrics`);
    assert.equal(r.status, 200);
    return parse(await r.text());
  };
  const of = (samples: Sample[], name: string): Map<string, Sample> =>
    new Map(samples.filter((s) => s.name === name && s.labels.device === device).map((s) => [s.labels.camera!, s]));

  let samples = await scrape();
  const verdicts = of(samples, M.cameraVerdict);
  assert.deepEqual(
    cameras.map((cam) => verdicts.get(cam)?.value),
    [VERDICT_VALUES.ok, VERDICT_VALUES.alert, VERDICT_VALUES.warn, VERDICT_VALUES.insufficient, VERDICT_VALUES.unscored],
  );
  assert.deepEqual([0, 2, 1, -1, -2], cameras.map((cam) => verdicts.get(cam)?.value), 'the documented values');
  assert.deepEqual(verdicts.get('c-ok')!.labels, { site: SITE, device, camera: 'c-ok' });
  const drivers = of(samples, M.cameraDriver);
  assert.deepEqual(
    [...drivers.values()].map((s) => [s.labels.camera, s.labels.family, s.value]).sort(),
    [['c-light', 'illumination', 1], ['c-model', 'model', 1]],
    'one series per drifting camera, for its leading family; none for ok, insufficient or unscored windows',
  );
  const ages = of(samples, M.cameraLastWindowAge);
  const elapsed = (Date.now() - now) / 1000;
  assert.ok(Math.abs(ages.get('c-ok')!.value - 120 - elapsed) < 2, `c-ok age ${ages.get('c-ok')!.value}`);
  assert.ok(Math.abs(ages.get('c-light')!.value - 60 - elapsed) < 2, `c-light age ${ages.get('c-light')!.value}`);

  // Alert states: the drift alert on c-light (c-model's warn is under driftMinSeverity) firing, then acknowledged.
  const alertStates = (s: Sample[]): Record<string, number> => Object.fromEntries(s.filter((x) => x.name === M.alerts).map((x) => [x.labels.state!, x.value]));
  const firing = c.rules.firing.length;
  assert.deepEqual(alertStates(samples), { firing, acknowledged: 0 });
  const drift = c.rules.firing.find((a) => a.rule === 'drift' && a.labels.device === device)!;
  assert.equal(drift.labels.camera, 'c-light');
  c.rules.acknowledge(drift.id, 'ana', 'on it', Date.now());

  // The light comes back: c-light's next window is ok, so its driver series goes and its age restarts.
  await publish('c-light', 2, 5_000, { status: 'ok' });
  await until(() => c.store.cameras().some((x) => x.device === device && x.camera === 'c-light' && x.lastSeq === 2), 10_000, 'the second window');
  samples = await scrape();
  assert.equal(of(samples, M.cameraVerdict).get('c-light')!.value, VERDICT_VALUES.ok);
  assert.deepEqual([...of(samples, M.cameraDriver).keys()], ['c-model']);
  // Its age restarts: 5 s before `now`, plus however long the test has run since (a busy machine can take seconds).
  const light = of(samples, M.cameraLastWindowAge).get('c-light')!.value;
  assert.ok(Math.abs(light - 5 - (Date.now() - now) / 1000) < 2, `c-light age after its second window ${light}`);
  assert.deepEqual(alertStates(samples), { firing: c.rules.firing.length - 1, acknowledged: 1 }, 'an ok window alone does not clear the alert; it is acknowledged');
});

test('docs/metrics.md has a row for every collector metric', async () => {
  const doc = await readFile(`${ROOT}docs/metrics.md`, 'utf8');
  for (const name of Object.values(M)) assert.match(doc, new RegExp(`^\\| \`${name}\` \\|`, 'm'), name);
});
