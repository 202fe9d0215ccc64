/**
 * COCO detection json as an evaluation set, and back. Labelling tools (CVAT, Label Studio, Roboflow)
 * export COCO more often than YOLO, and a readiness report must not depend on which one a line's
 * labels came in: `toCocoJson` writes any set as COCO so that a test can show both readers give the
 * same images, boxes and conditions. Crowd regions (`iscrowd: 1`) are left out of the targets and
 * counted, since a detector is not expected to find one box per crowd.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { driftlineError } from '../../lib/errors.js';
import { nameOf, tableOf } from './condition-table.js';
import type { EvalSet, GroundTruthBox, LoadedSet } from './dataset.js';
import { mapLimit, probeImage } from './yolo.js';

/** A bbox may overhang its image by this many pixels (COCO's own labels do, by fractions) and is clipped. */
export const BBOX_TOLERANCE_PX = 1;

export interface CocoImage {
  readonly id: number;
  readonly file_name: string;
  readonly width: number;
  readonly height: number;
  /** Driftline's extension: the image's condition values, read back as the set's own conditions. */
  readonly conditions?: Readonly<Record<string, string>>;
}

export interface CocoAnnotation {
  readonly id: number;
  readonly image_id: number;
  readonly category_id: number;
  /** [x, y, width, height] in pixels. */
  readonly bbox: readonly [number, number, number, number];
  readonly area: number;
  readonly iscrowd: 0 | 1;
}

export interface CocoCategory {
  readonly id: number;
  readonly name: string;
  readonly supercategory: string;
  /** Driftline's extension: a class the model was never trained on (data.yaml `held_out`). */
  readonly held_out?: boolean;
}

export interface CocoDocument {
  readonly info: { readonly description: string; readonly version: string };
  readonly licenses: readonly never[];
  readonly images: readonly CocoImage[];
  readonly annotations: readonly CocoAnnotation[];
  readonly categories: readonly CocoCategory[];
  /** Driftline's extension: the set's condition columns in order (an image leaves out the ones it has no value for). */
  readonly condition_columns?: readonly string[];
}

/**
 * Writes a set as a COCO document: file_name is the image's name (relative to set.root, so write the
 * json into set.root), category id = class id + 1 (0 is background to some tools); held-out classes,
 * each image's conditions and the column order ride in extension fields (`held_out`, `conditions`,
 * `condition_columns`) that readCoco reads back and other COCO tools ignore.
 */
export function toCocoJson(set: EvalSet): CocoDocument {
  const annotations: CocoAnnotation[] = [];
  const images = set.images.map((img, k): CocoImage => {
    for (const o of img.objects) {
      const w = o.x2 - o.x1;
      const h = o.y2 - o.y1;
      annotations.push({ id: annotations.length + 1, image_id: k + 1, category_id: o.classId + 1, bbox: [o.x1, o.y1, w, h], area: w * h, iscrowd: 0 });
    }
    // Ignore regions go out as crowd annotations (of the first category; they are read back class-free).
    for (const o of img.ignore ?? []) {
      const w = o.x2 - o.x1;
      const h = o.y2 - o.y1;
      annotations.push({ id: annotations.length + 1, image_id: k + 1, category_id: 1, bbox: [o.x1, o.y1, w, h], area: w * h, iscrowd: 1 });
    }
    const base = { id: k + 1, file_name: img.name, width: img.width, height: img.height };
    return Object.keys(img.conditions).length > 0 ? { ...base, conditions: { ...img.conditions } } : base;
  });
  const held = new Set(set.heldOutClassIds);
  const categories = set.classNames.map((name, id): CocoCategory => ({ id: id + 1, name, supercategory: 'object', ...(held.has(id) ? { held_out: true } : {}) }));
  const doc = { info: { description: `driftline evaluation set (from ${set.format} at ${set.root})`, version: '1.0' }, licenses: [], images, annotations, categories };
  return set.conditionColumns.length > 0 ? { ...doc, condition_columns: [...set.conditionColumns] } : doc;
}

