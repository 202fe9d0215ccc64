/**
 * The OOD row's false-alarm rule: a model whose precision collapses at the mildest setting of a
 * corruption (a little darker, 3° of roll) cries wolf on the line, whatever its silent failures.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildChecklist, MILD_MIN_FALSE_ALARMS, MILD_PRECISION_DROP, mildFalseAlarms, type ChecklistInputs } from '../../../agent/readiness/checklist.js';
import type { ClassRow, CorruptionRow } from '../../../agent/readiness/report.js';

const cls = (name: string, tp: number, fp: number): ClassRow => ({ name, threshold: 0.5, objects: tp + 5, tp, fp, fn: 5, precision: tp / (tp + fp), precisionCi: [0, 1], recall: tp / (tp + 5), recallCi: [0, 1], missRate: 0, missRateCi: [0, 1], fpPer1000: 0, fpPer1000Ci: [0, 1], ap50: 0.9, ap5095: 0.6 });
/** A corruption row with `tp` of `objects` found and `fp` false alarms. */
const row = (corruption: string, severity: number, objects: number, tp: number, fp: number): CorruptionRow => ({ corruption, severity, setting: `level ${severity}`, images: 100, objects, falseAlarms: fp, precision: tp / (tp + fp), recall: tp / objects, silentRate: 0, silentRateCi: [0, 0], lowConfidenceRate: 0, meanBestScore: 0.8, bestScore: [] });

// Nominal: 190 true, 10 false alarms: precision 0.95.
const CLASSES = [cls('washer', 100, 4), cls('scratch', 90, 6)];

test('mildFalseAlarms: a mild setting far below nominal precision, on enough false alarms; the harsher settings and the noise are left alone', () => {
  const found = mildFalseAlarms(CLASSES, [
    row('roll', 1, 200, 180, 60), // 0.75: 0.2 below, 60 false alarms
    row('roll', 3, 200, 100, 400), // harsh: not judged here
    row('darker', 1, 200, 180, 20), // 0.9: within the drop
    row('jpeg', 1, 20, 10, 4), // 0.71, but 4 false alarms: under the minimum
    row('occlusion', 1, 200, 0, 30), // nothing true, 30 false: precision 0, the worst case
  ]);
  assert.deepEqual(found.map((f) => [f.setting, f.falseAlarms]), [['occlusion level 1', 30], ['roll level 1', 60]]);
  assert.ok(Math.abs(found[1]!.nominal - 0.95) < 1e-12);
  // Against the corrupted images' own uncorrupted precision when given: here as low as the roll's.
  assert.deepEqual(mildFalseAlarms(CLASSES, [row('roll', 1, 200, 180, 60)], { precision: 0.8 }), []);
  // No detection kept at all: nothing raised, nothing false.
  assert.deepEqual(mildFalseAlarms(CLASSES, [{ ...row('blur', 1, 200, 0, 0), precision: Number.NaN }]), []);
  assert.ok(MILD_PRECISION_DROP > 0 && MILD_MIN_FALSE_ALARMS > 4);
});

test('the OOD row warns on false alarms at a mild setting, with them in its evidence; passes without', () => {
  const base: ChecklistInputs = {
    modelFile: 'm.onnx',
    dataPath: 'eval',
    classes: CLASSES,
    targets: { minPrecision: 0.9, minRecall: 0.9 },
    baseRatesGiven: true,
    flags: [],
    productionHardware: false,
    corruptionsRun: 2,
    heldOut: [],
    oodFolder: true,
    provenance: { synthetic: false, profile: { file: 'm.profile.json', sameModel: true, calibrated: true, frames: 2000, detectionOod: true } },
  };
  const ood = (i: ChecklistInputs) => buildChecklist(i).find((r) => r.id === 'ood')!;
  assert.equal(ood({ ...base, corruptions: [row('darker', 1, 200, 180, 12)] }).status, 'pass');
  const warned = ood({ ...base, corruptions: [row('roll', 1, 200, 180, 60)] });
  assert.equal(warned.status, 'warn');
  assert.match(warned.evidence, /False alarms at the mildest corruptions: roll level 1: precision 0\.75 \(60 false alarms\) against 0\.95 nominal/);
});
