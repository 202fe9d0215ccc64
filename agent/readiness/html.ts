/**
 * report.html: the readiness report as one self-contained page. Inline CSS and SVG charts
 * (svg.ts), no script, no font, no request: it opens from a USB stick on a plant PC with no
 * network, and shows the same numbers as report.md and report.json. Every string from the data is
 * escaped.
 */
import { thresholdText } from './base-rates.js';
import { noConditionsText, unmetText } from './report-text.js';
import type { Interval, ReadinessReport } from './report.js';
import { barChart, esc, histogramChart, lineChart } from './svg.js';

const f3 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(3));
const ci = (v: Interval | undefined, digits = 3): string => (v && Number.isFinite(v[0]) && Number.isFinite(v[1]) ? `<span class="ci">${v[0].toFixed(digits)}–${v[1].toFixed(digits)}</span>` : '');
const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : 'n/a');

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#1b1f23;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#f5f6f7}td.n{text-align:right;font-variant-numeric:tabular-nums}.ci{color:#666;font-size:11px;display:block}
.pass{background:#e6f4ea}.warn{background:#fff4ce}.fail{background:#fde7e9}.st{font-weight:600;white-space:nowrap}
code,pre{font:12px ui-monospace,Menlo,Consolas,monospace;background:#f5f6f7}pre{padding:8px;overflow:auto}
.charts{display:flex;flex-wrap:wrap;gap:12px}.meta{color:#555}
svg .t{font-size:12px;font-weight:600}svg .k{font-size:10px;fill:#444}svg .g{stroke:#eee}svg .f{fill:none;stroke:#999}
svg .m{fill:#000;stroke:#fff}svg .r{stroke:#D55E00;stroke-dasharray:5 3}
`;

export function renderHtml(r: ReadinessReport): string {
  const h: string[] = [];
  h.push(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Readiness: ${esc(r.model.file)}</title><style>${CSS}</style></head><body>`);
  h.push(`<h1>Readiness report: ${esc(r.model.file)}</h1><p class="meta">sha256 <code>${esc(r.model.sha256)}</code> · provider ${esc(r.model.provider)} · data ${esc(r.data.path)} (${esc(r.data.format)}, ${r.data.images} images) · ${esc(r.createdAt)}</p>`);
  for (const n of r.data.notes) h.push(`<p class="meta">Note: ${esc(n)}</p>`);
  h.push('<h2>Checklist</h2><table><tr><th>Check</th><th>Status</th><th>Evidence</th><th>Reproduce</th></tr>');
  for (const c of r.checklist) h.push(`<tr class="${c.status}"><td>${esc(c.check)}</td><td class="st">${c.status}</td><td>${esc(c.evidence)}</td><td><code>${esc(c.command)}</code></td></tr>`);
  h.push('</table>');
  const prod = r.baseRates !== undefined;
  h.push(`<h2>Per-class errors at the operating thresholds</h2><p>Thresholds ${r.thresholds.source === 'recommended' ? `recommended on ${esc(r.thresholds.chosenOn)}` : 'as given'}; suppression ${r.thresholds.suppression.agnostic ? `class-agnostic above IoU ${r.thresholds.suppression.agnosticIou}${r.thresholds.suppression.classPriority.length ? `, priority ${esc(r.thresholds.suppression.classPriority.join(' > '))}` : ''}` : 'class-aware'}. 95% intervals under each rate.</p>`);
  h.push(`<table><tr><th>class</th><th>threshold</th><th>objects</th><th>TP</th><th>FP</th><th>FN</th><th>precision</th><th>recall</th><th>miss rate</th><th>FP / 1,000 images</th><th>AP@0.5</th><th>AP@[.5:.95]</th>${prod ? '<th>precision at production rates</th>' : ''}</tr>`);
  for (const c of r.classes) {
    h.push(
      `<tr><td>${esc(c.name)}</td><td class="n">${thresholdText(c.threshold)}</td><td class="n">${c.objects}</td><td class="n">${c.tp}</td><td class="n">${c.fp}</td><td class="n">${c.fn}</td>` +
        `<td class="n">${f3(c.precision)}${ci(c.precisionCi)}</td><td class="n">${f3(c.recall)}${ci(c.recallCi)}</td><td class="n">${f3(c.missRate)}${ci(c.missRateCi)}</td><td class="n">${c.fpPer1000.toFixed(1)}${ci(c.fpPer1000Ci, 1)}</td>` +
        `<td class="n">${f3(c.ap50)}</td><td class="n">${f3(c.ap5095)}</td>${prod ? `<td class="n">${f3(c.productionPrecision)}${ci(c.productionPrecisionCi)}</td>` : ''}</tr>`,
    );
  }
  h.push(`</table><p>mAP@0.5 ${f3(r.map50)}, mAP@[.5:.95] ${f3(r.map5095)}. Cross-class duplicates: ${r.duplicates.classAware} class-aware, ${r.duplicates.agnostic} class-agnostic.</p>`);
  for (const [name, failed] of Object.entries(r.thresholds.unmet)) h.push(`<p class="fail">${esc(unmetText(name, failed, r.thresholds.chosenOn))}</p>`);
  h.push(`<p>For the agent config:</p><pre>${esc(r.thresholds.classConfYaml)}</pre>`);
  if (r.baseRates) h.push(`<p>${esc(r.baseRates.method)}</p>`);
  h.push('<h2>Precision–recall</h2><div class="charts">');
  for (const c of r.prCurves) {
    const series = [{ name: 'evaluation rates', points: c.evaluation.map(([rec, prec]) => [rec, prec] as const) }];
    if (c.production) series.push({ name: 'production rates', points: c.production.map(([rec, prec]) => [rec, prec] as const) });
    h.push(lineChart(`${c.name}`, 'recall', 'precision', series.map((s, i) => ({ ...s, ...(i ? { dashed: true } : {}) })), [{ x: c.operating[0], y: c.operating[1], label: `operating point: recall ${c.operating[0].toFixed(3)}, precision ${c.operating[1].toFixed(3)}` }]));
  }
  h.push('</div>');
  h.push('<h2>Conditions</h2>');
  if (r.conditions.groups.length) {
    const columns = [...new Set(r.conditions.groups.map((g) => g.column))];
    h.push('<div class="charts">');
    for (const col of columns) {
      const groups = r.conditions.groups.filter((g) => g.column === col);
      for (const metric of ['recall', 'precision'] as const) {
        const series = r.classes.map((c) => ({ name: c.name, values: groups.map((g) => { const x = g.classes.find((y) => y.name === c.name); return x && x.objects > 0 ? x[metric] : Number.NaN; }) }));
        h.push(barChart(`${metric} by ${col}`, metric, groups.map((g) => g.value), series));
      }
    }
    h.push('</div>');
    h.push(r.conditions.flags.length ? '<ul>' + r.conditions.flags.map((f) => `<li class="fail"><b>${esc(f.column)} = ${esc(f.value)}</b>: ${esc(f.className)} ${f.metric} ${f3(f.got)} (${f.interval[0].toFixed(3)}–${f.interval[1].toFixed(3)}) against ${f3(f.nominal)} elsewhere</li>`).join('') + '</ul>' : `<p>No condition degrades a class by more than ${r.conditions.tolerance}.</p>`);
  } else h.push(`<p>${esc(noConditionsText(r.data.conditionColumns))}</p>`);
  if (r.latency) {
    h.push(`<h2>Latency</h2><p>Batch ${r.latency.batch === 'dynamic' ? 'dynamic' : `fixed at ${r.latency.batch}`}. ${Object.entries(r.latency.hardware).map(([k, v]) => `${esc(k)}: ${esc(String(v))}`).join(' · ')}</p><table><tr><th>batch</th><th>runs</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>images/s</th></tr>`);
    for (const l of r.latency.rows) h.push(`<tr><td class="n">${l.batch}</td><td class="n">${l.runs}</td><td class="n">${l.p50Ms.toFixed(2)}</td><td class="n">${l.p95Ms.toFixed(2)}</td><td class="n">${l.p99Ms.toFixed(2)}</td><td class="n">${l.imagesPerSecond.toFixed(0)}</td></tr>`);
    h.push('</table>');
  }
  h.push(`<h2>Out of distribution</h2><p>A <b>silent</b> failure is a confident detection of the wrong class (for a defective part, a confident "good"); a <b>low-confidence</b> failure is an object nothing confident claims. Nominal: silent ${pct(r.ood.nominal.silentRate)}, mean best score ${f3(r.ood.nominal.meanBestScore)}.</p>`);
  if (r.ood.corruptions.length) {
    h.push('<table><tr><th>corruption</th><th>severity</th><th>setting</th><th>precision</th><th>recall</th><th>silent</th><th>low-confidence</th><th>mean best score</th></tr>');
    for (const c of r.ood.corruptions) h.push(`<tr><td>${esc(c.corruption)}</td><td class="n">${c.severity}</td><td>${esc(c.setting)}</td><td class="n">${f3(c.precision)}</td><td class="n">${f3(c.recall)}</td><td class="n">${pct(c.silentRate)}${ci(c.silentRateCi)}</td><td class="n">${pct(c.lowConfidenceRate)}</td><td class="n">${f3(c.meanBestScore)}</td></tr>`);
    h.push('</table><div class="charts">');
    for (const name of [...new Set(r.ood.corruptions.map((c) => c.corruption))]) {
      const rows = r.ood.corruptions.filter((c) => c.corruption === name);
      h.push(histogramChart(`confidence under ${name}`, [{ name: 'nominal', counts: r.ood.nominal.bestScore }, ...rows.map((c) => ({ name: `severity ${c.severity}`, counts: c.bestScore }))]));
    }
    h.push('</div>');
  }
  for (const o of r.ood.heldOut) {
    h.push(`<p>Held-out class <b>${esc(o.name)}</b> (${o.objects} objects): silent ${pct(o.silentRate)} (${o.silentRateCi[0].toFixed(3)}–${o.silentRateCi[1].toFixed(3)}), low-confidence ${pct(o.objects ? o.lowConfidence / o.objects : 0)}: it fails <b>${o.verdict}</b>. Claimed as ${esc(Object.entries(o.claimedAs).map(([k, v]) => `${k} ×${v}`).join(', ') || 'nothing')}.</p>`);
    h.push(histogramChart(`confidence on ${o.name}`, [{ name: 'known classes, nominal', counts: r.ood.nominal.bestScore }, { name: o.name, counts: o.bestScore }]));
  }
  if (r.ood.folder) h.push(`<p>OOD folder ${esc(r.ood.folder.path)}: ${r.ood.folder.withConfidentDetection} of ${r.ood.folder.images} images got a confident detection.</p>`);
  const p = r.provenance;
  h.push(`<h2>Provenance</h2><p>${p.synthetic ? 'Synthetic set.' : 'Not marked synthetic.'} ${p.profile ? `Profile ${esc(p.profile.file)}: ${p.profile.problem ? esc(p.profile.problem) : `${p.profile.frames} frames, ${p.profile.sameModel ? 'this model' : 'another model'}, ${p.profile.calibrated ? 'calibrated' : 'not calibrated'}`}.` : 'No profile.'} ${p.drifted ? `Drifted against training: ${esc(p.drifted.length ? p.drifted.map((d) => `${d.feature} (${d.mark})`).join(', ') : 'nothing')}.` : ''}</p>`);
  h.push(`<p class="meta">Evaluated in ${r.timing.seconds.toFixed(0)} s (${r.timing.imagesPerSecond.toFixed(1)} images/s). <code>${esc(r.command)}</code></p></body></html>\n`);
  return h.join('\n');
}
