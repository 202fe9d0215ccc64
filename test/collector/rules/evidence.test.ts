import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify, evidenceOf, headline, leadDriver, leadFamily, rankDrivers } from '../../../collector/rules/evidence.js';
import { PROFILE_FEATURES } from '../../../agent/drift/profile-schema.js';
import { FEATURE_FAMILIES, familyOf } from '../../../protocol/families.js';
import { FAMILY_NAMES } from '../../../protocol/features.js';
import type { FeatureStats, SummaryMessage } from '../../../protocol/messages.js';
import { summaryMsg } from '../../helpers/collector.js';

const with_ = (features: Record<string, Partial<FeatureStats>>, o: Partial<SummaryMessage> = {}): SummaryMessage => {
  const m = summaryMsg('s', 'd', 'c', 1, o);
  for (const [k, f] of Object.entries(features)) m.features[k] = { ...m.features[k]!, ...f };
  return m;
};
const d = (key: string, value: number) => ({ key, value, warn: 0.1, alert: 0.2, level: 'alert' as const });

test('cause: camera faults send a technician', () => {
  const frozen = with_({ brightness: { min: 120, max: 120, mean: 120 }, contrast: { min: 0.2, max: 0.2, mean: 0.2 }, entropy: { min: 6, max: 6, mean: 6 }, sharpness: { min: 300, max: 300, mean: 300 } });
  assert.deepEqual([classify(frozen).class, classify(frozen).fault], ['camera-fault', 'frozen']);
  assert.match(classify(frozen).action, /technician/);
  assert.equal(classify(with_({ brightness: { mean: 12, z: -9 } })).fault, 'dark');
  assert.equal(classify(with_({ overExposed: { mean: 0.7 } })).fault, 'overexposed');
  assert.equal(classify(with_({ sharpness: { mean: 20, z: -6 } })).fault, 'defocused');
  assert.equal(classify(with_({ meanBoxArea: { mean: 0.2, z: 8 } })).fault, 'moved');
});

