/**
 * The six rows at the top of the readiness report, each pass, warn or fail with its evidence and
 * the command that reproduces or fixes it. The rules, in one place so the docs can quote them:
 *
 * - Provenance: fail never (the tool cannot know where images came from); warn when the set is
 *   synthetic, when no profile was given to compare it with, or when it is indistinguishable from
 *   the training profile (a held-out slice); pass when it differs from training on some feature.
 * - Class distribution and thresholds: pass when production base rates were given and every class
 *   meets the targets at them with the thresholds in use; warn without base rates (evaluated at the
 *   set's own mix); fail when a class misses a target.
 * - Per-class error metrics: pass when every class meets the precision and recall targets and no
 *   condition is flagged; warn when some condition is flagged degraded; fail when a class misses.
 * - Latency: pass when measured, with the hardware named; warn when the machine is not said to be
 *   production hardware; fail when a latency budget was given and p95 exceeds it.
 * - OOD: pass when corruptions and a held-out class or OOD folder were run, silent failures are
 *   either rare (under 10% of held-out objects) or covered by a detection-level OOD reference in
 *   the profile, and no corruption at its mildest setting brings false alarms (precision more than
 *   MILD_PRECISION_DROP below the nominal set's, with at least MILD_MIN_FALSE_ALARMS of them); warn
 *   otherwise: a model that cries wolf when the light changes a little is paged on, then ignored.
 * - Drift monitoring: pass when a calibrated profile exists for this model's sha256; fail otherwise.
 */
import type { ChecklistRow, ClassRow, ConditionFlag, CorruptionRow, HeldOutRow, ReadinessReport } from './report.js';

/** A mild corruption's precision this far below the nominal set's is a false-alarm problem... */
export const MILD_PRECISION_DROP = 0.1;
/** ...when it rests on at least this many false alarms (a handful on 100 images is noise). */
export const MILD_MIN_FALSE_ALARMS = 5;

/**
 * Severity-1 corruptions whose false alarms pull precision well below the same images' uncorrupted
 * (`baseline`; without it, the nominal classes' counts). Precision with no detection kept is taken
 * as the baseline's (nothing raised), with only false ones as 0 (everything raised was false).
 */
export function mildFalseAlarms(classes: readonly ClassRow[], corruptions: readonly CorruptionRow[], baseline?: { readonly precision: number }): { setting: string; precision: number; falseAlarms: number; nominal: number }[] {
  let nominal = baseline?.precision ?? Number.NaN;
  if (!Number.isFinite(nominal)) {
    const tp = classes.reduce((a, c) => a + c.tp, 0);
    const fp = classes.reduce((a, c) => a + c.fp, 0);
    nominal = tp + fp > 0 ? tp / (tp + fp) : 1; // nothing detected nominally: no false alarm either
  }
  const out: { setting: string; precision: number; falseAlarms: number; nominal: number }[] = [];
  for (const r of corruptions) {
    if (r.severity !== 1) continue;
    const precision = Number.isFinite(r.precision) ? r.precision : r.falseAlarms > 0 ? 0 : nominal;
    if (precision < nominal - MILD_PRECISION_DROP && r.falseAlarms >= MILD_MIN_FALSE_ALARMS) out.push({ setting: `${r.corruption} ${r.setting}`, precision, falseAlarms: r.falseAlarms, nominal });
  }
  return out.sort((a, b) => a.precision - b.precision);
}

export interface ChecklistInputs {
  readonly modelFile: string;
  readonly dataPath: string;
  readonly classes: readonly ClassRow[];
  readonly targets: { readonly minPrecision: number; readonly minRecall: number; readonly maxFalseAlarmsPer1000?: number };
  readonly baseRatesGiven: boolean;
  readonly flags: readonly ConditionFlag[];
  readonly latency?: ReadinessReport['latency'];
  readonly latencyBudgetMs?: number;
  readonly productionHardware: boolean;
  readonly corruptionsRun: number;
  /** The corruption rows (every setting run): the mildest of each is judged for false alarms... */
  readonly corruptions?: readonly CorruptionRow[];
  /** ...against the same images uncorrupted (without it, the nominal classes' precision). */
  readonly corruptionBaseline?: ReadinessReport['ood']['corruptionBaseline'];
  readonly heldOut: readonly HeldOutRow[];
  readonly oodFolder: boolean;
  readonly provenance: ReadinessReport['provenance'];
}

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');

