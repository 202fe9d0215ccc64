import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionSpec, DEFAULT_CONDITIONS, parseConditionValue, sampleConditions } from '../../../agent/synth/conditions.js';
import { Rng } from '../../../agent/synth/rng.js';
import { isDriftlineError } from '../../../lib/errors.js';

test('defaults are production-like: 2% defects, nothing held out, neutral light', () => {
  assert.equal(DEFAULT_CONDITIONS.defectRate, 0.02);
  assert.equal(DEFAULT_CONDITIONS.heldOutRate, 0);
  assert.equal(DEFAULT_CONDITIONS.stainRate, 0);
  assert.equal(DEFAULT_CONDITIONS.gain, 1);
  assert.equal(DEFAULT_CONDITIONS.colourTempK, 5500);
  assert.ok(Object.isFrozen(DEFAULT_CONDITIONS));
});

test('values and ranges parse; ranges are sampled inside their bounds', () => {
  assert.equal(parseConditionValue('gain', '0.6'), 0.6);
  assert.deepEqual(parseConditionValue('gain', '0.8:1.2'), [0.8, 1.2]);
  const spec = conditionSpec({ gain: [0.8, 1.2], jpegQuality: [70, 90] });
  const rng = new Rng(1);
  for (let i = 0; i < 200; i++) {
    const c = sampleConditions(spec, () => rng.next());
    assert.ok(c.gain >= 0.8 && c.gain <= 1.2);
    assert.ok(Number.isInteger(c.jpegQuality) && c.jpegQuality >= 70 && c.jpegQuality <= 90);
    assert.equal(c.defectRate, 0.02);
  }
});

test('bad values name the key, the value and what was expected', () => {
  const cases: [string, string, RegExp][] = [
    ['gain', 'bright', /conditions\.gain: got "?bright"?, expected a number in \[0, 4\]/],
    ['gain', '5', /conditions\.gain/],
    ['gain', '1.2:0.8', /lo <= hi/],
    ['gain', '1:2:3', /a number or a range/],
    ['defectRate', '1.5', /conditions\.defectRate.*\[0, 1\]/],
    ['brightness', '1', /conditions\.brightness.*one of gain/],
  ];
  for (const [k, v, re] of cases) {
    assert.throws(() => parseConditionValue(k, v), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && re.test(e.message), `${k}=${v}`);
  }
  assert.throws(() => conditionSpec({ nope: 1 }), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /conditions\.nope/.test(e.message));
  assert.throws(() => conditionSpec({ occlusion: [0, 0.95] }), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG'));
});