test('cause: input drift and model uncertainty go to data science', () => {
  const dim = with_({ brightness: { mean: 70, z: -6 }, sharpness: { mean: 150, z: -4 } }, { drivers: [d('psi:brightness', 0.9), d('rate:uncertain', 0.3)] });
  const c = classify(dim);
  assert.equal(c.class, 'input-drift', 'a light change is not a defocused lens: brightness moved too');
  assert.match(c.reason, /psi:brightness 0.900/);
  assert.equal(leadDriver(dim, c)!.key, 'psi:brightness', 'the alert is labelled with the input feature');
  const unsure = with_({}, { drivers: [d('rate:uncertain', 0.4), d('js:classMix', 0.3)], sequential: { topScore: { statistic: 12, alarm: true } } });
  const u = classify(unsure);
  assert.equal(u.class, 'model-uncertainty');
  assert.match(u.reason, /sustained shift in topScore/);
  assert.match(u.action, /label the review frames/);
  assert.equal(classify(with_({})).class, 'unknown');
  // Detections unlike their class's reference: a new kind of part, said in those words, whatever else moved in the model's output.
  const novel = classify(with_({}, { drivers: [d('js:classMix', 0.3), d('rate:oodDetection', 0.62)] }));
  assert.equal(novel.class, 'model-uncertainty');
  assert.match(novel.reason, /^62% of frames hold a detection unlike its class's reference/);
  assert.match(novel.action, /reason oodDetection/);
  assert.equal(familyOf('rate:oodDetection'), 'model');
});

test('evidence: drivers ranked against their thresholds, biggest shifts, review links', () => {
  const m = with_({ brightness: { mean: 80, z: -5 } }, {
    drivers: [d('psi:contrast', 0.25), d('psi:brightness', 0.8), { key: 'cusum:uncertain', value: 30, warn: 10, alert: null, level: 'warn' }],
    review: [{ file: 'c/2026/a.jpg', ts: 1, reason: 'ood' }],
  });
  assert.deepEqual(rankDrivers(m.drivers).map((x) => x.key), ['psi:brightness', 'cusum:uncertain', 'psi:contrast']);
  const e = evidenceOf(m, 'http://edge-7:9100/review/');
  assert.deepEqual(e.reviewFrames, ['http://edge-7:9100/review/c/2026/a.jpg']);
  assert.deepEqual(evidenceOf(m, undefined).reviewFrames, ['d:c/2026/a.jpg'], 'without a URL: where it lies on the device');
  assert.equal(e.shifts[0]!.feature, 'brightness');
  assert.equal(e.window.seq, 1);
});

test('families: every feature of the profile is in exactly one family; score keys go by their feature', () => {
  const listed = FAMILY_NAMES.flatMap((f) => FEATURE_FAMILIES[f] as readonly string[]);
  for (const f of PROFILE_FEATURES) assert.equal(listed.filter((x) => x === f).length, 1, f);
  assert.deepEqual(['psi:brightness', 'w1:meanB', 'ks:colourTemp', 'js:entropy', 'psi:meanBoxArea', 'js:conf.scratch', 'cusum:classMix', 'rate:uncertain'].map(familyOf), ['illumination', 'illumination', 'colour', 'focus', 'geometry', 'model', 'model', 'model']);
});

test('headline: the family that moved most, led by its most telling feature, with the change in its own units and in SDs', () => {
  // A light fading: meanB moved most in SDs, brightness nearly as much; PSI ranks entropy first
  // (it saturates for any disjoint support), which is not what an engineer would name.
  const fade = with_(
    { brightness: { mean: 47, ref: 80, z: -20.6 }, meanB: { mean: 50, ref: 83, z: -30.4 }, entropy: { mean: 5.1, ref: 5.8, z: -11 }, sharpness: { mean: 600, ref: 980, z: -2.3 } },
    { drivers: [d('psi:entropy', 15.6), d('psi:meanB', 9), { key: 'rate:ood', value: 0.9, warn: 0.17, alert: 0.2, level: 'alert', features: ['meanB', 'brightness'] }] },
  );
  const h = headline(fade, classify(fade))!;
  assert.equal(h.family, 'illumination');
  assert.equal(h.feature, 'brightness', 'moved at least half as much as meanB, and says more');
  assert.equal(h.text, 'illumination: brightness \u221241% (z = \u221220.6)');
  // Focus: a lens going soft.
  const soft = with_({ sharpness: { mean: 300, ref: 980, z: -4.1 }, entropy: { mean: 5.7, ref: 5.8, z: -0.5 } }, { drivers: [d('psi:sharpness', 3)] });
  assert.deepEqual([headline(soft, classify(soft))!.family, headline(soft, classify(soft))!.feature], ['focus', 'sharpness']);
  // The model: no input moved, a sequential score did.
  const mix = with_({}, { drivers: [{ key: 'cusum:classMix', value: 18.4, warn: 10, alert: null, level: 'warn' }] });
  assert.equal(headline(mix, classify(mix))!.text, 'model: cusum:classMix 18.4');
  // Without a reference mean (an older agent), the size is the window's mean.
  const old = with_({ brightness: { mean: 60, z: -6 } }, { drivers: [d('psi:brightness', 0.7)] });
  assert.equal(headline(old, classify(old))!.text, 'illumination: brightness mean 60.0 (z = \u22126.0)');
  assert.equal(headline(with_({}), classify(with_({}))), undefined, 'nothing moved, nothing to say');
});

test('leadFamily: the headline\'s family (the alert\'s feature label), none for a window without drivers', () => {
  const fade = with_({ brightness: { mean: 47, ref: 80, z: -20.6 } }, { status: 'alert', drivers: [d('psi:brightness', 9)] });
  assert.equal(leadFamily(fade), 'illumination');
  assert.equal(leadFamily(with_({}, { status: 'warn', drivers: [{ key: 'cusum:classMix', value: 18.4, warn: 10, alert: null, level: 'warn' }] })), 'model');
  // Inputs shifted more than 3 SDs, yet no score passed its threshold: an ok window names no driver.
  assert.equal(leadFamily(with_({ brightness: { mean: 47, ref: 80, z: -20.6 } })), undefined);
});