/** Classes missing a precision, recall or false-alarm target, named with the numbers. */
function misses(i: ChecklistInputs, precisionOf: (c: ClassRow) => number): string[] {
  const out: string[] = [];
  for (const c of i.classes) {
    if (c.objects === 0) continue;
    const p = precisionOf(c);
    if (!(p >= i.targets.minPrecision)) out.push(`${c.name} precision ${f2(p)}`);
    if (!(c.recall >= i.targets.minRecall)) out.push(`${c.name} recall ${f2(c.recall)}`);
    if (i.targets.maxFalseAlarmsPer1000 !== undefined && c.fpPer1000 > i.targets.maxFalseAlarmsPer1000) out.push(`${c.name} ${c.fpPer1000.toFixed(1)} false alarms per 1,000 images`);
  }
  return out;
}

export function buildChecklist(i: ChecklistInputs): ChecklistRow[] {
  const evaluate = `driftline evaluate --model ${i.modelFile} --data ${i.dataPath}`;
  const rows: ChecklistRow[] = [];
  const p = i.provenance;
  rows.push({
    id: 'provenance',
    check: 'Test data provenance',
    status: !p.synthetic && p.indistinguishable === false && !p.insufficient ? 'pass' : 'warn',
    evidence: [
      p.synthetic ? 'The set was rendered by driftline synth: synthetic, not production capture.' : 'The set is not marked synthetic.',
      !p.profile
        ? 'No training profile was given to compare it with (--profile).'
        : p.profile.problem
          ? `The profile could not be read: ${p.profile.problem}.`
          : !p.profile.sameModel
            ? `${p.profile.file} was made for another model: the set was not compared with it.`
            : p.insufficient
            ? 'The training profile is too small a sample to judge a set this large.'
            : p.indistinguishable
              ? 'No input or detection statistic tells it apart from the training profile: it looks like a held-out slice of the training data, not production data.'
              : `It differs from the training profile on ${(p.drifted ?? []).map((d) => `${d.feature} (${d.mark})`).join(', ')}.`,
    ].join(' '),
    command: `${evaluate} --profile ${i.modelFile.replace(/\.onnx$/, '')}.profile.json`,
  });
  const prodMiss = misses(i, (c) => c.productionPrecision ?? c.precision);
  rows.push({
    id: 'class-distribution',
    check: 'Class distribution and thresholds',
    status: prodMiss.length > 0 ? 'fail' : i.baseRatesGiven ? 'pass' : 'warn',
    evidence: !i.baseRatesGiven
      ? `No production base rates given: precision is at the evaluation set's own class mix${prodMiss.length ? `, and ${prodMiss.join(', ')} miss the targets` : ''}. Give --base-rates to tune the thresholds to production.`
      : prodMiss.length
        ? `At production base rates, ${prodMiss.join(', ')} miss the targets (precision >= ${i.targets.minPrecision}, recall >= ${i.targets.minRecall}).`
        : `At production base rates every class meets precision >= ${i.targets.minPrecision} and recall >= ${i.targets.minRecall} with the per-class thresholds in the report.`,
    command: `${evaluate} --base-rates CLASS=RATE,...`,
  });
  const evalMiss = misses(i, (c) => c.precision);
  rows.push({
    id: 'per-class-errors',
    check: 'Per-class error metrics',
    status: evalMiss.length ? 'fail' : i.flags.length ? 'warn' : 'pass',
    evidence: evalMiss.length
      ? `${evalMiss.join(', ')} (95% intervals in the class table).`
      : i.flags.length
        ? `Every class meets the targets overall, but ${i.flags.map((f) => `${f.className} ${f.metric} under ${f.column}=${f.value} (${f2(f.got)} against ${f2(f.nominal)})`).join('; ')}.`
        : `Every class meets precision >= ${i.targets.minPrecision} and recall >= ${i.targets.minRecall}; no condition degrades a class beyond the tolerance.`,
    command: `${evaluate} --conditions COLUMN,...`,
  });
  const l = i.latency;
  const p95 = l?.rows[0]?.p95Ms;
  rows.push({
    id: 'latency',
    check: 'Throughput under load',
    status: !l ? 'fail' : i.latencyBudgetMs !== undefined && p95 !== undefined && p95 > i.latencyBudgetMs ? 'fail' : i.productionHardware ? 'pass' : 'warn',
    evidence: !l
      ? 'Not measured.'
      : `p50 ${l.rows[0]!.p50Ms.toFixed(2)} ms, p95 ${p95!.toFixed(2)} ms at batch ${l.rows[0]!.batch} on ${String(l.hardware.cpu)} (${String(l.hardware.provider)}, ${String(l.hardware.intraOpThreads)} intra-op threads)${i.latencyBudgetMs !== undefined ? `, budget ${i.latencyBudgetMs} ms` : ''}. ${i.productionHardware ? 'Measured on production hardware.' : 'This is not production hardware: run it on the edge box (--hardware-note "production: ...").'}`,
    command: `${evaluate} --providers tensorrt,cuda,cpu --hardware-note "production: <box>"`,
  });
  const silentUncovered = i.heldOut.some((h) => h.silentRate >= 0.1) && !p.profile?.detectionOod;
  const crying = mildFalseAlarms(i.classes, i.corruptions ?? [], i.corruptionBaseline);
  const heldOutText = i.heldOut.map((h) => `${h.name}: ${h.objects} objects, ${pct(h.silentRate)} silent, ${pct(h.objects ? h.lowConfidence / h.objects : 0)} low-confidence (fails ${h.verdict})`).join('; ');
  rows.push({
    id: 'ood',
    check: 'OOD behaviour',
    status: i.corruptionsRun > 0 && (i.heldOut.length > 0 || i.oodFolder) && !silentUncovered && !crying.length ? 'pass' : 'warn',
    evidence: [
      `${i.corruptionsRun} corruption settings run.`,
      i.heldOut.length ? `Held out: ${heldOutText}.` : i.oodFolder ? 'An OOD folder was run.' : 'No held-out class or OOD folder (--ood DIR).',
      silentUncovered
        ? 'Silent failures are common and no detection-level OOD reference watches for them.'
        : i.heldOut.some((h) => h.silentRate >= 0.1)
          ? "Silent failures are common; the profile's detection-level OOD reference scores every detection for them after deployment."
          : '',
      crying.length
        ? `False alarms at the mildest corruptions: ${crying.map((c) => `${c.setting}: precision ${f2(c.precision)} (${c.falseAlarms} false alarms) against ${f2(c.nominal)} nominal`).join('; ')}.`
        : '',
    ]
      .filter(Boolean)
      .join(' '),
    command: `${evaluate} --corruptions all --ood DIR`,
  });
  const prof = p.profile;
  const driftOk = prof !== undefined && prof.problem === undefined && prof.sameModel && prof.calibrated;
  rows.push({
    id: 'drift-monitoring',
    check: 'Drift monitoring',
    status: driftOk ? 'pass' : 'fail',
    evidence: driftOk
      ? `A calibrated reference profile (${prof!.file}, ${prof!.frames} frames${prof!.detectionOod ? ', detection-level OOD reference' : ''}) exists for this model's sha256: the agent logs and judges input and confidence drift.`
      : !prof
        ? 'No reference profile found for this model.'
        : prof.problem
          ? `The profile cannot be used: ${prof.problem}.`
          : !prof.sameModel
            ? `${prof.file} was made for another model (sha256 differs).`
            : `${prof.file} has no calibration.`,
    command: `driftline baseline --model ${i.modelFile} --data CAPTURE_DIR`,
  });
  return rows;
}
