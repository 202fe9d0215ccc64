/**
 * The evaluation set behind `driftline evaluate`: one shape for a labelled set whatever its on-disk
 * format (Ultralytics YOLO folders or a COCO json), so that the metrics and the report never look at
 * a file format. Boxes are in pixels of the image, class ids index `classNames`, and every image
 * carries its capture conditions (from the renderer's manifest, a COCO file's own `conditions`, and a
 * user's CSV) as text, for slicing the metrics. This module holds the types and picks the reader.
 */
import { extname, join, resolve } from 'node:path';
import { driftlineError } from '../../lib/errors.js';
import { readCoco } from './coco.js';
import { mergeConditions, readConditionCsv, type ConditionTable } from './condition-table.js';
import { kind, readYolo } from './yolo.js';

/** Pixels of the image; classId indexes EvalSet.classNames. */
export interface GroundTruthBox {
  readonly classId: number;
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
}

export interface EvalImage {
  /** Absolute path of the image. */
  readonly file: string;
  /** Path relative to the set's root, forward slashes (stable id, used in reports). */
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly objects: readonly GroundTruthBox[];
  /** Condition column -> value, as text ('' never stored: a missing value is absent). */
  readonly conditions: Readonly<Record<string, string>>;
  /**
   * Regions no labeller could call (COCO crowd boxes; the renderer's parts mostly out of view, or
   * with their notch out of view): no target, and a detection inside one is not a false alarm.
   * classId -1.
   */
  readonly ignore?: readonly GroundTruthBox[];
}

export interface EvalSet {
  readonly format: 'yolo' | 'coco';
  /** Absolute. */
  readonly root: string;
  readonly classNames: readonly string[];
  /** Classes the model was never trained on (data.yaml `held_out`), may be empty. */
  readonly heldOutClassIds: readonly number[];
  readonly images: readonly EvalImage[];
  /** Every condition column present, in first-seen order. */
  readonly conditionColumns: readonly string[];
  /** Things the reader skipped or assumed, one sentence each (COCO crowd boxes, manifest entries for deleted images). */
  readonly notes?: readonly string[];
  /** COCO only: `iscrowd: 1` annotations, kept out of `objects` as ignore regions (neither targets nor false positives). */
  readonly crowdSkipped?: number;
}

export interface ReadOptions {
  /** YOLO only (a COCO json is one split). Default: 'val' when the val folder has images, else 'train'. */
  readonly split?: 'train' | 'val' | 'all';
  /** Path of a conditions CSV; its columns replace same-named manifest columns. */
  readonly conditions?: string;
  /** Keep only these condition columns. */
  readonly columns?: readonly string[];
}

/** What a format reader returns: the set before the conditions CSV and the column filter. */
export interface LoadedSet extends Pick<EvalSet, 'format' | 'root' | 'classNames' | 'heldOutClassIds' | 'crowdSkipped'> {
  readonly images: readonly Omit<EvalImage, 'conditions'>[];
  /** Names of every image of the data set in any split (what a CSV row may name). */
  readonly allNames: readonly string[];
  /** Conditions the set carries itself (manifest.jsonl, COCO `conditions`), lowest precedence first. */
  readonly tables: readonly ConditionTable[];
  readonly notes: readonly string[];
}


/** The file a path names: a data.yaml, a folder holding one, or a COCO .json. */
async function locate(path: string): Promise<{ format: 'yolo' | 'coco'; file: string }> {
  const abs = resolve(path);
  const k = await kind(abs);
  if (k === undefined) throw driftlineError('DRIFTLINE_ERR_DATASET', { file: abs, reason: 'does not exist; expected a data.yaml, a folder holding one, or a COCO .json' });
  if (k === 'dir') {
    for (const n of ['data.yaml', 'data.yml']) if ((await kind(join(abs, n))) === 'file') return { format: 'yolo', file: join(abs, n) };
    throw driftlineError('DRIFTLINE_ERR_DATASET', { file: abs, reason: 'the folder holds no data.yaml; give the data.yaml or a COCO .json file itself' });
  }
  const ext = extname(abs).toLowerCase();
  if (ext === '.json') return { format: 'coco', file: abs };
  if (ext === '.yaml' || ext === '.yml') return { format: 'yolo', file: abs };
  throw driftlineError('DRIFTLINE_ERR_DATASET', { file: abs, reason: 'not a .yaml (Ultralytics data.yaml) or a .json (COCO) file' });
}

/** Reads an evaluation set: a data.yaml, a folder holding data.yaml, or a COCO .json file. */
export async function readEvalSet(path: string, o: ReadOptions = {}): Promise<EvalSet> {
  const { format, file } = await locate(path);
  const loaded = format === 'yolo' ? await readYolo(file, o.split) : await readCoco(file);
  const notes = [...loaded.notes];
  if (format === 'coco' && o.split !== undefined && o.split !== 'all') notes.push(`split ${o.split} ignored: a COCO file is one split`);
  const names = loaded.images.map((i) => i.name);
  const tables = [...loaded.tables];
  if (o.conditions !== undefined) {
    const csv = await readConditionCsv(resolve(o.conditions), { root: loaded.root, selected: new Set(names), all: loaded.allNames });
    if (csv.otherSplit > 0) notes.push(`${csv.source}: ${csv.otherSplit} rows name images of another split and were skipped`);
    tables.push(csv);
  }
  const merged = mergeConditions(names, tables, o.columns);
  return {
    format,
    root: loaded.root,
    classNames: loaded.classNames,
    heldOutClassIds: loaded.heldOutClassIds,
    images: loaded.images.map((i) => withIgnore({ ...i, conditions: merged.conditions.get(i.name) ?? {} }, tables)),
    conditionColumns: merged.columns,
    notes,
    ...(loaded.crowdSkipped === undefined ? {} : { crowdSkipped: loaded.crowdSkipped }),
  };
}

/**
 * Applies the manifest's ambiguous regions to an image: the labelled objects they stand for (a
 * missing_notch part with its notch out of view) leave the targets, and every region becomes an
 * ignore box.
 */
function withIgnore(im: EvalImage, tables: readonly ConditionTable[]): EvalImage {
  const regions = tables.map((t) => t.ignore?.get(im.name)).find((r) => r !== undefined);
  if (!regions) return im;
  for (const k of regions.objects) {
    const o = im.objects[k];
    const r = regions.boxes.find((b) => o !== undefined && Math.abs(b[0] - o.x1) < 0.02 && Math.abs(b[1] - o.y1) < 0.02 && Math.abs(b[2] - o.x2) < 0.02 && Math.abs(b[3] - o.y2) < 0.02);
    if (!r) {
      throw driftlineError('DRIFTLINE_ERR_DATASET', {
        file: im.file,
        reason: `the manifest's ignore region for object ${k} matches no labelled box of the image (${im.objects.length} objects): the label file and the manifest disagree`,
      });
    }
  }
  const drop = new Set(regions.objects);
  const ignore = [...(im.ignore ?? []), ...regions.boxes.map(([x1, y1, x2, y2]) => ({ classId: -1, x1, y1, x2, y2 }))];
  return { ...im, objects: im.objects.filter((_, k) => !drop.has(k)), ignore };
}

export { toCocoJson } from './coco.js';
