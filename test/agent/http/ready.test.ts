import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readiness } from '../../../agent/http/ready.js';

const mqtt = { connected: false, rows: 10, maxRows: 100, oldestAgeSeconds: 30 };

test('ready while the broker is reachable, or while the outbox holds a short backlog; not once it is old or full', () => {
  assert.deepEqual(readiness({ inferenceFailure: undefined, storeFailure: undefined, outboxSeconds: 300 }), {
    ready: true,
    reasons: [],
    checks: { model: { ok: true }, store: { ok: true }, mqtt: { ok: true, enabled: false } },
  });
  assert.equal(readiness({ inferenceFailure: undefined, storeFailure: undefined, mqtt: { ...mqtt, oldestAgeSeconds: 9999, connected: true }, outboxSeconds: 300 }).ready, true, 'connected: a backlog drains');
  assert.equal(readiness({ inferenceFailure: undefined, storeFailure: undefined, mqtt, outboxSeconds: 300 }).ready, true, 'a short outage is what the outbox is for');
  const late = readiness({ inferenceFailure: undefined, storeFailure: undefined, mqtt: { ...mqtt, oldestAgeSeconds: 301 }, outboxSeconds: 300 });
  assert.equal(late.ready, false);
  assert.deepEqual(late.reasons, ['the MQTT broker is unreachable and the oldest unsent message is 301 s old (over http.readyOutboxSeconds 300 s; 10 messages waiting)']);
  const full = readiness({ inferenceFailure: undefined, storeFailure: undefined, mqtt: { ...mqtt, rows: 100 }, outboxSeconds: 300 });
  assert.match(full.reasons[0]!, /outbox is full \(100 messages, mqtt\.outboxMaxRows 100\)/);
});

test('a dead inference thread or an unreadable store is a reason of its own', () => {
  const r = readiness({ inferenceFailure: 'inference worker exited with code 1', storeFailure: 'the database is closed', outboxSeconds: 300 });
  assert.equal(r.ready, false);
  assert.deepEqual(r.reasons, ['the model cannot run: inference worker exited with code 1', 'the store cannot be read: the database is closed']);
  assert.deepEqual([r.checks.model.ok, r.checks.store.ok], [false, false]);
});
