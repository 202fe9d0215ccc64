/**
 * Writes models/line-detector.md, the shipped model's card, as a thin wrapper over `driftline
 * evaluate` (agent/readiness/evaluate.ts): one code path for the card and for any user's model.
 * It renders fresh nominal sets at the production defect rate (2%, seeds never used in training):
 * one to choose the per-class thresholds on, another to score them on, and a third with the
 * held-out burn defect on half the parts. It runs `evaluate` on them, writes the full readiness
 * report beside the model (models/line-detector.readiness/), and the card from the report.
 *
 *   node --import tsx models/training/card.ts      (npm run model-card; CARD_IMAGES=N to change 2000)
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { progressBar } from '../../cli/args.js';
import { loadModel } from '../../agent/infer/model.js';
import { buildChecklist } from '../../agent/readiness/checklist.js';
import { evaluate } from '../../agent/readiness/evaluate.js';
import { renderHtml } from '../../agent/readiness/html.js';
import { renderMarkdown } from '../../agent/readiness/markdown.js';
import type { ClassRow, ReadinessReport } from '../../agent/readiness/report.js';
import { conditionSpec, type ConditionValue } from '../../agent/synth/conditions.js';
import { writeDataset } from '../../agent/synth/dataset.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const MODEL = 'models/line-detector.onnx';
const IMAGES = Number(process.env.CARD_IMAGES ?? 2000);
const TUNE_SEED = 5101;
const SCORE_SEED = 5201;
const BURN_SEED = 5301;
/** Cross-class suppression as deploy/agent.example.yaml ships it. */
export const SUPPRESSION = { agnostic: true, agnosticIou: 0.7, classPriority: ['scratch', 'missing_notch'] } as const;
const BASE_RATES = 'scratch=0.01,missing_notch=0.01';

async function render(dir: string, seed: number, count: number, conditions: Record<string, ConditionValue>): Promise<string> {
  const marker = join(dir, '.complete');
  const key = JSON.stringify({ seed, count, conditions });
  if (existsSync(marker) && (await readFile(marker, 'utf8')) === key) return dir;
  await rm(dir, { recursive: true, force: true });
  const bar = progressBar();
  await writeDataset({ out: dir, count, seed, width: 640, height: 480, valFraction: 1, conditions: conditionSpec(conditions), onProgress: (d, t) => bar(`render seed ${seed}`, d, t) });
  await writeFile(marker, key);
  return dir;
}

const f3 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(3));
const ci = (v: readonly [number, number] | undefined): string => (v ? `${v[0].toFixed(3)}–${v[1].toFixed(3)}` : '');

