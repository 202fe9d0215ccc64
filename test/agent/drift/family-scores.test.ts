import assert from 'node:assert/strict';
import { test } from 'node:test';
import { onThresholdScale } from '../../../agent/drift/family-scores.js';

test('the threshold scale puts every score\'s warn threshold at 1 and its alert threshold at 2', () => {
  // PSI with warn 0.1 and alert 0.25.
  assert.equal(onThresholdScale(0, 0.1, 0.25), 0);
  assert.equal(onThresholdScale(0.05, 0.1, 0.25), 0.5);
  assert.equal(onThresholdScale(0.1, 0.1, 0.25), 1);
  assert.ok(Math.abs(onThresholdScale(0.175, 0.1, 0.25) - 1.5) < 1e-12);
  assert.ok(Math.abs(onThresholdScale(0.25, 0.1, 0.25) - 2) < 1e-12);
  assert.ok(Math.abs(onThresholdScale(0.4, 0.1, 0.25) - 3) < 1e-12, 'beyond alert, on with the slope between warn and alert');
  // A detector without an alert level stays under 2, however far past warn.
  assert.equal(onThresholdScale(15, 10, Number.POSITIVE_INFINITY), 1.5);
  assert.equal(onThresholdScale(1000, 10, Number.POSITIVE_INFINITY), 1.99);
});