type Obj = Record<string, unknown>;
const isList = (v: unknown): v is readonly unknown[] => Array.isArray(v);
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number | string => (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v !== '');

const at = (file: string, location: string, reason: string): Error => driftlineError('DRIFTLINE_ERR_DATASET', { file, location, reason });

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** 1-based line of a JSON.parse error, from V8's "(line L column C)" or "at position N". */
function jsonErrorLine(text: string, message: string): number | undefined {
  const l = /\(line (\d+) column \d+\)/.exec(message);
  if (l) return Number(l[1]);
  const p = /in JSON at position (\d+)/.exec(message);
  if (p) return text.slice(0, Number(p[1])).split('\n').length;
  return undefined;
}

function parseJson(file: string, text: string): Obj {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const line = jsonErrorLine(text, (e as Error).message);
    const msg = (e as Error).message.replace(/\s+/g, ' ');
    const reason = `not valid JSON: ${msg.length > 200 ? `${msg.slice(0, 200)}...` : msg}`;
    throw driftlineError('DRIFTLINE_ERR_DATASET', line === undefined ? { file, reason } : { file, line, reason }, { cause: e });
  }
  if (!isObj(doc)) throw driftlineError('DRIFTLINE_ERR_DATASET', { file, reason: 'not a COCO document (a JSON object with images, annotations, categories)' });
  for (const k of ['images', 'annotations', 'categories']) {
    if (!Array.isArray(doc[k])) throw driftlineError('DRIFTLINE_ERR_DATASET', { file, reason: `no \`${k}\` array (a COCO detection file has images, annotations and categories)` });
  }
  return doc;
}

