/**
 * Reads an Ultralytics YOLO data set (data.yaml, images/<split>/, labels/<split>/) as an evaluation
 * set, with Ultralytics' own rules where they matter for the numbers: a label file is the image path
 * with its last `/images/` replaced by `/labels/` and a .txt extension, an image without one has no
 * objects, and sizes are taken after EXIF orientation. Every defect in a label is an error naming the
 * file and line, because a silently dropped box changes recall. Also home of the image probe and the
 * small worker pool the COCO reader shares.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, resolve, sep } from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { LineCounter, parseDocument, isMap, isScalar, type Document } from 'yaml';
import { driftlineError } from '../../lib/errors.js';
import { nameOf, readManifestConditions, type ConditionTable } from './condition-table.js';
import type { GroundTruthBox, LoadedSet } from './dataset.js';

/** Normalised coordinates may overshoot [0, 1] by this much (rounding to 6 decimals) and are clipped. */
export const NORM_TOLERANCE = 1e-6;

/** Ultralytics' image suffixes (hidden files such as macOS `._x.jpg` are skipped, as its glob does). */
const IMAGE_EXT = new Set(['.bmp', '.dng', '.jpeg', '.jpg', '.mpo', '.png', '.tif', '.tiff', '.webp', '.pfm', '.heic', '.heif', '.gif', '.avif']);

/** Array.isArray without its `any[]`. */
const isList = (v: unknown): v is readonly unknown[] => Array.isArray(v);

const fail = (file: string, line: number | undefined, reason: string): Error =>
  driftlineError('DRIFTLINE_ERR_DATASET', line === undefined ? { file, reason } : { file, line, reason });