function classTable(rows: readonly ClassRow[]): string {
  return [
    '| class | threshold | objects | TP | FP | FN | precision (95% CI) | recall (95% CI) | precision at 1% per defect class (95% CI) | FP / 1,000 images | AP@0.5 | AP@[.5:.95] |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | ---: | ---: |',
    ...rows.map(
      (c) =>
        `| ${c.name} | ${c.threshold.toFixed(2)} | ${c.objects} | ${c.tp} | ${c.fp} | ${c.fn} | **${f3(c.precision)}** (${ci(c.precisionCi)}) | **${f3(c.recall)}** (${ci(c.recallCi)}) | ${f3(c.productionPrecision)} (${ci(c.productionPrecisionCi)}) | ${c.fpPer1000.toFixed(1)} | ${f3(c.ap50)} | ${f3(c.ap5095)} |`,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const cache = join(ROOT, '.tmp', 'model-card');
  const nominal = { defectRate: 0.02 };
  const tune = await render(join(cache, 'tune'), TUNE_SEED, IMAGES, nominal);
  const scored = await render(join(cache, 'score'), SCORE_SEED, IMAGES, nominal);
  const burnt = await render(join(cache, 'burn'), BURN_SEED, Math.round(IMAGES / 8), { defectRate: 0.02, heldOutRate: 0.5 });
  const progress = progressBar();
  // Paths relative to the repository root, as the report prints them (npm run runs from there).
  process.chdir(ROOT);
  const common = { model: MODEL, ...SUPPRESSION, progress } as const;
  const report = await evaluate({
    ...common,
    data: scored,
    tuneData: tune,
    baseRates: BASE_RATES,
    corruptions: ['darker', 'brighter', 'warm-light', 'blur', 'noise', 'jpeg', 'occlusion', 'roll'],
    corruptionImages: 150,
    hardwareNote: 'the development machine, not production hardware',
    command: `driftline evaluate --model ${MODEL} --data <seed ${SCORE_SEED}> --tune-data <seed ${TUNE_SEED}> --base-rates ${BASE_RATES} --agnostic --class-priority ${SUPPRESSION.classPriority.join(',')}`,
  });
  // The burn set, scored at the thresholds chosen above: what the model does with a defect it never saw.
  const burn = await evaluate({ ...common, data: burnt, thresholds: report.thresholds.operating, corruptions: [], latencyRuns: 5, profile: '/nonexistent/no-provenance-for-the-burn-set' });
  const out = join(ROOT, 'models', 'line-detector.readiness');
  await mkdir(out, { recursive: true });
  // The burn set's held-out row joins the report, and the checklist is judged again with it.
  const ood = { ...report.ood, heldOut: burn.ood.heldOut };
  const checklist = buildChecklist({
    modelFile: MODEL,
    dataPath: report.data.path,
    classes: report.classes,
    targets: { minPrecision: report.thresholds.target.minPrecision ?? 0.95, minRecall: report.thresholds.target.minRecall ?? 0.95 },
    baseRatesGiven: report.baseRates !== undefined,
    flags: report.conditions.flags,
    ...(report.latency ? { latency: report.latency } : {}),
    productionHardware: false,
    corruptionsRun: report.ood.corruptions.length,
    corruptions: report.ood.corruptions,
    ...(report.ood.corruptionBaseline ? { corruptionBaseline: report.ood.corruptionBaseline } : {}),
    heldOut: ood.heldOut,
    oodFolder: false,
    provenance: report.provenance,
  });
  const merged: ReadinessReport = { ...report, checklist, ood };
  await writeFile(join(out, 'report.json'), JSON.stringify(merged, null, 1) + '\n');
  await writeFile(join(out, 'report.md'), renderMarkdown(merged));
  await writeFile(join(out, 'report.html'), renderHtml(merged));
  await writeFile(join(ROOT, 'models', 'line-detector.md'), await card(merged));
  process.stderr.write(`wrote models/line-detector.md and ${out}/report.{md,html,json}\n`);
}

async function card(r: ReadinessReport): Promise<string> {
  const model = await loadModel(join(ROOT, MODEL), { providers: ['cpu'] });
  const training = JSON.parse(model.header.metadata.training ?? '{}') as Record<string, unknown>;
  const lat = r.latency!;
  const status = r.checklist.map((c) => `| ${c.check} | **${c.status}** | ${c.evidence} |`).join('\n');
  const h = r.ood.heldOut[0];
  return `# Model card: line-detector

*Generated by \`npm run model-card\` (models/training/card.ts, a wrapper over \`driftline evaluate\`) from measurements; do not edit by hand. The full readiness report: [line-detector.readiness/report.md](line-detector.readiness/report.md) ([HTML](line-detector.readiness/report.html)).*

| | |
| --- | --- |
| File | \`${MODEL}\` (${(model.bytes / 1024).toFixed(0)} KiB, opset ${model.header.opsets[0]?.version}) |
| sha256 | \`${model.sha256}\` |
| Task | detect parts and part-level defects on the synthetic conveyor line |
| Classes | ${model.names.map((n, i) => `${i} \`${n}\``).join(', ')} |
| Not a class | \`burn\` and \`stain\`, defect types held out of training on purpose (see below) |
| Input | \`images\`, float32 [1, 3, ${model.inputH}, ${model.inputW}] RGB in [0, 1], letterboxed (a 640×480 frame maps at 0.4 with no padding) |
| Output | \`output0\`, [${model.outputDims.join(', ')}]: cx, cy, w, h in input pixels, then ${model.names.length} class scores (Ultralytics YOLOv8 layout, no NMS) |
| Embedding | ${model.embedding ? `\`${model.embedding.output}\`, [1, ${model.embedding.dim}, ${model.embedding.anchors}]: the backbone features both heads read at each anchor, for detection-level OOD scoring (docs/drift.md)` : 'none'} |
| Metadata | \`names\`, \`imgsz\` = \`${model.header.metadata.imgsz}\`, \`stride\` = \`${model.header.metadata.stride}\`, \`training\` |
| Parameters | ${String(training.parameters ?? 'unknown')} |
| Operating point | per-class thresholds (below), NMS IoU 0.45, ${SUPPRESSION.agnostic ? `class-agnostic suppression above IoU ${SUPPRESSION.agnosticIou} with ${SUPPRESSION.classPriority.join(' and ')} winning an overlap` : 'class-aware'} |

## Readiness checklist

| Check | Status | Evidence |
| --- | --- | --- |
${status}

## Training recipe

\`${String(training.command ?? `/usr/bin/python3 models/training/train.py --steps ${String(training.steps ?? '?')}`)}\` (see [training/README.md](training/README.md)):
${String(training.images ?? '?')} rendered training images (seed ${String(training.seed ?? '?')}), ${String(training.steps ?? '?')} AdamW steps at batch ${String(training.batch ?? '?')}, lr ${String(training.lr ?? '?')} with cosine decay, ${String(training.threads ?? '?')} threads${training.seconds ? `, ${Math.round(Number(training.seconds) / 60)} minutes of training here` : ''}. Conditions: \`${String(training.conditions ?? '?')}\`.

## Held-out evaluation at the production defect rate

${r.data.images} freshly rendered nominal 640×480 images (seed ${SCORE_SEED}, 2% of parts defective), thresholds chosen on ${r.data.tuning?.images ?? '?'} others (seed ${TUNE_SEED}) for precision and recall ≥ 0.95, COCO matching at IoU 0.5. "Precision at 1% per defect class" re-weights to a line where each defect class is 1% of parts (docs/readiness.md).

${classTable(r.classes)}

mAP@0.5 ${f3(r.map50)}, mAP@[.5:.95] ${f3(r.map5095)}. Cross-class duplicates (one part under two classes): ${r.duplicates.classAware} with class-aware NMS, ${r.duplicates.agnostic} with the class-agnostic suppression above.

The thresholds, as the agent takes them (\`deploy/agent.example.yaml\` shows them with the profile they need):

\`\`\`yaml
${r.thresholds.classConfYaml.trimEnd()}
\`\`\`

## Under corruption

${r.ood.corruptions[0]?.images ?? 0} images of the scored set per setting. Silent: a confident detection of the wrong class; low-confidence: nothing confident.

| corruption | severity | setting | precision | recall | silent | low-confidence |
| --- | ---: | --- | ---: | ---: | ---: | ---: |
${r.ood.corruptions.map((c) => `| ${c.corruption} | ${c.severity} | ${c.setting} | ${f3(c.precision)} | ${f3(c.recall)} | ${(100 * c.silentRate).toFixed(1)}% | ${(100 * c.lowConfidenceRate).toFixed(1)}% |`).join('\n')}

## Out of distribution: the held-out \`burn\` defect

${h ? `${h.objects} burnt parts (seed ${BURN_SEED}, half of all parts burnt). The model has no class for them. ${h.silent} (${f3(h.silentRate)}, 95% CI ${ci(h.silentRateCi)}) were claimed confidently as ${Object.entries(h.claimedAs).map(([k, v]) => `\`${k}\` ×${v}`).join(', ') || 'nothing'}: the model fails **${h.verdict}** on them. Mean best score on a burnt part: ${f3(h.meanBestScore)}. This is why Driftline scores each detection against its class's reference detections (detection-level OOD on \`embed0\` and the box's colours: AUROC 0.995 for burnt parts against known defects, docs/drift.md) instead of trusting confidence.` : 'Not measured.'}

## Latency

\`session.run\`, batch ${lat.batch === 'dynamic' ? 'dynamic' : `fixed at ${lat.batch}`}, ${String(lat.hardware.cpu)} (${String(lat.hardware.cores)} cores), ${String(lat.hardware.provider)}, ${String(lat.hardware.intraOpThreads)} intra-op thread, onnxruntime ${String(lat.hardware.onnxruntime)}: p50 ${lat.rows[0]!.p50Ms.toFixed(2)} ms, p95 ${lat.rows[0]!.p95Ms.toFixed(2)} ms, p99 ${lat.rows[0]!.p99Ms.toFixed(2)} ms. This is the development machine, not production hardware. The whole path on 1080p frames is in [docs/performance.md](../docs/performance.md).

## Limits

- The model was trained only on the synthetic line. It is a reference model for Driftline's own tests,
  demo and benchmarks, not a model for a real plant; its provenance row warns, as it should.
- Under heavy corruption quality falls, as the table above shows. That fall is what Driftline's drift
  detection is built to catch before it costs parts.
- It cries wolf under two mild shifts, and the OOD row warns with the counts. A camera turned by
  3 degrees brings out about 9 extra bracket detections a frame, scoring around 0.24: above the
  recommended bracket threshold (about 0.1, low because nothing else on the nominal line scores
  that high). A grey band over 15% of the view brings out about 5 missing_notch detections a
  frame, scoring around 0.99. Expect false alarms, and a drift alert, when a camera is knocked or
  something hangs in front of it (counted on 30 images of the scored set, 2026-12-02).
`;
}

await main();
