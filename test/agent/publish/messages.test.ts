import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DriftResult } from '../../../agent/drift/types.js';
import { offline, stopReason, summary, type Identity } from '../../../agent/publish/messages.js';
import type { WindowAggregate } from '../../../agent/telemetry/window.js';
import { check, SCHEMAS, SUMMARY_STATUSES, type SummaryMessage } from '../../../protocol/messages.js';
import { driftResult } from '../../helpers/drift-result.js';

const id: Identity = { site: 's', device: 'd', version: '0.1.0', model: { name: 'm.onnx', sha256: 'a'.repeat(64) }, provider: 'cpu', providers: ['cpu'], cameras: ['cam'], windowSeconds: 60 };
const window: WindowAggregate = { startTs: 1_790_000_000_000, endTs: 1_790_000_059_000, frames: 3000, features: { brightness: { mean: 80, std: 3, min: 70, max: 90 } }, classCounts: { washer: 3 }, confHist: { washer: [0, 3] }, latencyMs: {} };
const verdict = (severity: DriftResult['severity']): DriftResult => driftResult(severity, { frames: 3000 });

test('a window the reference cannot judge is insufficient on the wire, with its cause beside it: older collectors accept it', () => {
  const m = summary(id, { camera: 'cam', window, dropped: 0, errors: 0, drift: verdict('insufficient-reference') }, 7);
  assert.equal(m.status, 'insufficient');
  assert.equal(m.insufficient, 'reference');
  assert.ok(check<SummaryMessage>(JSON.parse(JSON.stringify(m)), SCHEMAS.summary).ok);
  // The status is one an older collector knows; the cause is an extra field it ignores.
  assert.ok((SUMMARY_STATUSES as readonly string[]).includes(m.status));
  assert.ok(!(SUMMARY_STATUSES as readonly string[]).includes('insufficient-reference'));
  const few = summary(id, { camera: 'cam', window, dropped: 0, errors: 0, drift: verdict('insufficient') }, 8);
  assert.deepEqual([few.status, few.insufficient], ['insufficient', 'frames']);
  const ok = summary(id, { camera: 'cam', window, dropped: 0, errors: 0, drift: verdict('ok') }, 9);
  assert.deepEqual([ok.status, ok.insufficient], ['ok', undefined]);
  assert.equal(ok.rates!.oodDetection, 0.02);
  // A cause the contract does not know is refused by name.
  const bad = check<SummaryMessage>({ ...JSON.parse(JSON.stringify(m)), insufficient: 'weather' }, SCHEMAS.summary);
  assert.ok(!bad.ok && /insufficient/.test(bad.reason), JSON.stringify(bad));
});

test('family scores ride on the summary, on the threshold scale; absent when the window was not judged', () => {
  const ok = summary(id, { camera: 'cam', window, dropped: 0, errors: 0, drift: verdict('ok'), familyScores: { illumination: 0.4, model: 1.2, focus: undefined } }, 9);
  assert.deepEqual(ok.familyScores, { illumination: 0.4, model: 1.2 });
  assert.ok(check<SummaryMessage>(JSON.parse(JSON.stringify(ok)), SCHEMAS.summary).ok);
  const few = summary(id, { camera: 'cam', window, dropped: 0, errors: 0, drift: verdict('insufficient'), familyScores: {} }, 10);
  assert.equal(few.familyScores, undefined);
  const none = summary(id, { camera: 'cam', window, dropped: 0, errors: 0, drift: undefined, familyScores: { illumination: 1 } }, 11);
  assert.equal(none.familyScores, undefined, 'unscored: nothing to place');
});

test('a clean stop says why (DRIFTLINE_STOP_REASON, else "stopping"); the Last Will says nothing, and both are valid status messages', () => {
  const id = { site: 's', device: 'd' } as Identity;
  assert.equal(stopReason({}), 'stopping');
  assert.equal(stopReason({ DRIFTLINE_STOP_REASON: '  upgrade to 1.4  ' }), 'upgrade to 1.4');
  assert.equal(stopReason({ DRIFTLINE_STOP_REASON: 'x'.repeat(100) }).length, 64);
  const clean = offline(id, 5, stopReason({ DRIFTLINE_STOP_REASON: 'upgrade' }));
  const will = offline(id, 5);
  assert.equal(clean.stopReason, 'upgrade');
  assert.equal('stopReason' in will, false);
  for (const m of [clean, will]) assert.ok(check(m, SCHEMAS.status).ok, JSON.stringify(m));
});
