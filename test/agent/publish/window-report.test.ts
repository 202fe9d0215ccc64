/**
 * agent/publish/window-report.ts: each closed window is recorded for /metrics, summarised over MQTT
 * (with the reference profile's means, computed once, and the review frames saved during it) and
 * its verdict logged; without MQTT nothing is sent, without a verdict nothing is logged.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { familyScores } from '../../../agent/drift/family-scores.js';
import { Judge } from '../../../agent/drift/judge.js';
import { readProfile } from '../../../agent/drift/profile.js';
import { ScoringReference } from '../../../agent/drift/scores.js';
import type { DriftResult } from '../../../agent/drift/types.js';
import { LastWindows } from '../../../agent/http/last-windows.js';
import type { WindowReport } from '../../../agent/publish/messages.js';
import { VerdictLog } from '../../../agent/publish/verdict-log.js';
import { WindowReporter } from '../../../agent/publish/window-report.js';
import type { ReviewSampleRef } from '../../../agent/store/review-samples.js';
import type { WindowAggregate } from '../../../agent/telemetry/window.js';
import { VERDICT_VALUES } from '../../../protocol/levels.js';
import { driftResult } from '../../helpers/drift-result.js';
import { LEVEL, logLines } from '../../helpers/log-lines.js';

const PROFILE = new URL('../../../models/line-detector.profile.json', import.meta.url).pathname;
const window = (startTs: number): WindowAggregate => ({ startTs, endTs: startTs + 59_000, frames: 600, features: {}, classCounts: {}, confHist: {}, latencyMs: {} });
const verdict = (severity: DriftResult['severity'], scores: Record<string, number> = {}): DriftResult => driftResult(severity, { scores });

test('with MQTT and a profile: family scores, the summary with the reference and the review frames, the verdict logged', async () => {
  const profile = await readProfile(PROFILE);
  const judge = new Judge(new ScoringReference(profile), profile.calibration, { windowSeconds: 60 });
  const { log, lines } = logLines();
  const sent: WindowReport[] = [];
  const asked: [number, number, number][] = [];
  const samples: ReviewSampleRef[] = [{ file: 'a.jpg', ts: 1_790_000_001_000, reason: 'uncertain' }];
  const windows = new LastWindows();
  const report = new WindowReporter({
    link: { summary: (r) => sent.push(r) },
    drift: { judge, profile },
    windows,
    verdicts: new VerdictLog(log),
    reviewSamples: (cameraId, fromTs, toTs) => {
      asked.push([cameraId, fromTs, toTs]);
      return samples;
    },
  });
  const key = judge.ref.keys.find((k) => !k.startsWith('mean:') && judge.thresholdsFor(600).warn[judge.ref.keys.indexOf(k)]! > 0)!;
  const ok = verdict('ok', { [key]: judge.thresholdsFor(600).warn[judge.ref.keys.indexOf(key)]! / 2 });
  const families = familyScores(ok, judge);
  assert.notDeepEqual(families, {}, 'the window has a family score');
  report.window('dock', window(1_790_000_000_000), ok, { cameraId: 7, dropped: 2, errors: 1 });
  report.window('dock', window(1_790_000_060_000), undefined, { cameraId: 7, dropped: 0, errors: 0 });

  assert.deepEqual(asked, [
    [7, 1_790_000_000_000, 1_790_000_059_000],
    [7, 1_790_000_060_000, 1_790_000_119_000],
  ]);
  assert.equal(sent.length, 2);
  const reference = Object.fromEntries(Object.entries(profile.features).map(([k, f]) => [k, { mean: f.mean, std: f.std }]));
  assert.deepEqual(sent[0], { camera: 'dock', window: window(1_790_000_000_000), dropped: 2, errors: 1, drift: ok, familyScores: families, reference, review: samples });
  assert.deepEqual(sent[1], { camera: 'dock', window: window(1_790_000_060_000), dropped: 0, errors: 0, drift: undefined, familyScores: {}, reference, review: samples });
  assert.equal(sent[0]!.reference, sent[1]!.reference, 'the reference is mapped once');
  assert.deepEqual([...windows.entries()], [['dock', { endSeconds: 1_790_000_119, verdict: VERDICT_VALUES.unscored, families: {}, rates: undefined }]]);
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [[LEVEL.info, 'camera dock drift ok']],
    'only the scored window is logged',
  );
});

test('without MQTT nor a profile: the window is recorded for /metrics and its verdict logged, nothing is sent or queried', () => {
  const { log, lines } = logLines();
  const windows = new LastWindows();
  const report = new WindowReporter({ link: undefined, drift: undefined, windows, verdicts: new VerdictLog(log), reviewSamples: () => assert.fail('no summary, no review frames') });
  const few = verdict('insufficient');
  report.window('gate', window(1_790_000_000_000), few, { cameraId: 1, dropped: 0, errors: 0 });
  assert.deepEqual([...windows.entries()], [['gate', { endSeconds: 1_790_000_059, verdict: VERDICT_VALUES.insufficient, families: {}, rates: few.rates }]]);
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [[LEVEL.info, 'camera gate drift insufficient']],
  );
});
