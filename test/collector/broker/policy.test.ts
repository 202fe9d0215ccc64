import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterWithin, publishRefusal, subscribeGrant, type Identity } from '../../../collector/broker/policy.js';

const dev: Identity = { role: 'device', username: 'u', site: 's1', device: 'd1' };
const collector: Identity = { role: 'collector', username: 'c' };
const viewer: Identity = { role: 'viewer', username: 'v' };
const siteViewer: Identity = { role: 'viewer', username: 'v', site: 's1' };

test('publish: a device only on its own contract topics, retaining only its status', () => {
  const allowed = (id: Identity, topic: string, retain = false): boolean => publishRefusal(id, topic, retain) === undefined;
  assert.ok(allowed(dev, 'driftline/v1/s1/d1/status', true));
  assert.ok(allowed(dev, 'driftline/v1/s1/d1/cam-0/summary'));
  assert.ok(allowed(dev, 'driftline/v1/s1/d1/cam-0/event'));
  assert.ok(!allowed(dev, 'driftline/v1/s1/d1/cam-0/summary', true), 'a retained summary');
  assert.ok(!allowed(dev, 'driftline/v1/s1/d2/status'), 'another device');
  assert.ok(!allowed(dev, 'driftline/v1/s2/d1/status'), 'another site');
  assert.ok(!allowed(dev, 'driftline/v1/alerts/s1/d1'), 'alerts');
  assert.ok(!allowed(dev, 'driftline/v1/s1/d1/cam-0/other'), 'off the contract');
  assert.ok(!allowed(dev, 'driftline/v1/s1/d1/a/b/summary'));
  assert.ok(!allowed(dev, '$SYS/x'));
  assert.ok(allowed(collector, 'driftline/v1/alerts/s1/d1'));
  assert.ok(!allowed(collector, 'driftline/v1/s1/d1/status'));
  assert.ok(!allowed(collector, 'driftline/v1/alerts/s1/d1/extra'));
  assert.ok(!allowed(viewer, 'driftline/v1/alerts/s1/d1'));
  assert.ok(allowed({ role: 'anonymous' }, 'anything/at/all', true));
  assert.ok(!allowed({ role: 'anonymous' }, '$SYS/broker'));
});

test('filterWithin: a filter is allowed only when everything it can match is inside the pattern', () => {
  const cases: [string, string, boolean][] = [
    ['driftline/v1/alerts/#', 'driftline/v1/alerts/#', true],
    ['driftline/v1/alerts/s1/+', 'driftline/v1/alerts/#', true],
    ['driftline/v1/alerts', 'driftline/v1/alerts/#', false],
    ['driftline/v1/+/#', 'driftline/v1/alerts/#', false],
    ['driftline/v1/+/+/status', 'driftline/v1/+/+/status', true],
    ['driftline/v1/s1/d1/status', 'driftline/v1/+/+/status', true],
    ['driftline/v1/+/+/#', 'driftline/v1/+/+/status', false],
    ['driftline/v1/+/+/+', 'driftline/v1/+/+/status', false],
    ['driftline/v1/+/+/status/x', 'driftline/v1/+/+/status', false],
    ['#', 'driftline/v1/alerts/#', false],
  ];
  for (const [f, p, want] of cases) assert.equal(filterWithin(f, p), want, `${f} within ${p}`);
});

test('subscribe: devices nothing, viewers alerts and statuses at QoS 0 (of their site), the collector anything', () => {
  assert.deepEqual(subscribeGrant(collector, '#', 1), { qos: 1 });
  assert.ok('refused' in subscribeGrant(dev, 'driftline/v1/s1/d1/status', 0));
  assert.deepEqual(subscribeGrant(viewer, 'driftline/v1/alerts/#', 1), { qos: 0 });
  assert.deepEqual(subscribeGrant(viewer, 'driftline/v1/+/+/status', 2), { qos: 0 });
  assert.ok('refused' in subscribeGrant(viewer, 'driftline/v1/+/+/+/summary', 0));
  assert.deepEqual(subscribeGrant(siteViewer, 'driftline/v1/alerts/s1/#', 1), { qos: 0 });
  assert.deepEqual(subscribeGrant(siteViewer, 'driftline/v1/s1/+/status', 1), { qos: 0 });
  assert.ok('refused' in subscribeGrant(siteViewer, 'driftline/v1/alerts/#', 0), 'all sites');
  assert.ok('refused' in subscribeGrant(siteViewer, 'driftline/v1/+/+/status', 0), 'all sites');
});
