/**
 * `driftline evaluate`, the production-readiness assessment, as a function: one pass of the model
 * over the evaluation set (and over a separate tuning set, when given, for choosing thresholds),
 * then every measurement from those detections: per-class errors with intervals, precision at
 * production base rates, recommended per-class thresholds, per-condition breakdowns, cross-class
 * duplicates, latency, out-of-distribution behaviour under corruptions and on held-out classes,
 * provenance against the training profile, and the checklist that sums it up (checklist.ts).
 *
 * It composes the agent's own stages (decoder, letterbox, Detector, profile, drift marks), so the
 * numbers are what the agent will see. The CLI (cli/evaluate.ts) parses flags and writes files;
 * models/training/card.ts calls this to write the shipped model's card.
 */
import { existsSync } from 'node:fs';
import { driftlineError } from '../../lib/errors.js';
import { profilePathFor } from '../drift/profile.js';
import { Detector } from '../infer/detector.js';
import { loadModel, type LoadedModel } from '../infer/model.js';
import type { ProviderChoice } from '../infer/providers.js';
import type { ResizeMode } from '../preprocess/letterbox.js';
import { listImages } from '../source/image-dir.js';
import { classConfYaml, parseBaseRates, prCurve, prevalenceWeights, recommendThresholds, reweightedPrecision, type ClassWeights, type ThresholdTarget } from './base-rates.js';
import { breakdown } from './breakdown.js';
import { buildChecklist } from './checklist.js';
import { corrupt, corruptBoxes, corruptGroundTruth, describeCorruption, CORRUPTION_LEVELS, type CorruptionName } from './corruptions.js';
import { readEvalSet, type EvalSet } from './dataset.js';
import { crossClassDuplicates } from './duplicates.js';
import { dominantFailure, FailureCounter, topScoreHistogram } from './failures.js';
import { wilson } from './intervals.js';
import { measureLatency } from './latency.js';
import { evaluateClasses, type Box, type ClassReport, type ScoredBox } from './metrics.js';
import { checkProfile, compareWithTraining, isSynthetic } from './provenance.js';
import { REPORT_SCHEMA, type ClassRow, type CorruptionRow, type HeldOutRow, type PrCurve, type ReadinessReport } from './report.js';
import { DetectionSelector, dropIgnored, runDetections, type ImageDetections } from './runner.js';

export interface EvaluateOptions {
  readonly model: string;
  readonly data: string;
  /** A second set to choose thresholds on (another seed, another week): scores are then honest. */
  readonly tuneData?: string;
  readonly split?: 'train' | 'val' | 'all';
  /** CSV of per-image conditions; `columns` keeps only those condition columns. */
  readonly conditionsCsv?: string;
  readonly columns?: readonly string[];
  /** `class=share,...` of all objects in production. */
  readonly baseRates?: string;
  /** The training profile; default: the model's `<model>.profile.json` when it exists. */
  readonly profile?: string;
  readonly hardwareNote?: string;
  /** The hardware note names production hardware (`--hardware-note "production: ..."`). */
  readonly productionHardware?: boolean;
  readonly latencyBudgetMs?: number;
  readonly providers?: readonly ProviderChoice[];
  readonly resize?: ResizeMode;
  /** Given thresholds by class name; without them, thresholds are recommended. */
  readonly thresholds?: Readonly<Record<string, number>>;
  /** The threshold of classes the recommendation or the given ones leave out (default 0.25). */
  readonly conf?: number;
  readonly target?: ThresholdTarget;
  readonly tolerance?: number;
  readonly agnostic?: boolean;
  readonly agnosticIou?: number;
  readonly classPriority?: readonly string[];
  readonly corruptions?: readonly CorruptionName[];
  /** Images per corruption setting (default 100, the first of the set). */
  readonly corruptionImages?: number;
  readonly oodDir?: string;
  readonly latencyRuns?: number;
  /** The command line, for the report. */
  readonly command?: string;
  /** Progress of each stage: (stage, done, total). */
  readonly progress?: (stage: string, done: number, total: number) => void;
}

