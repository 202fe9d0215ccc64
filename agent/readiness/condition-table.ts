/**
 * Capture conditions per image, for slicing readiness metrics (recall under low light, by shift, by
 * camera). Two sources: the synthetic renderer's manifest.jsonl (numbers, one JSON object a line)
 * and a user's CSV (RFC 4180, an `image` column plus free-form columns). Both become a table of text
 * values keyed by the image's name in the set; merging them into the images lives here too, so that
 * YOLO and COCO sets get exactly the same rules (a CSV column replaces a same-named column whole, an
 * empty cell is an absent value, never '').
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import { driftlineError } from '../../lib/errors.js';

/** Condition values of the images a source names, by image name (relative to the set's root). */
export interface ConditionTable {
  /** The file the table came from, for messages. */
  readonly source: string;
  /** Every column the source declares, in first-seen order. */
  readonly columns: readonly string[];
  readonly rows: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** Rows naming an image of the data set outside the selected split; they are skipped. */
  readonly otherSplit: number;
  /** Manifest entries naming an image that is not in the data set (skipped, see readManifestConditions). */
  readonly unknown: number;
  /**
   * The renderer's ambiguous regions per image (manifest `ignore`): boxes no labeller could call,
   * and the indices of labelled objects they stand for (readManifestConditions only).
   */
  readonly ignore?: ReadonlyMap<string, { readonly boxes: readonly (readonly [number, number, number, number])[]; readonly objects: readonly number[] }>;
}

/** The names a CSV or manifest row may refer to. */
export interface NameIndex {
  /** Absolute root that names are relative to. */
  readonly root: string;
  /** Names of the images selected for evaluation. */
  readonly selected: ReadonlySet<string>;
  /** Names of every image of the data set, in any split (a superset of `selected`). */
  readonly all: readonly string[];
}

const fail = (file: string, line: number | undefined, reason: string): Error =>
  driftlineError('DRIFTLINE_ERR_DATASET', line === undefined ? { file, reason } : { file, line, reason });

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Relative path with forward slashes: the stable name of a file under the root. */
export function nameOf(root: string, file: string): string {
  return relative(root, file).split(sep).join('/');
}

// ---------------------------------------------------------------------------------------- CSV

export interface CsvRecord {
  /** 1-based physical line the record starts on. */
  readonly line: number;
  readonly fields: readonly string[];
}

/**
 * RFC 4180: fields separated by commas, records by CRLF or LF; a field in double quotes may hold
 * commas, line breaks and doubled quotes. A UTF-8 BOM is dropped; blank lines are skipped.
 */