/** What a path is: a file, a folder, or nothing readable. */
export async function kind(p: string): Promise<'file' | 'dir' | undefined> {
  try {
    const st = await stat(p);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the items' order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      out[k] = await fn(items[k]!, k);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Width and height as displayed (after EXIF orientation); a file sharp cannot decode is an error naming it. */
export async function probeImage(file: string): Promise<{ width: number; height: number }> {
  let meta: Metadata;
  try {
    meta = await sharp(file).metadata();
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_DATASET', { file, reason: `not a decodable image: ${(e as Error).message}` }, { cause: e });
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!(width > 0 && height > 0)) throw driftlineError('DRIFTLINE_ERR_DATASET', { file, reason: 'the image has no size' });
  return { width, height };
}

/** Every image under a folder, recursively, sorted. */
async function listImages(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = resolve(dir, e.name);
    if (e.isDirectory()) out.push(...(await listImages(p)));
    else if (IMAGE_EXT.has(extname(e.name).toLowerCase())) out.push(p);
  }
  return out.sort();
}

/** Ultralytics' img2label_paths: the last `/images/` becomes `/labels/`, the extension `.txt`. */
export function labelPathOf(image: string): string {
  const a = `${sep}images${sep}`;
  const k = image.lastIndexOf(a);
  const p = k < 0 ? image : `${image.slice(0, k)}${sep}labels${sep}${image.slice(k + a.length)}`;
  const ext = extname(p);
  return (ext ? p.slice(0, -ext.length) : p) + '.txt';
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses one YOLO label file into pixel boxes: `class cx cy w h` normalised to the image, or a
 * segmentation polygon `class x1 y1 x2 y2 x3 y3 ...` (its bounding box is the target).
 */
export function parseYoloLabel(text: string, file: string, width: number, height: number, classCount: number): GroundTruthBox[] {
  const out: GroundTruthBox[] = [];
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const line = k + 1;
    const fields = lines[k]!.trim().split(/\s+/).filter(Boolean);
    if (fields.length === 0) continue;
    const polygon = fields.length >= 7 && fields.length % 2 === 1;
    if (fields.length !== 5 && !polygon) {
      throw fail(file, line, `${fields.length} fields; expected 5 (class cx cy w h, normalised) or a polygon (class x1 y1 x2 y2 x3 y3 ...)`);
    }
    const v = fields.map((f, i) => {
      if (!NUMBER.test(f)) throw fail(file, line, `field ${i + 1} (${JSON.stringify(f)}) is not a number`);
      return Number(f);
    });
    const cls = v[0]!;
    if (!Number.isInteger(cls)) throw fail(file, line, `class id ${fields[0]} is not an integer`);
    if (cls < 0 || cls >= classCount) {
      throw fail(file, line, `class id ${fields[0]} is not in data.yaml names (ids 0 to ${classCount - 1})`);
    }
    const inRange = (what: string, x: number): number => {
      if (x < -NORM_TOLERANCE || x > 1 + NORM_TOLERANCE) throw fail(file, line, `${what} ${x} is outside [0, 1] (YOLO labels are normalised to the image)`);
      return x;
    };
    let l: number, t: number, r: number, b: number;
    if (polygon) {
      const xs = v.slice(1).filter((_, i) => i % 2 === 0).map((x, i) => inRange(`x${i + 1}`, x));
      const ys = v.slice(1).filter((_, i) => i % 2 === 1).map((y, i) => inRange(`y${i + 1}`, y));
      [l, t, r, b] = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
      if (r <= l || b <= t) throw fail(file, line, 'the polygon has no area');
    } else {
      const [cx, cy, w, h] = [inRange('cx', v[1]!), inRange('cy', v[2]!), inRange('w', v[3]!), inRange('h', v[4]!)];
      if (w <= 0) throw fail(file, line, `w ${w} is not positive`);
      if (h <= 0) throw fail(file, line, `h ${h} is not positive`);
      [l, t, r, b] = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
      const edges: [string, number][] = [['left edge cx - w/2', l], ['top edge cy - h/2', t], ['right edge cx + w/2', r], ['bottom edge cy + h/2', b]];
      for (const [what, e] of edges) {
        if (e < -NORM_TOLERANCE || e > 1 + NORM_TOLERANCE) throw fail(file, line, `the box's ${what} = ${+e.toFixed(6)} is beyond the image (normalised [0, 1])`);
      }
    }
    const clip = (x: number, size: number): number => Math.min(size, Math.max(0, x * size));
    out.push({ classId: cls, x1: clip(l, width), y1: clip(t, height), x2: clip(r, width), y2: clip(b, height) });
  }
  return out;
}

// ------------------------------------------------------------------------------------ data.yaml

interface Yaml {
  readonly file: string;
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
}

/** 1-based line of a top-level key, for messages. */
function lineOf(y: Yaml, key: string): number | undefined {
  const c = y.doc.contents;
  if (!isMap(c)) return undefined;
  for (const item of c.items) {
    if (isScalar(item.key) && item.key.value === key && item.key.range) return y.lines.linePos(item.key.range[0]).line;
  }
  return undefined;
}

function classNamesOf(y: Yaml, data: Record<string, unknown>): string[] {
  const names = data.names;
  const at = lineOf(y, 'names');
  let out: string[];
  if (isList(names)) out = names.map((n) => String(n));
  else if (typeof names === 'object' && names !== null) {
    const entries = Object.entries(names as Record<string, unknown>);
    out = [];
    for (const [key, n] of entries) {
      const id = Number(key);
      if (!Number.isInteger(id) || id < 0 || id >= entries.length) {
        throw fail(y.file, at, `names key ${JSON.stringify(key)} is not a class id in 0..${entries.length - 1} (ids must run from 0 without gaps)`);
      }
      out[id] = String(n);
    }
  } else {
    throw fail(y.file, at, 'no `names` (the class names: a list, or a map from class id to name)');
  }
  if (out.length === 0) throw fail(y.file, at, '`names` is empty');
  if (data.nc !== undefined && data.nc !== out.length) throw fail(y.file, lineOf(y, 'nc'), `nc is ${String(data.nc)} but names has ${out.length} entries`);
  return out;
}

function heldOutOf(y: Yaml, data: Record<string, unknown>, classCount: number): number[] {
  const h = data.held_out;
  if (h === undefined || h === null) return [];
  const ok = isList(h) && h.every((id) => typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < classCount);
  if (!ok) throw fail(y.file, lineOf(y, 'held_out'), `held_out must be a list of class ids in 0..${classCount - 1}, got ${JSON.stringify(h)}`);
  return [...new Set(h as number[])].sort((a, b) => a - b);
}

/** The images of one split entry: a folder (recursive) or a .txt list of image paths. */
async function splitImages(y: Yaml, key: string, entry: unknown, root: string, checkOrphans: boolean): Promise<string[]> {
  if (typeof entry !== 'string' || entry === '') throw fail(y.file, lineOf(y, key), `${key} must be a folder of images (or a list of them), got ${JSON.stringify(entry)}`);
  const yamlDir = dirname(y.file);
  const tried = [...new Set([resolve(root, entry), resolve(yamlDir, entry)])];
  for (const p of tried) {
    const k = await kind(p);
    if (k === 'dir') {
      const images = await listImages(p);
      if (checkOrphans) await refuseOrphanLabels(p, images);
      return images;
    }
    if (k === 'file') {
      const lines = (await readFile(p, 'utf8')).split('\n');
      const out: string[] = [];
      for (let i = 0; i < lines.length; i++) {
        const s = lines[i]!.trim();
        if (s === '') continue;
        const img = isAbsolute(s) ? s : resolve(dirname(p), s);
        if ((await kind(img)) !== 'file') throw fail(p, i + 1, `image ${s} does not exist (looked for ${img})`);
        out.push(img);
      }
      return out;
    }
  }
  throw fail(y.file, lineOf(y, key), `the ${key} split folder ${entry} does not exist (looked for ${tried.join(' and ')})`);
}

/**
 * A label file whose image is gone: its objects would silently leave the evaluation (Ultralytics
 * skips such files), so the set is refused, naming it. Only files that hold a label line count (a
 * LabelImg classes.txt or a README in the folder does not; an empty label lost no object), and only
 * where labels have a folder of their own (`labels/` beside `images/`).
 */
async function refuseOrphanLabels(imageDir: string, images: readonly string[]): Promise<void> {
  const labelDir = dirname(labelPathOf(resolve(imageDir, 'x.jpg')));
  if (labelDir === resolve(imageDir) || (await kind(labelDir)) !== 'dir') return;
  const expected = new Set(images.map(labelPathOf));
  const orphans: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const f = resolve(dir, e.name);
      if (e.isDirectory()) await walk(f);
      else if (extname(e.name).toLowerCase() === '.txt' && !expected.has(f) && LABEL_LINE.test(await readFile(f, 'utf8'))) orphans.push(f);
    }
  };
  await walk(labelDir);
  if (!orphans.length) return;
  orphans.sort();
  const first = orphans[0]!;
  const more = orphans.length > 1 ? `; ${orphans.length - 1} more label files have none` : '';
  const named = [...expected].find((f) => f.toLowerCase() === first.toLowerCase());
  if (named) throw fail(first, undefined, `its image is there, but its label is read from the lower-case name ${basename(named)}${more}: rename it`);
  throw fail(first, undefined, `no image for this label file (no image of the same name in ${imageDir})${more}: restore the image, or remove the label`);
}

