import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { isDriftlineError } from '../../../lib/errors.js';
import { mergeConditions, parseCsv, readConditionCsv, readManifestConditions, tableOf, type NameIndex } from '../../../agent/readiness/condition-table.js';

let root = '';
let index: NameIndex;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'driftline-cond-'));
  for (const d of ['images/val', 'images/train', 'other']) await mkdir(join(root, d), { recursive: true });
  for (const f of ['images/val/a.jpg', 'images/val/b.jpg', 'images/train/c.jpg', 'images/train/a.jpg', 'other/stray.jpg']) await writeFile(join(root, f), 'x');
  index = { root, selected: new Set(['images/val/a.jpg', 'images/val/b.jpg']), all: ['images/val/a.jpg', 'images/val/b.jpg', 'images/train/c.jpg', 'images/train/a.jpg'] };
});

async function csv(text: string): Promise<string> {
  const file = join(root, `c${Math.random().toString(36).slice(2)}.csv`);
  await writeFile(file, text);
  return file;
}

async function expectLine(text: string, line: number, reason: RegExp): Promise<void> {
  const file = await csv(text);
  await assert.rejects(readConditionCsv(file, index), (e: unknown) => {
    assert.ok(isDriftlineError(e, 'DRIFTLINE_ERR_DATASET'), String(e));
    assert.ok(e.message.startsWith(`${file}:${line}: `), e.message);
    assert.match(e.message, reason);
    return true;
  });
}

test('parseCsv follows RFC 4180: quoted commas, doubled quotes, line breaks in quotes, CRLF, BOM', () => {
  const recs = parseCsv('\ufeffimage,note,shift\r\na.jpg,"dim, warm","night ""B"""\r\n\r\nb.jpg,"two\nlines",\n', 'f.csv');
  assert.deepEqual(recs, [
    { line: 1, fields: ['image', 'note', 'shift'] },
    { line: 2, fields: ['a.jpg', 'dim, warm', 'night "B"'] },
    { line: 4, fields: ['b.jpg', 'two\nlines', ''] },
  ]);
  assert.deepEqual(parseCsv('a,b\n"x"\n""', 'f.csv').map((r) => r.line), [1, 2, 3]);
});

test('parseCsv rejects an unclosed quote and a stray quote, naming the line', () => {
  assert.throws(() => parseCsv('image,x\na.jpg,ok\nb.jpg,"open\n', 'f.csv'), /f\.csv:3: a quoted field is not closed/);
  assert.throws(() => parseCsv('image,x\na.jpg,5"6\n', 'f.csv'), /f\.csv:2: a quote inside unquoted field 2/);
  assert.throws(() => parseCsv('image,x\na.jpg,"5"6\n', 'f.csv'), /f\.csv:2: text after a closing quote in field 2/);
});

test('readConditionCsv: paths or unique bare names, empty cells absent, other-split rows skipped', async () => {
  const file = await csv('shift,image,lighting\nnight,images/val/a.jpg,"LED, cold"\nday,b.jpg,\nday,c.jpg,halogen\n');
  const t = await readConditionCsv(file, index);
  assert.deepEqual(t.columns, ['shift', 'lighting']);
  assert.deepEqual(Object.fromEntries(t.rows), { 'images/val/a.jpg': { shift: 'night', lighting: 'LED, cold' }, 'images/val/b.jpg': { shift: 'day' } });
  assert.equal(t.otherSplit, 1);
});

test('readConditionCsv errors name the CSV and its line', async () => {
  await expectLine('file,shift\na.jpg,night\n', 1, /no `image` column in the header \(columns: file, shift\)/);
  await expectLine('image,shift\nimages/val/b.jpg,day\nimages/val/zz.jpg,night\n', 3, /image "images\/val\/zz\.jpg" does not exist/);
  await expectLine('image,shift\nmissing.jpg,night\n', 2, /image "missing\.jpg" does not exist/);
  await expectLine('image,shift\nother/stray.jpg,night\n', 2, /image "other\/stray\.jpg" is not in the set/);
  await expectLine('image,shift\na.jpg,night\n', 2, /ambiguous: it matches images\/val\/a\.jpg, images\/train\/a\.jpg/);
  await expectLine('image,shift\nb.jpg,day\nimages/val/b.jpg,night\n', 3, /already has a row \(line 2\)/);
  await expectLine('image,shift\nb.jpg,day,extra\n', 2, /3 fields, but the header has 2/);
  await expectLine('image,shift,shift\n', 1, /column "shift" appears twice/);
});

test('readManifestConditions: numbers as text, other splits and deleted images skipped, bad lines named', async () => {
  const file = join(root, 'manifest.jsonl');
  await writeFile(
    file,
    [
      { image: 'images/val/a.jpg', conditions: { gain: 0.93, colourTempK: 5500, label: 'x', none: null } },
      { image: 'images/train/c.jpg', conditions: { gain: 1 } },
      { image: 'images/val/deleted.jpg', conditions: { gain: 1 } },
    ]
      .map((e) => JSON.stringify(e))
      .join('\n') + '\n',
  );
  const t = await readManifestConditions(file, index);
  assert.deepEqual(t.columns, ['gain', 'colourTempK', 'label', 'none']);
  assert.deepEqual(Object.fromEntries(t.rows), { 'images/val/a.jpg': { gain: '0.93', colourTempK: '5500', label: 'x' } });
  assert.deepEqual([t.otherSplit, t.unknown], [1, 1]);
  await writeFile(file, '{"image":"images/val/a.jpg","conditions":{}}\n{"image": "images/val/b.jpg", conditions}\n');
  await assert.rejects(readManifestConditions(file, index), (e: Error) => e.message.startsWith(`${file}:2: not a JSON object`));
  await writeFile(file, '{"image":"images/val/a.jpg","conditions":{"gain":[1,2]}}\n');
  await assert.rejects(readManifestConditions(file, index), (e: Error) => e.message === `${file}:1: conditions.gain: [1,2] is not a number or text`);
});

test('mergeConditions: a later column replaces an earlier one whole, in its first position; columns keeps some', () => {
  const names = ['a', 'b'];
  const manifest = tableOf('m', [['a', { gain: 1, shift: 'x' }], ['b', { gain: 2, shift: 'y' }]]);
  const user = tableOf('u', [['a', { shift: 'night', camera: 'cam2' }]]);
  const m = mergeConditions(names, [manifest, user]);
  assert.deepEqual(m.columns, ['gain', 'shift', 'camera']);
  assert.deepEqual(m.conditions.get('a'), { gain: '1', shift: 'night', camera: 'cam2' });
  assert.deepEqual(m.conditions.get('b'), { gain: '2' }, "b's manifest shift is replaced by the CSV's (absent) value");
  const kept = mergeConditions(names, [manifest, user], ['camera', 'gain']);
  assert.deepEqual(kept.columns, ['gain', 'camera']);
  assert.deepEqual(kept.conditions.get('a'), { gain: '1', camera: 'cam2' });
  assert.throws(() => mergeConditions(names, [manifest, user], ['lighting']), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_USAGE') && /unknown condition column "lighting"; the set has gain, shift, camera/.test(e.message));
});