/** The default targets: the bar the issue sets for a model to ship. */
export const DEFAULT_TARGET: Required<Pick<ThresholdTarget, 'minPrecision' | 'minRecall'>> = { minPrecision: 0.95, minRecall: 0.95 };
const FLOOR = 0.001;

interface Scored {
  readonly set: EvalSet;
  /** Ground truth per image in model class indices; objects of classes the model lacks are left out. */
  readonly gts: Box[][];
  /** Objects of classes the model lacks, per image, with their set class id. */
  readonly heldOut: Box[][];
  readonly run: ImageDetections[];
  readonly msPerImage: number;
  readonly inferenceMsPerImage: number;
}

/**
 * Maps a set's classes onto the model's by name. A class the set marks held out (data.yaml
 * `held_out`) maps to none even when the model carries its name: it was never trained on.
 */
function classMap(set: EvalSet, model: LoadedModel): Int32Array {
  const held = new Set(set.heldOutClassIds);
  return Int32Array.from(set.classNames, (n, c) => (held.has(c) ? -1 : model.names.indexOf(n)));
}

async function score(detector: Detector, model: LoadedModel, set: EvalSet, stage: string, o: EvaluateOptions): Promise<Scored> {
  const map = classMap(set, model);
  const gts = set.images.map((im) => im.objects.filter((b) => map[b.classId]! >= 0).map((b) => ({ ...b, classId: map[b.classId]! })));
  const heldOut = set.images.map((im) => im.objects.filter((b) => map[b.classId]! < 0));
  const r = await runDetections(
    detector,
    set.images.map((im) => im.file),
    { progress: (d, t) => o.progress?.(stage, d, t) },
  );
  const run = r.images.map((im, i) => dropIgnored(im, set.images[i]!.ignore ?? [], set.images[i]!.objects));
  return { set, gts, heldOut, run, msPerImage: r.msPerImage, inferenceMsPerImage: r.inferenceMsPerImage };
}

/**
 * The points of a PR curve (recall, precision) that a chart can show: a point is kept when it moves
 * recall or precision by at least 0.005 from the last one kept, and the last point always. A curve
 * over every detection down to the floor has thousands of points, most of them false positives
 * at the tail that change neither.
 */
function thin(points: readonly { recall: number; precision: number }[]): [number, number][] {
  const out: [number, number][] = [];
  let last: [number, number] | undefined;
  for (const p of points) {
    if (!Number.isFinite(p.recall) || !Number.isFinite(p.precision)) continue;
    if (last && Math.abs(p.recall - last[0]) < 0.005 && Math.abs(p.precision - last[1]) < 0.005) continue;
    last = [p.recall, p.precision];
    out.push(last);
  }
  const end = points[points.length - 1];
  if (end && Number.isFinite(end.recall) && Number.isFinite(end.precision) && (!last || last[0] !== end.recall || last[1] !== end.precision)) out.push([end.recall, end.precision]);
  return out;
}

