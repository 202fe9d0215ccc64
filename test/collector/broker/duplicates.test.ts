/**
 * Issue 11, finding 6, the collector's side: two devices with one client id take over each other's
 * session. The embedded broker sees the same client id connect again and again from two addresses,
 * and the collector raises duplicateDevice; it resolves once the fight stops.
 */
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { test } from 'node:test';
import { MqttClient } from 'mqtt';
import { DuplicateWatch } from '../../../collector/broker/duplicates.js';
import { testCollector, uniqueName } from '../../helpers/collector.js';
import { releaser } from '../../helpers/ports.js';
import { until } from '../../helpers/wait.js';

test('the duplicate pattern: three connects of one id within a minute from two addresses; memory stays bounded', () => {
  const w = new DuplicateWatch({ maxIds: 100 });
  assert.equal(w.connected('a', '10.0.0.1', 0), undefined);
  assert.equal(w.connected('a', '10.0.0.1', 1000), undefined, 'one address reconnecting is a flaky link, not a clone');
  assert.equal(w.connected('a', '10.0.0.1', 2000), undefined);
  assert.deepEqual(w.connected('a', '10.0.0.2', 3000), { clientId: 'a', addresses: ['10.0.0.1', '10.0.0.2'], connects: 4 });
  assert.equal(w.connected('a', '10.0.0.2', 200_000), undefined, 'a minute later the window starts again');
  for (let i = 0; i < 1000; i++) w.connected(`id-${i}`, '10.0.0.9', 300_000);
  assert.equal((w as unknown as { connects: Map<string, unknown> }).connects.size, 100);
});

test('two clients with one id from two addresses: duplicateDevice fires, and resolves when one stops', { timeout: 60_000 }, async (t) => {
  const release = releaser(t);
  const c = await testCollector({ rules: { duplicateClearSeconds: 2 } });
  release('collector', () => c.stop());
  const port = Number(new URL(c.brokerUrl).port);
  const clientId = uniqueName('driftline-agent-plant-cloned');
  const clients = ['127.0.0.1', '127.0.0.2'].map((localAddress) => {
    const m = new MqttClient(() => createConnection({ host: '127.0.0.1', port, localAddress }), { clientId, reconnectPeriod: 200, keepalive: 30, protocolVersion: 4 });
    release(`client from ${localAddress}`, () => m.endAsync(true));
    return m;
  });
  await until(() => c.rules.firing.some((a) => a.rule === 'duplicateDevice'), 30_000, 'the duplicateDevice alert');
  const a = c.rules.firing.find((x) => x.rule === 'duplicateDevice')!;
  assert.equal(a.labels.alertname, 'DriftlineDuplicateDevice');
  assert.equal(a.severity, 'critical');
  assert.equal(a.labels.device, clientId);
  assert.deepEqual([...(a.evidence as { addresses: string[] }).addresses].sort(), ['127.0.0.1', '127.0.0.2']);
  assert.match(a.annotations.runbook_url!, /#duplicatedevice$/);
  await clients[1]!.endAsync(true);
  await until(() => !c.rules.firing.some((x) => x.rule === 'duplicateDevice'), 30_000, 'the alert to resolve once one client stopped');
});
