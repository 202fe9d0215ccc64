/** report.md: the readiness report as Markdown, for a pull request or a wiki page. */
import { thresholdText } from './base-rates.js';
import { noConditionsText, unmetText } from './report-text.js';
import type { Interval, ReadinessReport } from './report.js';

const f3 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(3));
const ci = (v: Interval | undefined, digits = 3): string => (v && Number.isFinite(v[0]) && Number.isFinite(v[1]) ? `${v[0].toFixed(digits)}–${v[1].toFixed(digits)}` : '');
const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : 'n/a');
const mark = { pass: '✅ pass', warn: '⚠️ warn', fail: '❌ fail' } as const;
/** Table cells hold text from data: no pipe or newline may break the table. */
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderMarkdown(r: ReadinessReport): string {
  const out: string[] = [];
  out.push(`# Readiness report: ${cell(r.model.file)}`, '');
  out.push(`Model sha256 \`${r.model.sha256}\`, provider ${r.model.provider}. Data: ${cell(r.data.path)} (${r.data.format}, ${r.data.images} images). ${r.createdAt}.`, '');
  for (const n of r.data.notes) out.push(`Note: ${cell(n)}`, '');
  out.push('## Checklist', '', '| Check | Status | Evidence | Reproduce |', '| --- | --- | --- | --- |');
  for (const c of r.checklist) out.push(`| ${c.check} | ${mark[c.status]} | ${cell(c.evidence)} | \`${cell(c.command)}\` |`);
  out.push('');
  const t = r.thresholds;
  out.push('## Per-class errors at the operating thresholds', '');
  out.push(
    `Thresholds ${t.source === 'recommended' ? `recommended on ${t.chosenOn}` : 'as given'}` +
      `${t.target.minPrecision !== undefined ? `, target precision >= ${t.target.minPrecision}` : ''}${t.target.minRecall !== undefined ? `, recall >= ${t.target.minRecall}` : ''}` +
      `${t.target.maxFalseAlarmsPer1000 !== undefined ? `, at most ${t.target.maxFalseAlarmsPer1000} false alarms per 1,000 images` : ''}. ` +
      `Suppression: ${t.suppression.agnostic ? `class-agnostic above IoU ${t.suppression.agnosticIou}${t.suppression.classPriority.length ? `, priority ${t.suppression.classPriority.join(' > ')}` : ', higher score wins'}` : 'class-aware'}. 95% intervals (Wilson) beside each rate.`,
    '',
  );
  const prod = r.baseRates !== undefined;
  out.push(`| class | threshold | objects | TP | FP | FN | precision | recall | miss rate | FP / 1,000 images | AP@0.5 | AP@[.5:.95] |${prod ? ' precision at production rates |' : ''}`);
  out.push(`| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | ---: | ---: |${prod ? ' --- |' : ''}`);
  for (const c of r.classes) {
    out.push(
      `| ${cell(c.name)} | ${thresholdText(c.threshold)} | ${c.objects} | ${c.tp} | ${c.fp} | ${c.fn} | ${f3(c.precision)} (${ci(c.precisionCi)}) | ${f3(c.recall)} (${ci(c.recallCi)}) | ${f3(c.missRate)} (${ci(c.missRateCi)}) | ${c.fpPer1000.toFixed(1)} (${ci(c.fpPer1000Ci, 1)}) | ${f3(c.ap50)} | ${f3(c.ap5095)} |` +
        (prod ? ` ${f3(c.productionPrecision)} (${ci(c.productionPrecisionCi)}) |` : ''),
    );
  }
  out.push('', `mAP@0.5 ${f3(r.map50)}, mAP@[.5:.95] ${f3(r.map5095)}.`, '');
  if (r.baseRates) {
    out.push('Base rates (share of objects), evaluation → production: ' + Object.keys(r.baseRates.production).map((k) => `${cell(k)} ${pct(r.baseRates!.evaluation[k] ?? 0)} → ${pct(r.baseRates!.production[k]!)}`).join(', ') + '.', '');
    out.push(r.baseRates.method, '');
  }
  for (const [name, failed] of Object.entries(t.unmet)) out.push(unmetText(cell(name), failed, t.chosenOn), '');
  out.push('For the agent (`classConf`, paste into the agent config):', '', '```yaml', t.classConfYaml.trimEnd(), '```', '');
  out.push(`Cross-class duplicates (one object reported under two classes, IoU > 0.7): ${r.duplicates.classAware} with class-aware suppression, ${r.duplicates.agnostic} with class-agnostic suppression.`, '');
  out.push('## Conditions', '');
  if (r.conditions.groups.length === 0) out.push(noConditionsText(r.data.conditionColumns), '');
  else {
    const names = r.classes.map((c) => c.name);
    out.push(`| condition | images | ${names.map((n) => `${cell(n)} P / R`).join(' | ')} |`, `| --- | ---: | ${names.map(() => '---').join(' | ')} |`);
    for (const g of r.conditions.groups) {
      out.push(`| ${cell(g.column)} = ${cell(g.value)} | ${g.images} | ${names.map((n) => {
        const c = g.classes.find((x) => x.name === n);
        return c && c.objects > 0 ? `${f3(c.precision)} / ${f3(c.recall)}` : '–';
      }).join(' | ')} |`);
    }
    out.push('');
    out.push(r.conditions.flags.length ? `Flagged (more than ${r.conditions.tolerance} below the rest of the set, interval agreeing):` : `No condition degrades a class by more than ${r.conditions.tolerance}.`);
    for (const f of r.conditions.flags) out.push(`- **${cell(f.column)} = ${cell(f.value)}**: ${cell(f.className)} ${f.metric} ${f3(f.got)} (${ci(f.interval)}) against ${f3(f.nominal)} elsewhere`);
    out.push('');
  }
  if (r.latency) {
    out.push('## Latency', '', `Batch: ${r.latency.batch === 'dynamic' ? 'dynamic' : `fixed at ${r.latency.batch} (the model's input)`}. Hardware: ${Object.entries(r.latency.hardware).map(([k, v]) => `${k} ${cell(String(v))}`).join(', ')}.`, '');
    out.push('| batch | runs | p50 ms | p95 ms | p99 ms | images/s |', '| ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const l of r.latency.rows) out.push(`| ${l.batch} | ${l.runs} | ${l.p50Ms.toFixed(2)} | ${l.p95Ms.toFixed(2)} | ${l.p99Ms.toFixed(2)} | ${l.imagesPerSecond.toFixed(0)} |`);
    out.push('');
  }
  out.push('## Out of distribution', '');
  out.push(`Nominal: mean best score on an object ${f3(r.ood.nominal.meanBestScore)}, silent failures ${pct(r.ood.nominal.silentRate)}. A silent failure is a confident detection of the wrong class (for a defective part, a confident "good"); a low-confidence failure is an object nothing confident claims.`, '');
  if (r.ood.corruptions.length) {
    out.push('| corruption | severity | setting | precision | recall | silent | low-confidence | mean best score |', '| --- | ---: | --- | ---: | ---: | --- | ---: | ---: |');
    for (const c of r.ood.corruptions) out.push(`| ${c.corruption} | ${c.severity} | ${cell(c.setting)} | ${f3(c.precision)} | ${f3(c.recall)} | ${pct(c.silentRate)} (${ci(c.silentRateCi)}) | ${pct(c.lowConfidenceRate)} | ${f3(c.meanBestScore)} |`);
    out.push('');
  }
  for (const h of r.ood.heldOut) {
    out.push(`Held-out class **${cell(h.name)}** (${h.objects} objects): ${pct(h.silentRate)} silent (${ci(h.silentRateCi)}), ${pct(h.objects ? h.lowConfidence / h.objects : 0)} low-confidence: it fails **${h.verdict}**. Claimed as ${Object.entries(h.claimedAs).map(([k, v]) => `${cell(k)} ×${v}`).join(', ') || 'nothing'}; mean best score ${f3(h.meanBestScore)}.`, '');
  }
  if (r.ood.folder) out.push(`OOD folder ${cell(r.ood.folder.path)}: ${r.ood.folder.withConfidentDetection} of ${r.ood.folder.images} images got a confident detection.`, '');
  out.push('## Provenance', '');
  const p = r.provenance;
  out.push(`${p.synthetic ? 'Synthetic set.' : 'Not marked synthetic.'} ${p.profile ? `Profile ${cell(p.profile.file)}: ${p.profile.problem ? cell(p.profile.problem) : `${p.profile.frames} frames, ${p.profile.sameModel ? 'this model' : 'another model'}, ${p.profile.calibrated ? 'calibrated' : 'not calibrated'}`}.` : 'No profile.'}${p.drifted ? ` Drifted against training: ${p.drifted.length ? p.drifted.map((d) => `${d.feature} (${d.mark})`).join(', ') : 'nothing'}.` : ''}`, '');
  out.push(`Evaluated in ${r.timing.seconds.toFixed(0)} s (${r.timing.imagesPerSecond.toFixed(1)} images/s; inference ${r.timing.inferenceMsPerImage.toFixed(2)} ms an image). Command: \`${cell(r.command)}\``, '');
  return out.join('\n');
}