export async function evaluate(o: EvaluateOptions): Promise<ReadinessReport> {
  const t0 = performance.now();
  const model = await loadModel(o.model, { providers: [...(o.providers ?? ['cpu'])], intraOpThreads: 1 });
  const names = model.names;
  const nc = names.length;
  const set = await readEvalSet(o.data, { ...(o.split ? { split: o.split } : {}), ...(o.conditionsCsv ? { conditions: o.conditionsCsv } : {}), ...(o.columns ? { columns: o.columns } : {}) });
  if (set.images.length === 0) throw driftlineError('DRIFTLINE_ERR_DATASET', { file: o.data, reason: 'the evaluation set has no images' });
  const tuneSet = o.tuneData ? await readEvalSet(o.tuneData, o.split ? { split: o.split } : {}) : undefined;
  // Read before the work, like the sets: a folder that is missing or holds no image fails now, not
  // after the detections and corruptions it would have followed.
  let oodFiles: string[] | undefined;
  if (o.oodDir) {
    try {
      oodFiles = await listImages(o.oodDir);
    } catch (e) {
      throw driftlineError('DRIFTLINE_ERR_DATASET', { file: o.oodDir, reason: `the OOD folder (--ood) cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }, { cause: e });
    }
    if (!oodFiles.length) throw driftlineError('DRIFTLINE_ERR_DATASET', { file: o.oodDir, reason: 'the OOD folder (--ood) holds no image' });
  }
  const priority = (o.classPriority ?? []).map((n, k, all) => {
    const i = names.indexOf(n);
    if (i < 0) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `class priority names unknown class ${JSON.stringify(n)}; the model has ${names.join(', ')}` });
    if (all.indexOf(n) !== k) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `class priority names ${n} twice` });
    return i;
  });
  const priorities = Float64Array.from(names, (_, c) => (priority.includes(c) ? priority.length - priority.indexOf(c) : 0));
  const detector = new Detector(model, { conf: FLOOR, candidateFloor: FLOOR, slots: 1, maxDet: 300, ...(o.resize ? { resize: o.resize } : {}) });
  const main = await score(detector, model, set, 'detect', o);
  const tune = tuneSet ? await score(detector, model, tuneSet, 'detect (tuning set)', o) : undefined;
  const selector = new DetectionSelector();
  const allDets = (s: Scored): ScoredBox[][] => s.run.map((im) => selector.all(im));
  const mainAll = allDets(main);

  // Thresholds: given, or recommended on the tuning set (else on the evaluation set itself).
  const conf = o.conf ?? 0.25;
  const target: ThresholdTarget = o.target ?? DEFAULT_TARGET;
  const baseRates = o.baseRates ? parseBaseRates(o.baseRates, names) : undefined;
  const weightsFor = (gt: ArrayLike<number>): ClassWeights[] | undefined => (baseRates ? [...prevalenceWeights(gt, baseRates).weights] : undefined);
  const thresholds = new Float64Array(nc).fill(conf);
  let source: 'recommended' | 'given' = 'recommended';
  const unmet: Record<string, string[]> = {};
  if (o.thresholds) {
    source = 'given';
    for (const [n, v] of Object.entries(o.thresholds)) {
      const i = names.indexOf(n);
      if (i < 0) throw driftlineError('DRIFTLINE_ERR_USAGE', { reason: `thresholds name unknown class ${JSON.stringify(n)}; the model has ${names.join(', ')}` });
      thresholds[i] = v;
    }
  } else {
    const basis = tune ?? main;
    const basisReports = evaluateClasses(basis.gts.map((g, i) => ({ gts: g, dets: basis === main ? mainAll[i]! : selector.all(basis.run[i]!) })), nc, { thresholds });
    const gt = basisReports.slice(0, nc).map((r) => r.groundTruth);
    const choices = recommendThresholds(basisReports.slice(0, nc).map((r) => r.scored), gt, basis.run.length, target, weightsFor(gt));
    for (const c of choices) {
      if (Number.isFinite(c.threshold)) thresholds[c.classId] = c.threshold;
      if (!c.met) unmet[names[c.classId]!] = [...c.failed];
    }
  }
  const agnosticOptions = { thresholds, agnostic: true, agnosticIou: o.agnosticIou ?? 0.7, classPriority: priorities };
  const selectOptions = o.agnostic ? agnosticOptions : { thresholds };
  const operating = main.run.map((im) => selector.select(im, selectOptions));
  // Duplicates are counted both ways; the operating selection is one of the two.
  const classAware = o.agnostic ? main.run.map((im) => selector.select(im, { thresholds })) : operating;
  const agnosticSel = o.agnostic ? operating : main.run.map((im) => selector.select(im, agnosticOptions));

  // Per class: AP and the PR curve from every detection; counts at the operating point from what the agent would report.
  const curves = evaluateClasses(main.gts.map((g, i) => ({ gts: g, dets: mainAll[i]! })), nc, { thresholds });
  const atOp = o.agnostic ? evaluateClasses(main.gts.map((g, i) => ({ gts: g, dets: operating[i]! })), nc, { thresholds }) : curves;
  const gtCounts = curves.slice(0, nc).map((r) => r.groundTruth);
  const prevalence = baseRates ? prevalenceWeights(gtCounts, baseRates) : undefined;
  const classes: ClassRow[] = atOp.slice(0, nc).map((r: ClassReport, c) => {
    const prod = prevalence ? reweightedPrecision(r.tp, r.fp, prevalence.weights[c]!) : undefined;
    return {
      name: names[c]!,
      threshold: thresholds[c]!,
      objects: r.groundTruth,
      tp: r.tp,
      fp: r.fp,
      fn: r.fn,
      precision: r.precision,
      precisionCi: [r.intervals.precision.lo, r.intervals.precision.hi],
      recall: r.recall,
      recallCi: [r.intervals.recall.lo, r.intervals.recall.hi],
      missRate: r.missRate,
      missRateCi: [r.intervals.missRate.lo, r.intervals.missRate.hi],
      fpPer1000: r.fpPer1000Images,
      fpPer1000Ci: [r.intervals.fpPer1000Images.lo, r.intervals.fpPer1000Images.hi],
      ap50: curves[c]!.ap50,
      ap5095: curves[c]!.ap5095,
      ...(prod ? { productionPrecision: prod.precision, productionPrecisionCi: [prod.interval.lo, prod.interval.hi] as const } : {}),
    };
  });
  const aggregate = curves[nc]!;
  const prCurves: PrCurve[] = curves.slice(0, nc).map((r, c) => {
    const pts = prCurve(r.scored, r.groundTruth, prevalence?.weights[c]);
    const row = classes[c]!;
    return {
      name: names[c]!,
      evaluation: thin(pts),
      ...(prevalence ? { production: thin(pts.map((p) => ({ recall: p.recall, precision: p.productionPrecision }))) } : {}),
      operating: [row.recall, row.productionPrecision ?? row.precision],
    };
  });

  // Duplicates with and without agnostic suppression.
  const dupAware = crossClassDuplicates(classAware.map((dets) => ({ dets })));
  const dupAgnostic = crossClassDuplicates(agnosticSel.map((dets) => ({ dets })));

  // Conditions.
  const tolerance = o.tolerance ?? 0.05;
  const bd = breakdown(
    main.gts.map((g, i) => ({ gts: g, dets: operating[i]!, conditions: set.images[i]!.conditions })),
    nc,
    { thresholds, tolerance },
  );

  // Out of distribution: nominal failures, held-out classes, corruptions, an OOD folder.
  const modelClassOf = (c: number): number => c;
  const nominal = new FailureCounter(thresholds, modelClassOf);
  main.gts.forEach((g, i) => nominal.add(g, operating[i]!, mainAll[i]!));
  const nominalTally = nominal.tally();
  const heldOut: HeldOutRow[] = [];
  const heldOutIds = [...new Set(main.heldOut.flat().map((b) => b.classId))].sort((a, b) => a - b);
  for (const id of heldOutIds) {
    const f = new FailureCounter(thresholds, () => -1);
    main.heldOut.forEach((objs, i) => f.add(objs.filter((b) => b.classId === id), operating[i]!, mainAll[i]!));
    const t = f.tally();
    const ci = wilson(t.silent, t.objects);
    heldOut.push({
      name: set.classNames[id]!,
      objects: t.objects,
      silent: t.silent,
      lowConfidence: t.lowConfidence,
      silentRate: t.objects ? t.silent / t.objects : Number.NaN,
      silentRateCi: [ci.lo, ci.hi],
      verdict: dominantFailure(t),
      claimedAs: Object.fromEntries(t.silentAs.map((n, c) => [names[c]!, n] as const).filter(([, n]) => n > 0)),
      meanBestScore: t.meanBestScore,
      bestScore: t.bestScore,
    });
  }
  const corruptions: CorruptionRow[] = [];
  const cImages = Math.min(set.images.length, o.corruptionImages ?? 100);
  // The corruptions' own baseline: the same images, uncorrupted (a set sorted by camera or shift
  // can differ in its first images from the whole).
  const cNominal = evaluateClasses(main.gts.slice(0, cImages).map((g, i) => ({ gts: g, dets: operating[i]! })), nc, { thresholds })[nc]!;
  const corruptionBaseline = { images: cImages, precision: cNominal.precision, falseAlarms: cNominal.fp };
  const cList = o.corruptions ?? [];
  let cDone = 0;
  if (cList.length) o.progress?.('corruptions', 0, cList.length * CORRUPTION_LEVELS.length); // the stage's clock starts with its work
  for (const name of cList) {
    for (const s of CORRUPTION_LEVELS) {
      const files = set.images.slice(0, cImages).map((im) => im.file);
      const r = await runDetections(detector, files, { transform: (f, i) => corrupt(f, name, s, 1000 * s + i) });
      const f = new FailureCounter(thresholds, modelClassOf);
      const imgs = r.images.map((raw, i) => {
        const { width, height } = set.images[i]!;
        const moved = corruptGroundTruth(main.gts[i]!, name, s, width, height);
        const g = moved.boxes;
        const ignore = [...corruptBoxes(set.images[i]!.ignore ?? [], name, s, width, height), ...moved.ignore];
        const im = dropIgnored(raw, ignore, [...g, ...corruptBoxes(main.heldOut[i]!, name, s, width, height)]);
        const dets = selector.select(im, selectOptions);
        f.add(g, dets, selector.all(im));
        return { gts: g, dets };
      });
      const agg = evaluateClasses(imgs, nc, { thresholds })[nc]!;
      const t = f.tally();
      const ci = wilson(t.silent, t.objects);
      corruptions.push({
        corruption: name,
        severity: s,
        setting: describeCorruption(name, s),
        images: files.length,
        objects: t.objects,
        falseAlarms: agg.fp,
        precision: agg.precision,
        recall: agg.recall,
        silentRate: t.objects ? t.silent / t.objects : Number.NaN,
        silentRateCi: [ci.lo, ci.hi],
        lowConfidenceRate: t.objects ? t.lowConfidence / t.objects : Number.NaN,
        meanBestScore: t.meanBestScore,
        bestScore: t.bestScore,
      });
      o.progress?.('corruptions', ++cDone, cList.length * CORRUPTION_LEVELS.length);
    }
  }
  let folder: ReadinessReport['ood']['folder'];
  if (o.oodDir && oodFiles) {
    const r = await runDetections(detector, oodFiles, { progress: (d, t) => o.progress?.('ood folder', d, t) });
    const dets = r.images.map((im) => selector.select(im, selectOptions));
    folder = { path: o.oodDir, images: oodFiles.length, withConfidentDetection: dets.filter((d) => d.length > 0).length, topScore: topScoreHistogram(r.images.map((im) => selector.all(im))) };
  }

  // Latency, then provenance and drift readiness against the training profile.
  const latency = await measureLatency(model, { runs: o.latencyRuns ?? 200, ...(o.hardwareNote ? { note: o.hardwareNote } : {}), progress: (d, t) => o.progress?.('latency', d, t) });
  await detector.close();
  const profileFile = o.profile ?? (existsSync(profilePathFor(o.model)) ? profilePathFor(o.model) : undefined);
  let provenance: ReadinessReport['provenance'] = { synthetic: isSynthetic(set.root) };
  if (profileFile) {
    const { check, profile } = await checkProfile(profileFile, model);
    provenance = { ...provenance, profile: check };
    if (profile && check.sameModel) {
      const cmp = await compareWithTraining(model, profile, set.images.map((im) => im.file), set.root, (d, t) => o.progress?.('provenance', d, t));
      provenance = { ...provenance, drifted: cmp.drifted, indistinguishable: cmp.indistinguishable, insufficient: cmp.insufficient };
    }
  }

  const objects: Record<string, number> = {};
  for (const im of set.images) for (const b of im.objects) objects[set.classNames[b.classId]!] = (objects[set.classNames[b.classId]!] ?? 0) + 1;
  const latencyReport = { batch: latency.batch, rows: latency.rows, hardware: { ...latency.hardware } };
  const targets = { minPrecision: target.minPrecision ?? DEFAULT_TARGET.minPrecision, minRecall: target.minRecall ?? DEFAULT_TARGET.minRecall, ...(target.maxFalseAlarmsPer1000 !== undefined ? { maxFalseAlarmsPer1000: target.maxFalseAlarmsPer1000 } : {}) };
  const flags = bd.flags.map((f) => ({
    column: f.column,
    value: f.value,
    className: names[f.classId]!,
    metric: f.metric,
    got: f.estimate,
    interval: [f.interval.lo, f.interval.hi] as const,
    nominal: f.nominal,
  }));
  const checklist = buildChecklist({
    modelFile: o.model,
    dataPath: o.data,
    classes,
    targets,
    baseRatesGiven: baseRates !== undefined,
    flags,
    latency: latencyReport,
    ...(o.latencyBudgetMs !== undefined ? { latencyBudgetMs: o.latencyBudgetMs } : {}),
    productionHardware: o.productionHardware ?? false,
    corruptionsRun: corruptions.length,
    corruptions,
    corruptionBaseline,
    heldOut,
    oodFolder: folder !== undefined,
    provenance,
  });
  const thresholdsByName = Object.fromEntries(names.map((n, c) => [n, thresholds[c]!]));
  return {
    schema: REPORT_SCHEMA,
    createdAt: new Date().toISOString(),
    command: o.command ?? `driftline evaluate --model ${o.model} --data ${o.data}`,
    model: { file: o.model, sha256: model.sha256, names, provider: model.provider },
    data: {
      path: o.data,
      format: set.format,
      images: set.images.length,
      objects,
      conditionColumns: set.conditionColumns,
      notes: set.notes ?? [],
      ...(tune && o.tuneData ? { tuning: { path: o.tuneData, images: tune.run.length } } : {}),
    },
    checklist,
    thresholds: {
      operating: thresholdsByName,
      source,
      target: targets,
      chosenOn: tune ? 'tuning set' : 'the evaluation set itself',
      classConfYaml: classConfYaml(thresholds, names, source === 'given' ? 'exact' : 'down'),
      unmet,
      suppression: { agnostic: o.agnostic ?? false, agnosticIou: o.agnosticIou ?? 0.7, classPriority: o.classPriority ?? [] },
    },
    ...(prevalence
      ? {
          baseRates: {
            evaluation: Object.fromEntries(names.map((n, c) => [n, prevalence.evaluation[c]!])),
            production: Object.fromEntries(names.map((n, c) => [n, prevalence.production[c]!])),
            method:
              'Prior-shift reweighting per class: true positives scale by p_prod / p_eval, false positives (which come from the other classes) by (1 - p_prod) / (1 - p_eval), where p is the share of all objects; recall does not change. The interval is the Wilson interval of the evaluation precision mapped through the same reweighting.',
          },
        }
      : {}),
    classes,
    map50: aggregate.ap50,
    map5095: aggregate.ap5095,
    prCurves,
    duplicates: {
      classAware: dupAware.pairs,
      agnostic: dupAgnostic.pairs,
      byPair: Object.fromEntries(dupAware.byClassPair.map((p) => [`${names[p.a]}+${names[p.b]}`, p.count])),
    },
    conditions: {
      tolerance,
      // A column with one value breaks nothing down: it is left out.
      groups: bd.columns.filter((col) => col.groups.length > 1).flatMap((col) =>
        col.groups.map((g) => ({
          column: col.column,
          value: g.value,
          images: g.images,
          classes: g.classes.map((c) => ({ name: names[c.classId]!, objects: c.groundTruth, precision: c.precision.value, recall: c.recall.value })),
        })),
      ),
      flags,
    },
    latency: latencyReport,
    ood: { nominal: { meanBestScore: nominalTally.meanBestScore, bestScore: nominalTally.bestScore, silentRate: nominalTally.objects ? nominalTally.silent / nominalTally.objects : Number.NaN }, corruptions, ...(corruptions.length ? { corruptionBaseline } : {}), heldOut, ...(folder ? { folder } : {}) },
    provenance,
    timing: { seconds: (performance.now() - t0) / 1000, imagesPerSecond: 1000 / main.msPerImage, inferenceMsPerImage: main.inferenceMsPerImage },
  };
}