/** Reads a COCO detection json; image files are found beside it, or in an `images/` folder beside it. */
export async function readCoco(file: string): Promise<LoadedSet> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_DATASET', { file, reason: `cannot read: ${(e as Error).message}` }, { cause: e });
  }
  const doc = parseJson(file, text);
  const root = dirname(file);

  const cats = (doc.categories as unknown[]).map((c, k) => {
    if (!isObj(c) || typeof c.id !== 'number' || !Number.isInteger(c.id) || typeof c.name !== 'string') {
      throw at(file, `categories[${k}]`, 'a category needs an integer `id` and a `name`');
    }
    return { id: c.id, name: c.name, heldOut: c.held_out === true, k };
  });
  cats.sort((a, b) => a.id - b.id);
  const classOf = new Map<number, number>();
  cats.forEach((c, cls) => {
    if (classOf.has(c.id)) throw at(file, `categories[${c.k}]`, `category id ${c.id} appears twice`);
    classOf.set(c.id, cls);
  });

  const ids = new Map<number | string, number>();
  const names = new Map<string, number>();
  const raw = await mapLimit(doc.images as unknown[], 16, async (im, k) => {
    if (!isObj(im) || !isId(im.id) || typeof im.file_name !== 'string' || im.file_name === '') {
      throw at(file, `images[${k}]`, 'an image needs an `id` and a `file_name`');
    }
    const where = `images[${k}], id ${im.id}`;
    const tried = [resolve(root, im.file_name), resolve(root, 'images', im.file_name)];
    let path: string | undefined;
    for (const p of tried) if (path === undefined && (await isFile(p))) path = p;
    if (path === undefined) throw at(file, where, `image ${im.file_name} does not exist (looked for ${tried.join(' and ')})`);
    const size = await probeImage(path);
    if ((im.width !== undefined && im.width !== size.width) || (im.height !== undefined && im.height !== size.height)) {
      throw at(file, where, `says ${String(im.width)}x${String(im.height)} but ${path} is ${size.width}x${size.height} (after EXIF orientation)`);
    }
    if (im.conditions !== undefined && !isObj(im.conditions)) throw at(file, where, '`conditions` is not an object');
    return { id: im.id, file: path, name: nameOf(root, path), ...size, conditions: im.conditions, where };
  });
  raw.forEach((im, k) => {
    if (ids.has(im.id)) throw at(file, im.where, `image id ${im.id} also used by images[${ids.get(im.id)}]`);
    ids.set(im.id, k);
    if (names.has(im.name)) throw at(file, im.where, `image ${im.name} also listed as images[${names.get(im.name)}]`);
    names.set(im.name, k);
  });

  const objects: GroundTruthBox[][] = raw.map(() => []);
  const ignore: GroundTruthBox[][] = raw.map(() => []);
  let crowd = 0;
  (doc.annotations as unknown[]).forEach((a, k) => {
    if (!isObj(a)) throw at(file, `annotations[${k}]`, 'not an object');
    const where = a.id === undefined ? `annotations[${k}]` : `annotations[${k}], id ${String(a.id)}`;
    const img = isId(a.image_id) ? ids.get(a.image_id) : undefined;
    if (img === undefined) throw at(file, where, `image_id ${JSON.stringify(a.image_id)} is not the id of any image`);
    if (a.iscrowd === 1 || a.iscrowd === true) {
      // A crowd region is an ignore region: no target, and no false alarm for a detection inside it.
      crowd++;
      const cb = a.bbox;
      if (isList(cb) && cb.length === 4 && cb.every((v) => typeof v === 'number' && Number.isFinite(v)) && (cb[2] as number) > 0 && (cb[3] as number) > 0) {
        const [x, y, w, h] = cb as [number, number, number, number];
        ignore[img]!.push({ classId: -1, x1: x, y1: y, x2: x + w, y2: y + h });
      }
      return;
    }
    const cls = typeof a.category_id === 'number' ? classOf.get(a.category_id) : undefined;
    if (cls === undefined) throw at(file, where, `category_id ${JSON.stringify(a.category_id)} is not among the categories (ids ${cats.map((c) => c.id).join(', ')})`);
    const b = a.bbox;
    if (!isList(b) || b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw at(file, where, `bbox ${JSON.stringify(b)} is not [x, y, width, height] in pixels`);
    }
    const [x, y, w, h] = b as [number, number, number, number];
    if (w <= 0 || h <= 0) throw at(file, where, `bbox ${JSON.stringify(b)} has no area (width and height must be positive)`);
    const { width: W, height: H, name } = raw[img]!;
    const t = BBOX_TOLERANCE_PX;
    if (x < -t || y < -t || x + w > W + t || y + h > H + t) {
      throw at(file, where, `bbox ${JSON.stringify(b)} (x2 ${+(x + w).toFixed(3)}, y2 ${+(y + h).toFixed(3)}) is outside image ${name} (${W}x${H})`);
    }
    const clip = (v: number, size: number): number => Math.min(size, Math.max(0, v));
    objects[img]!.push({ classId: cls, x1: clip(x, W), y1: clip(y, H), x2: clip(x + w, W), y2: clip(y + h, H) });
  });

  const withConditions = raw.filter((im) => im.conditions !== undefined).map((im) => [im.name, im.conditions as Obj] as const);
  const order = doc.condition_columns;
  if (order !== undefined && !(isList(order) && order.every((c) => typeof c === 'string'))) {
    throw driftlineError('DRIFTLINE_ERR_DATASET', { file, reason: '`condition_columns` is not a list of column names' });
  }
  return {
    format: 'coco',
    root,
    classNames: cats.map((c) => c.name),
    heldOutClassIds: cats.flatMap((c, cls) => (c.heldOut ? [cls] : [])),
    images: raw.map((im, k) => ({ file: im.file, name: im.name, width: im.width, height: im.height, objects: objects[k]!, ...(ignore[k]!.length ? { ignore: ignore[k]! } : {}) })),
    allNames: raw.map((im) => im.name),
    tables: withConditions.length > 0 || order !== undefined ? [tableOf(file, withConditions, (order ?? []) as string[])] : [],
    notes: crowd > 0 ? [`${file}: ${crowd} crowd annotations (iscrowd: 1) are ignore regions: not targets, and detections inside them are not false alarms`] : [],
    crowdSkipped: crowd,
  };
}
