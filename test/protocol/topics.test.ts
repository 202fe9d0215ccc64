import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { alertTopic, collectorFilters, eventTopic, parseTopic, SEGMENT_PATTERN, statusTopic, summaryTopic } from '../../protocol/topics.js';

test('topics: built and parsed back; anything else is not a device topic', () => {
  assert.equal(summaryTopic('plant-1', 'edge.3', 'cam_2'), 'driftline/v1/plant-1/edge.3/cam_2/summary');
  assert.deepEqual(parseTopic(summaryTopic('p', 'd', 'c')), { kind: 'summary', site: 'p', device: 'd', camera: 'c' });
  assert.deepEqual(parseTopic(eventTopic('p', 'd', 'c')), { kind: 'event', site: 'p', device: 'd', camera: 'c' });
  assert.deepEqual(parseTopic(statusTopic('p', 'd')), { kind: 'status', site: 'p', device: 'd' });
  for (const bad of ['driftline/v2/p/d/c/summary', 'driftline/v1/p/d/c/other', 'driftline/v1/p/d/summary', alertTopic('p', 'd'), 'driftline/v1/p/$d/c/summary', 'driftline/v1/p//c/summary', 'x']) {
    assert.equal(parseTopic(bad), undefined, bad);
  }
  assert.deepEqual(collectorFilters('g'), ['$share/g/driftline/v1/+/+/status', '$share/g/driftline/v1/+/+/+/summary', '$share/g/driftline/v1/+/+/+/event']);
  assert.deepEqual(collectorFilters(), ['driftline/v1/+/+/status', 'driftline/v1/+/+/+/summary', 'driftline/v1/+/+/+/event']);
});

test('the broker credentials script checks names with the same segment pattern as the protocol', () => {
  const script = readFileSync(new URL('../../deploy/mosquitto/credentials.sh', import.meta.url), 'utf8');
  assert.equal(/^SEGMENT_RE='([^']*)'$/m.exec(script)?.[1], SEGMENT_PATTERN);
});