export function parseCsv(text: string, file: string): CsvRecord[] {
  const out: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    let quoted = false;
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        quoted = true;
        const openLine = line;
        i++;
        for (;;) {
          if (i >= text.length) throw fail(file, openLine, 'a quoted field is not closed (a `"` is missing)');
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\n' && !(next === '\r' && text[i + 1] === '\n')) {
          throw fail(file, line, `text after a closing quote in field ${fields.length + 1} (a quote inside a field must be doubled: "")`);
        }
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"') throw fail(file, line, `a quote inside unquoted field ${fields.length + 1} (quote the whole field and double the quote: "a ""b""")`);
          field += text[i];
          i++;
        }
      }
      fields.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') {
        i++;
        line++;
      }
      break;
    }
    if (quoted || fields.length > 1 || fields[0] !== '') out.push({ line: start, fields });
  }
  return out;
}

/** Turns a cell of an `image` column into a name of the set, or explains why it names none. */
async function resolveImage(cell: string, index: NameIndex, all: ReadonlySet<string>, byBase: ReadonlyMap<string, string[]>): Promise<{ name: string } | { error: string }> {
  const raw = cell.trim();
  if (raw === '') return { error: 'the image cell is empty' };
  const path = isAbsolute(raw) ? raw : resolve(index.root, raw.replace(/\\/g, '/'));
  const name = nameOf(index.root, path);
  if (all.has(name)) return { name };
  if (!raw.includes('/') && !raw.includes('\\')) {
    const hits = byBase.get(raw) ?? [];
    if (hits.length === 1) return { name: hits[0]! };
    if (hits.length > 1) return { error: `image ${JSON.stringify(raw)} is ambiguous: it matches ${hits.join(', ')}; give its path relative to ${index.root}` };
  }
  if (await isFile(path)) return { error: `image ${JSON.stringify(raw)} is not in the set (${path} exists but is not one of its images)` };
  return { error: `image ${JSON.stringify(raw)} does not exist (looked for ${path})` };
}

/**
 * Reads a conditions CSV. Every column but `image` becomes a condition column. A row naming an image
 * in another split of the data set is skipped; a row naming a missing file, a file outside the set,
 * or an image already named by an earlier row is an error naming the CSV's line.
 */
export async function readConditionCsv(file: string, index: NameIndex): Promise<ConditionTable> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_DATASET', { file, reason: `cannot read the conditions CSV: ${(e as Error).message}` }, { cause: e });
  }
  const records = parseCsv(text, file);
  const header = records[0];
  if (header === undefined) throw fail(file, 1, 'the conditions CSV is empty; expected a header row with an `image` column');
  const names = header.fields.map((h) => h.trim());
  const imageCol = names.indexOf('image');
  if (imageCol < 0) throw fail(file, header.line, `no \`image\` column in the header (columns: ${names.join(', ')})`);
  const seenCols = new Map<string, number>();
  names.forEach((n, k) => {
    if (n === '') throw fail(file, header.line, `column ${k + 1} of the header has no name`);
    if (n === '__proto__') throw fail(file, header.line, `column ${k + 1} cannot be named __proto__`);
    const prev = seenCols.get(n);
    if (prev !== undefined) throw fail(file, header.line, `column ${JSON.stringify(n)} appears twice (columns ${prev + 1} and ${k + 1})`);
    seenCols.set(n, k);
  });
  const all = new Set(index.all);
  const byBase = new Map<string, string[]>();
  for (const n of index.all) {
    const b = basename(n);
    byBase.set(b, [...(byBase.get(b) ?? []), n]);
  }
  const rows = new Map<string, Record<string, string>>();
  const rowLine = new Map<string, number>();
  let otherSplit = 0;
  for (const rec of records.slice(1)) {
    if (rec.fields.length !== names.length) {
      throw fail(file, rec.line, `${rec.fields.length} fields, but the header has ${names.length} (quote a field that holds a comma)`);
    }
    const r = await resolveImage(rec.fields[imageCol]!, index, all, byBase);
    if ('error' in r) throw fail(file, rec.line, r.error);
    const prev = rowLine.get(r.name);
    if (prev !== undefined) throw fail(file, rec.line, `image ${r.name} already has a row (line ${prev})`);
    rowLine.set(r.name, rec.line);
    if (!index.selected.has(r.name)) {
      otherSplit++;
      continue;
    }
    const values: Record<string, string> = {};
    names.forEach((n, k) => {
      const v = rec.fields[k]!;
      if (k !== imageCol && v !== '') values[n] = v;
    });
    rows.set(r.name, values);
  }
  return { source: file, columns: names.filter((_, k) => k !== imageCol), rows, otherSplit, unknown: 0 };
}

// ------------------------------------------------------------------------------- manifest.jsonl

function conditionText(v: unknown): string | undefined | Error {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : new Error(`${String(v)} is not a finite number`);
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'boolean') return String(v);
  return new Error(`${JSON.stringify(v)} is not a number or text`);
}

/**
 * Reads the renderer's manifest.jsonl: each line `{"image": "images/val/000001.jpg", "conditions":
 * {...}}`, the image relative to the set's root. Every key of `conditions` becomes a column (values as
 * text). Entries for images of another split are skipped; entries naming an image that is not in the
 * data set at all (one deleted from the folder while curating) are skipped and counted in `unknown`.
 */
export async function readManifestConditions(file: string, index: NameIndex): Promise<ConditionTable> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_DATASET', { file, reason: `cannot read the manifest: ${(e as Error).message}` }, { cause: e });
  }
  const all = new Set(index.all);
  const columns = new Set<string>();
  const rows = new Map<string, Record<string, string>>();
  const rowLine = new Map<string, number>();
  const ignore = new Map<string, { boxes: (readonly [number, number, number, number])[]; objects: number[] }>();
  let otherSplit = 0;
  let unknown = 0;
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const line = k + 1;
    const src = lines[k]!.trim();
    if (src === '') continue;
    let entry: unknown;
    try {
      entry = JSON.parse(src);
    } catch (e) {
      throw fail(file, line, `not a JSON object: ${(e as Error).message}`);
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw fail(file, line, 'not a JSON object');
    const { image, conditions, ignore: regions } = entry as { image?: unknown; conditions?: unknown; ignore?: unknown };
    if (typeof image !== 'string' || image === '') throw fail(file, line, 'no `image` (a path relative to the set root)');
    if (conditions !== undefined && (typeof conditions !== 'object' || conditions === null || Array.isArray(conditions))) {
      throw fail(file, line, '`conditions` is not an object');
    }
    const name = nameOf(index.root, resolve(index.root, image));
    const prev = rowLine.get(name);
    if (prev !== undefined) throw fail(file, line, `image ${name} already has an entry (line ${prev})`);
    rowLine.set(name, line);
    const values: Record<string, string> = {};
    for (const [key, v] of Object.entries((conditions ?? {}) as Record<string, unknown>)) {
      columns.add(key);
      const t = conditionText(v);
      if (t instanceof Error) throw fail(file, line, `conditions.${key}: ${t.message}`);
      if (t !== undefined) values[key] = t;
    }
    if (!all.has(name)) unknown++;
    else if (!index.selected.has(name)) otherSplit++;
    else {
      rows.set(name, values);
      if (regions !== undefined) ignore.set(name, ignoreOf(regions, file, line));
    }
  }
  return { source: file, columns: [...columns], rows, otherSplit, unknown, ignore };
}

/** A table built in memory (e.g. the `conditions` a COCO file written by toCocoJson carries); `columnOrder` comes first. */
export function tableOf(source: string, entries: Iterable<readonly [string, Readonly<Record<string, unknown>>]>, columnOrder: readonly string[] = []): ConditionTable {
  const columns = new Set<string>(columnOrder);
  const rows = new Map<string, Record<string, string>>();
  for (const [name, cond] of entries) {
    const values: Record<string, string> = {};
    for (const [key, v] of Object.entries(cond)) {
      columns.add(key);
      const t = conditionText(v);
      if (t instanceof Error) throw driftlineError('DRIFTLINE_ERR_DATASET', { file: source, location: name, reason: `conditions.${key}: ${t.message}` });
      if (t !== undefined) values[key] = t;
    }
    rows.set(name, values);
  }
  return { source, columns: [...columns], rows, otherSplit: 0, unknown: 0 };
}

// --------------------------------------------------------------------------------------- merge

export interface Merged {
  /** Conditions per image name (every selected image has an entry, possibly empty). */
  readonly conditions: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly columns: readonly string[];
}

/**
 * Layers tables in order: a later table's column replaces an earlier column of the same name whole
 * (its values for images it has no row for are dropped too), keeping the column's first position.
 * `keep` then narrows the columns; naming a column no table has is a usage error listing those present.
 */
export function mergeConditions(names: readonly string[], tables: readonly ConditionTable[], keep?: readonly string[]): Merged {
  const columns: string[] = [];
  const out = new Map<string, Record<string, string>>(names.map((n) => [n, {}]));
  for (const t of tables) {
    for (const c of t.columns) {
      if (!columns.includes(c)) columns.push(c);
      for (const values of out.values()) delete values[c];
    }
    for (const [name, values] of t.rows) {
      const target = out.get(name);
      if (target !== undefined) Object.assign(target, values);
    }
  }
  if (keep === undefined) return { conditions: out, columns };
  for (const c of keep) {
    if (!columns.includes(c)) {
      throw driftlineError('DRIFTLINE_ERR_USAGE', {
        reason: `unknown condition column ${JSON.stringify(c)}; the set has ${columns.length ? columns.join(', ') : 'no condition columns'}`,
      });
    }
  }
  for (const values of out.values()) {
    for (const c of Object.keys(values)) if (!keep.includes(c)) delete values[c];
  }
  return { conditions: out, columns: columns.filter((c) => keep.includes(c)) };
}

/** A manifest entry's `ignore` list, checked: boxes of four numbers, optional object indices. */
function ignoreOf(raw: unknown, file: string, line: number): { boxes: (readonly [number, number, number, number])[]; objects: number[] } {
  if (!Array.isArray(raw)) throw fail(file, line, '`ignore` is not a list');
  const boxes: (readonly [number, number, number, number])[] = [];
  const objects: number[] = [];
  raw.forEach((r: unknown, k) => {
    const { box, object } = (r ?? {}) as { box?: unknown; object?: unknown };
    if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => typeof v === 'number' && Number.isFinite(v)) || box[2] < box[0] || box[3] < box[1]) {
      throw fail(file, line, `ignore[${k}].box is not [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1`);
    }
    // A region rounded to no area ignores nothing.
    if (box[2] > box[0] && box[3] > box[1]) boxes.push([box[0], box[1], box[2], box[3]] as const);
    else if (object !== undefined) throw fail(file, line, `ignore[${k}] stands for object ${String(object)} but has no area`);
    if (object !== undefined) {
      if (!Number.isInteger(object) || (object as number) < 0) throw fail(file, line, `ignore[${k}].object is not an object index`);
      objects.push(object as number);
    }
  });
  return { boxes, objects };
}
