/** `driftline evaluate`: the production-readiness assessment of a model, written as report.html, report.md and report.json. */
import { constants } from 'node:fs';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseCorruptions } from '../agent/readiness/corruptions.js';
import { DEFAULT_TARGET, evaluate } from '../agent/readiness/evaluate.js';
import { renderHtml } from '../agent/readiness/html.js';
import { renderMarkdown } from '../agent/readiness/markdown.js';
import { RESIZE_MODES, type ResizeMode } from '../agent/preprocess/letterbox.js';
import { driftlineError } from '../lib/errors.js';
import { classThresholdsFlag, intFlag, numberFlag, parse, progressBar, providersFlag } from './args.js';

export const summary = 'assess a model for production: per-class errors, base rates, thresholds, conditions, latency, OOD (report.html)';

export const usage = `driftline evaluate --model M.onnx --data EVALSET [options]

Runs the model over a labelled evaluation set through the agent's own preprocessing, inference and
decoding, and writes a readiness report (report.html, report.md, report.json) whose checklist says
pass, warn or fail for: test-data provenance, class distribution and thresholds, per-class error
metrics, latency, out-of-distribution behaviour and drift monitoring. See docs/readiness.md.

EVALSET is a YOLO data.yaml (or the folder holding it) or a COCO .json file. Per-image conditions
come from the synthetic manifest.jsonl beside a data.yaml, or from a CSV (--conditions-csv).

Options:
  --model FILE           ONNX detector (required)
  --data EVALSET         the set scored (required)
  --tune-data EVALSET    a second set (another seed, another week) to choose the thresholds on;
                         without it they are chosen on --data itself, and the report says so
  --split S              val (default when the set has one), train or all
  --conditions COLS      condition columns to break the metrics down by (default: every one)
  --conditions-csv FILE  per-image conditions: an image column and free-form columns
  --base-rates LIST      production share of all objects per class, e.g. scratch=0.01,missing_notch=0.01
  --thresholds LIST      use these per-class thresholds (class=t,...) instead of recommending them
  --conf F               threshold for classes without one (default 0.25)
  --min-precision F      target precision per class, at production base rates (default ${DEFAULT_TARGET.minPrecision})
  --min-recall F         target recall per class (default ${DEFAULT_TARGET.minRecall})
  --max-fp-per-1000 N    target: at most N false alarms per 1,000 images per class
  --tolerance F          a condition is flagged when a class's precision or recall is more than F
                         below the rest of the set and the interval agrees (default 0.05)
  --agnostic             class-agnostic suppression of cross-class duplicates, as model.agnosticNms
  --agnostic-iou F       IoU above which two classes on one box are a duplicate (default 0.7)
  --class-priority LIST  classes that win a cross-class overlap, highest first (e.g. scratch,missing_notch)
  --corruptions LIST     all (default), none, or some of darker,brighter,warm-light,blur,noise,jpeg,occlusion,roll
  --corruption-images N  images per corruption setting (default 100)
  --ood DIR              a folder of out-of-distribution images (unlabelled)
  --profile FILE         the training profile (default: <model>.profile.json when it exists)
  --hardware-note TEXT   where latency was measured; start it with "production:" on production hardware
  --latency-budget MS    fail the latency row when p95 exceeds it
  --latency-runs N       timed inference calls per batch size (default 200)
  --providers LIST       execution providers (default cpu)
  --resize MODE          letterbox resampling, as model.resize (default auto)
  --out DIR              where the report goes (default ./readiness); made, and checked, before the work

Exit status: 0 when no checklist row fails (warnings included), 3 when one fails (the report is
written either way), 2 for a usage error, 1 for a data set, model or other error.
`;

/** The exit status of a run whose checklist has a failing row: the report is written, and a CI step stops. */
export const EXIT_FAIL = 3;