/** A line a YOLO label holds: a class id and at least four numbers. */
const LABEL_LINE = /^\s*\d+(\s+[-+]?[\d.]+(e[-+]?\d+)?){4,}\s*$/im;

/** `checkOrphans`: refuse label files without an image (the splits scored; an unused one only names CSV rows). */
async function splitOf(y: Yaml, data: Record<string, unknown>, key: 'train' | 'val', root: string, checkOrphans = true): Promise<string[]> {
  const v = data[key];
  const entries = isList(v) ? v : [v];
  const out: string[] = [];
  for (const e of entries) out.push(...(await splitImages(y, key, e, root, checkOrphans)));
  return out;
}

/** Reads a data.yaml and the images of the requested split (see ReadOptions.split). */
export async function readYolo(file: string, split?: 'train' | 'val' | 'all'): Promise<LoadedSet> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_DATASET', { file, reason: `cannot read: ${(e as Error).message}` }, { cause: e });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const bad = doc.errors[0];
  if (bad) throw fail(file, bad.linePos?.[0].line, `not valid YAML: ${bad.message.split('\n')[0]}`);
  const y: Yaml = { file, doc, lines };
  const data = doc.toJS() as unknown;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw fail(file, undefined, 'not a YAML map (expected path, train, val, names)');
  const d = data as Record<string, unknown>;
  const classNames = classNamesOf(y, d);
  const heldOutClassIds = heldOutOf(y, d, classNames.length);
  const notes: string[] = [];
  const yamlDir = dirname(file);
  let root = yamlDir;
  if (typeof d.path === 'string' && d.path !== '') {
    const p = resolve(yamlDir, d.path);
    if ((await kind(p)) === 'dir') root = p;
    else notes.push(`${file}: path ${d.path} does not exist; the data.yaml's folder is the root`);
  }
  const has = (k: 'train' | 'val'): boolean => d[k] !== undefined && d[k] !== null;
  if (!has('train') && !has('val')) throw fail(file, undefined, 'neither `train` nor `val` is set (folders of images, relative to `path`)');
  const lists: Partial<Record<'train' | 'val', string[]>> = {};
  const load = async (k: 'train' | 'val'): Promise<string[]> => (lists[k] ??= await splitOf(y, d, k, root));
  let chosen: ('train' | 'val')[];
  if (split === 'all') chosen = (['train', 'val'] as const).filter(has);
  else if (split !== undefined) {
    if (!has(split)) throw fail(file, undefined, `no \`${split}\` split`);
    chosen = [split];
  } else chosen = has('val') && (await load('val')).length > 0 ? ['val'] : has('train') ? ['train'] : ['val'];
  const files = [...new Set((await Promise.all(chosen.map(load))).flat())];
  const allFiles = new Set(files);
  for (const k of ['train', 'val'] as const) {
    if (has(k) && !chosen.includes(k)) {
      try {
        for (const f of lists[k] ?? (await splitOf(y, d, k, root, false))) allFiles.add(f);
      } catch {
        // An unused split that is missing only matters for naming CSV rows; the chosen split is fine.
      }
    }
  }
  const images = await mapLimit(files, 16, async (f) => {
    const { width, height } = await probeImage(f);
    const label = labelPathOf(f);
    let text = '';
    try {
      text = await readFile(label, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fail(label, undefined, `cannot read the label file: ${(e as Error).message}`);
    }
    return { file: f, name: nameOf(root, f), width, height, objects: parseYoloLabel(text, label, width, height, classNames.length) };
  });
  const tables: ConditionTable[] = [];
  if (typeof d.manifest === 'string' && d.manifest !== '') {
    const tried = [...new Set([resolve(root, d.manifest), resolve(yamlDir, d.manifest)])];
    let found: string | undefined;
    for (const p of tried) if (found === undefined && (await kind(p)) === 'file') found = p;
    if (found === undefined) throw fail(file, lineOf(y, 'manifest'), `manifest ${d.manifest} does not exist (looked for ${tried.join(' and ')})`);
    const index = { root, selected: new Set(images.map((i) => i.name)), all: [...allFiles].map((f) => nameOf(root, f)) };
    const m = await readManifestConditions(found, index);
    if (m.unknown > 0) notes.push(`${found}: ${m.unknown} entries name images that are not in the data set and were skipped`);
    tables.push(m);
  }
  return { format: 'yolo', root, classNames, heldOutClassIds, images, allNames: [...allFiles].map((f) => nameOf(root, f)), tables, notes };
}
