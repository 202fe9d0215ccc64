import assert from 'node:assert/strict';
import { test } from 'node:test';
import { onThresholdScale as agentScale } from '../../agent/drift/family-scores.js';
import { onThresholdScale, THRESHOLD_LEVELS, windowLevel } from '../../protocol/levels.js';

test('one scale for agent and collector: warn at 1, alert at 2', () => {
  assert.equal(agentScale, onThresholdScale, 'one copy, shared');
  assert.deepEqual(THRESHOLD_LEVELS, { warn: 1, alert: 2 });
});

test("a window's level: its largest family score, or its drivers on the scale; none when not judged", () => {
  const driver = (value: number, warn: number | null, alert: number | null) => ({ key: 'psi:brightness', value, warn, alert, level: 'warn' as const });
  assert.equal(windowLevel({ status: 'ok', familyScores: { illumination: 0.3, focus: 0.6 } }), 0.6);
  assert.equal(windowLevel({ status: 'ok' }), undefined, 'an ok window from an older agent says nothing about how far below warn');
  const near = (a: number | undefined, b: number, why: string) => assert.ok(a !== undefined && Math.abs(a - b) < 1e-9, `${why}: ${a} vs ${b}`);
  near(windowLevel({ status: 'alert', drivers: [driver(0.4, 0.1, 0.25)] }), 3, 'from the drivers when no family scores came');
  near(windowLevel({ status: 'warn', familyScores: { model: 1.2 }, drivers: [driver(0.175, 0.1, 0.25)] }), 1.5, 'the larger of both');
  assert.equal(windowLevel({ status: 'warn', drivers: [driver(40, 5, null)] }), 1.99, 'a sequential detector (no alert level) stays below 2');
  assert.equal(windowLevel({ status: 'warn', drivers: [driver(1, null, null)] }), undefined, 'no threshold, no place');
  assert.equal(windowLevel({ status: 'insufficient', familyScores: { model: 1 } }), undefined);
  assert.equal(windowLevel({ status: 'unscored' }), undefined);
});