function listFlag(raw: unknown): string[] | undefined {
  return typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    model: { type: 'string' },
    data: { type: 'string' },
    'tune-data': { type: 'string' },
    split: { type: 'string' },
    conditions: { type: 'string' },
    'conditions-csv': { type: 'string' },
    'base-rates': { type: 'string' },
    thresholds: { type: 'string' },
    conf: { type: 'string' },
    'min-precision': { type: 'string' },
    'min-recall': { type: 'string' },
    'max-fp-per-1000': { type: 'string' },
    tolerance: { type: 'string' },
    agnostic: { type: 'boolean' },
    'agnostic-iou': { type: 'string' },
    'class-priority': { type: 'string' },
    corruptions: { type: 'string' },
    'corruption-images': { type: 'string' },
    ood: { type: 'string' },
    profile: { type: 'string' },
    'hardware-note': { type: 'string' },
    'latency-budget': { type: 'string' },
    'latency-runs': { type: 'string' },
    providers: { type: 'string' },
    resize: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const modelFile = str('model');
  const data = str('data');
  if (!modelFile || !data) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: '--model FILE and --data EVALSET are required' });
  const split = str('split');
  if (split !== undefined && !['train', 'val', 'all'].includes(split)) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--split ${split}: expected val, train or all` });
  const resize = str('resize');
  if (resize !== undefined && !(RESIZE_MODES as readonly string[]).includes(resize)) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--resize ${resize}: expected one of ${RESIZE_MODES.join(', ')}` });
  let corruptions;
  try {
    corruptions = parseCorruptions(str('corruptions') ?? 'all');
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--corruptions: ${(e as Error).message}` });
  }
  const maxFp = str('max-fp-per-1000');
  const note = str('hardware-note');
  const budget = str('latency-budget');
  const out = resolve(str('out') ?? 'readiness');
  // The report's folder before the work: a run of minutes is not lost to a path it cannot write. One
  // made here goes again if the run fails: nothing is left behind but a report.
  const made = await mkdir(out, { recursive: true }).catch((e: unknown) => e as Error);
  try {
    if (made instanceof Error) throw made;
    await access(out, constants.W_OK);
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `--out ${out}: the report cannot be written there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
  }
  let report;
  try {
    report = await evaluate({
      model: modelFile,
      data,
      ...(str('tune-data') ? { tuneData: str('tune-data')! } : {}),
      ...(split ? { split: split as 'train' | 'val' | 'all' } : {}),
      ...(str('conditions-csv') ? { conditionsCsv: str('conditions-csv')! } : {}),
      ...(listFlag(values.conditions) ? { columns: listFlag(values.conditions)! } : {}),
      ...(str('base-rates') ? { baseRates: str('base-rates')! } : {}),
      ...(classThresholdsFlag('thresholds', values.thresholds) ? { thresholds: classThresholdsFlag('thresholds', values.thresholds)! } : {}),
      conf: numberFlag('conf', values.conf, 0.25, 0, 1),
      target: {
        minPrecision: numberFlag('min-precision', values['min-precision'], DEFAULT_TARGET.minPrecision, 0, 1),
        minRecall: numberFlag('min-recall', values['min-recall'], DEFAULT_TARGET.minRecall, 0, 1),
        ...(maxFp !== undefined ? { maxFalseAlarmsPer1000: numberFlag('max-fp-per-1000', maxFp, 0, 0, 1e6) } : {}),
      },
      tolerance: numberFlag('tolerance', values.tolerance, 0.05, 0, 1),
      agnostic: values.agnostic === true,
      agnosticIou: numberFlag('agnostic-iou', values['agnostic-iou'], 0.7, 0, 1),
      ...(listFlag(values['class-priority']) ? { classPriority: listFlag(values['class-priority'])! } : {}),
      corruptions,
      corruptionImages: intFlag('corruption-images', values['corruption-images'], 100, 1),
      ...(str('ood') ? { oodDir: str('ood')! } : {}),
      ...(str('profile') ? { profile: str('profile')! } : {}),
      ...(note ? { hardwareNote: note, productionHardware: /^production\b/i.test(note) } : {}),
      ...(budget !== undefined ? { latencyBudgetMs: numberFlag('latency-budget', budget, 0, 0, 1e6) } : {}),
      latencyRuns: intFlag('latency-runs', values['latency-runs'], 200, 1),
      providers: providersFlag(str('providers') ?? 'cpu'),
      ...(resize ? { resize: resize as ResizeMode } : {}),
      command: ['driftline', 'evaluate', ...argv].map((a) => (/^[\w./:=,@+-]+$/.test(a) ? a : JSON.stringify(a))).join(' '),
      progress: progressBar(),
    });
  } catch (e) {
    if (typeof made === 'string') await rm(made, { recursive: true, force: true });
    throw e;
  }
  await writeFile(join(out, 'report.json'), JSON.stringify(report, null, 1) + '\n');
  await writeFile(join(out, 'report.md'), renderMarkdown(report));
  await writeFile(join(out, 'report.html'), renderHtml(report));
  const worst = report.checklist.some((c) => c.status === 'fail') ? 'fail' : report.checklist.some((c) => c.status === 'warn') ? 'warn' : 'pass';
  for (const c of report.checklist) process.stderr.write(`${c.status.padEnd(4)}  ${c.check}\n`);
  process.stdout.write(JSON.stringify({ out, verdict: worst, checklist: Object.fromEntries(report.checklist.map((c) => [c.id, c.status])), images: report.data.images, seconds: Math.round(report.timing.seconds) }) + '\n');
  return worst === 'fail' ? EXIT_FAIL : 0;
}
