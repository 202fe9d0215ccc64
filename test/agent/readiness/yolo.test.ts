import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { before, test } from 'node:test';
import { isDriftlineError } from '../../../lib/errors.js';
import { conditionSpec } from '../../../agent/synth/conditions.js';
import { writeDataset, type ManifestEntry } from '../../../agent/synth/dataset.js';
import { labelPathOf, parseYoloLabel, readYolo } from '../../../agent/readiness/yolo.js';

let ds = '';

before(async () => {
  ds = await mkdtemp(join(tmpdir(), 'driftline-yolo-'));
  await writeDataset({ out: ds, count: 16, seed: 7, width: 160, height: 120, valFraction: 0.5, conditions: conditionSpec({ defectRate: 0.5, heldOutRate: 0.2, gain: [0.8, 1.2] }) });
});

/** A copy of the rendered set to break, with its data.yaml rewritten. */
async function copySet(yaml?: (text: string) => string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-yolo-bad-'));
  await cp(ds, dir, { recursive: true });
  const text = (await readFile(join(dir, 'data.yaml'), 'utf8')).replace(/^path: .*$/m, `path: ${dir}`);
  await writeFile(join(dir, 'data.yaml'), yaml ? yaml(text) : text);
  return dir;
}

async function expectDataset(p: Promise<unknown>, where: string, reason: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isDriftlineError(e, 'DRIFTLINE_ERR_DATASET'), String(e));
    assert.ok(e.message.startsWith(where), `${e.message} starts with ${where}`);
    assert.match(e.message, reason);
    return true;
  });
}

test('reads the rendered val split: sizes, pixel boxes matching the manifest, names, held-out ids', async () => {
  const set = await readYolo(join(ds, 'data.yaml'));
  assert.equal(set.format, 'yolo');
  assert.equal(set.root, ds);
  assert.deepEqual(set.classNames, ['washer', 'bracket', 'scratch', 'missing_notch', 'burn', 'stain']);
  assert.deepEqual(set.heldOutClassIds, [4, 5]);
  assert.ok(set.images.length > 0 && set.images.every((i) => i.name.startsWith('images/val/')), 'default split is val');
  assert.equal(set.allNames.length, 16);
  const manifest = new Map((await readFile(join(ds, 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as ManifestEntry).map((m) => [m.image, m]));
  let boxes = 0;
  for (const img of set.images) {
    assert.equal(img.file, join(ds, img.name));
    assert.deepEqual([img.width, img.height], [160, 120]);
    const m = manifest.get(img.name)!;
    assert.equal(img.objects.length, m.objects.length);
    img.objects.forEach((o, k) => {
      const want = m.objects[k]!;
      assert.equal(o.classId, want.classId);
      [o.x1, o.y1, o.x2, o.y2].forEach((v, j) => assert.ok(Math.abs(v - want.box[j]!) < 0.02, `${img.name} box ${k}: ${v} vs ${want.box[j]}`));
      assert.ok(o.x1 >= 0 && o.y1 >= 0 && o.x2 <= 160 && o.y2 <= 120, 'clipped to the image');
      boxes++;
    });
  }
  assert.ok(boxes > 5);
  assert.equal(set.tables.length, 1, 'the manifest is read');
});

test('split: explicit train, all (no duplicates), and train when val is empty', async () => {
  const train = await readYolo(join(ds, 'data.yaml'), 'train');
  const all = await readYolo(join(ds, 'data.yaml'), 'all');
  assert.ok(train.images.every((i) => i.name.startsWith('images/train/')));
  assert.equal(all.images.length, 16);
  assert.equal(new Set(all.images.map((i) => i.name)).size, 16);
  const dir = await copySet();
  await rm(join(dir, 'images', 'val'), { recursive: true });
  await mkdir(join(dir, 'images', 'val'));
  // Its labels left behind: the val split lost its images, which is not an empty split.
  await expectDataset(readYolo(join(dir, 'data.yaml')), join(dir, 'labels', 'val'), /no image for this label file/);
  await rm(join(dir, 'labels', 'val'), { recursive: true });
  const fallback = await readYolo(join(dir, 'data.yaml'));
  assert.deepEqual(fallback.images.map((i) => i.name), train.images.map((i) => i.name));
});

test('names as a list, a relative path, a .txt image list, an image without a label file has no objects', async () => {
  const dir = await copySet((t) =>
    t
      .replace(/^path: .*$/m, 'path: .')
      .replace(/^val: .*$/m, 'val: val.txt')
      .replace(/^nc: .*\nnames:\n(( {2}\d+: .*\n)+)/m, 'names: [washer, bracket, scratch, missing_notch, burn, stain]\n'),
  );
  const first = (await readYolo(join(ds, 'data.yaml'))).images.find((i) => i.objects.length > 0)!;
  await writeFile(join(dir, 'val.txt'), `./${first.name}\n\n`);
  await rm(labelPathOf(join(dir, first.name)));
  const set = await readYolo(join(dir, 'data.yaml'));
  assert.equal(set.classNames[3], 'missing_notch');
  assert.deepEqual(set.images.map((i) => i.name), [first.name]);
  assert.deepEqual(set.images[0]!.objects, []);
});

test('labelPathOf follows Ultralytics: the last /images/ becomes /labels/', () => {
  assert.equal(labelPathOf('/d/images/val/a.b.jpg'), '/d/labels/val/a.b.txt');
  assert.equal(labelPathOf('/images/x/images/val/a.png'), '/images/x/labels/val/a.txt');
  assert.equal(labelPathOf('/d/flat/a.jpg'), '/d/flat/a.txt');
});

test('parseYoloLabel: normalised boxes to pixels, rounding tolerance, polygons', () => {
  const boxes = parseYoloLabel('0 0.5 0.5 0.5 0.5\n\n2 0.0594870 0.5 0.118975 0.2\n1 0.1 0.1 0.3 0.1 0.3 0.4\n', 'l.txt', 200, 100, 3);
  assert.deepEqual(boxes[0], { classId: 0, x1: 50, y1: 25, x2: 150, y2: 75 });
  assert.equal(boxes[1]!.x1, 0, 'an edge 5e-7 below 0 (6-decimal rounding) is clipped, not an error');
  assert.deepEqual(boxes[2], { classId: 1, x1: 20, y1: 10, x2: 60, y2: 40 });
});

test('parseYoloLabel: each defect names the file and the 1-based line', () => {
  const cases: [string, RegExp][] = [
    ['0 1.2 0.5 0.1 0.1', /cx 1\.2 is outside \[0, 1\]/],
    ['0 0.5 0.5 -0.1 0.1', /w -0\.1 is outside/],
    ['0 0.95 0.5 0.2 0.1', /right edge cx \+ w\/2 = 1\.05 is beyond the image/],
    ['0 0.5 0.5 0 0.1', /w 0 is not positive/],
    ['7 0.5 0.5 0.1 0.1', /class id 7 is not in data\.yaml names \(ids 0 to 2\)/],
    ['1.5 0.5 0.5 0.1 0.1', /class id 1\.5 is not an integer/],
    ['0 0.5 0.5 0.1', /4 fields; expected 5/],
    ['0 0.5 0.5 0.1 0.1 0.9', /6 fields; expected 5/],
    ['0 0.5 abc 0.1 0.1', /field 3 \("abc"\) is not a number/],
  ];
  for (const [bad, reason] of cases) {
    assert.throws(
      () => parseYoloLabel(`0 0.5 0.5 0.1 0.1\n${bad}\n`, '/d/labels/val/a.txt', 100, 100, 3),
      (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_DATASET') && e.message.startsWith('/d/labels/val/a.txt:2: ') && reason.test(e.message),
      bad,
    );
  }
});

test('a bad label line in a set names its label file', async () => {
  const dir = await copySet();
  const img = (await readYolo(join(dir, 'data.yaml'))).images[0]!;
  const label = labelPathOf(img.file);
  await writeFile(label, '9 0.5 0.5 0.1 0.1\n');
  await expectDataset(readYolo(join(dir, 'data.yaml')), `${label}:1: `, /class id 9 is not in data\.yaml names/);
});

test('a label whose image is gone names the label, and the others without one are counted', async () => {
  const dir = await copySet();
  const images = (await readYolo(join(dir, 'data.yaml'))).images;
  const [a, b] = [images[0]!, images[1]!];
  await rm(a.file);
  await rm(b.file);
  await expectDataset(readYolo(join(dir, 'data.yaml')), `${labelPathOf(a.file)}: `, /no image for this label file.*1 more label files have none.*restore the image, or remove the label/);
  await rm(labelPathOf(a.file));
  await rm(labelPathOf(b.file));
  assert.equal((await readYolo(join(dir, 'data.yaml'))).images.length, images.length - 2, 'both gone: the set is whole again');
  // What is not a label: LabelImg's classes.txt, a README, an empty file (it lost no object).
  const labels = dirname(labelPathOf(images[2]!.file));
  await writeFile(join(labels, 'classes.txt'), 'washer\nbracket\nscratch\nmissing_notch\n');
  await writeFile(join(labels, 'README.txt'), 'Labelled by line 3, week 48.\n');
  await writeFile(join(labels, 'gone.txt'), '');
  assert.equal((await readYolo(join(dir, 'data.yaml'))).images.length, images.length - 2);
  // A label named in upper case is never read (labels are <name>.txt): said so, not called an orphan.
  const c = images[2]!;
  const upper = labelPathOf(c.file).replace(/\.txt$/, '.TXT');
  await rename(labelPathOf(c.file), upper);
  await writeFile(upper, '0 0.5 0.5 0.1 0.1\n');
  await expectDataset(readYolo(join(dir, 'data.yaml')), `${upper}: `, /its image is there, but its label is read from the lower-case name .*\.txt: rename it/);
});

test('a label without its image in a split not scored is left alone: that split only names CSV rows', async () => {
  const dir = await copySet();
  const train = (await readYolo(join(dir, 'data.yaml'), 'train')).images;
  await rm(train[0]!.file);
  const val = await readYolo(join(dir, 'data.yaml'), 'val');
  assert.ok(val.images.length > 0 && val.allNames.some((n) => n.startsWith('images/train/')), 'val read, train still named');
  await expectDataset(readYolo(join(dir, 'data.yaml'), 'train'), labelPathOf(train[0]!.file), /no image for this label file/);
});

test('data.yaml problems: no names, a missing split folder, bad YAML, bad held_out, nc disagreeing', async () => {
  const noNames = await copySet((t) => t.replace(/^nc: .*\nnames:\n(( {2}\d+: .*\n)+)/m, ''));
  await expectDataset(readYolo(join(noNames, 'data.yaml')), `${join(noNames, 'data.yaml')}: `, /no `names`/);
  const noVal = await copySet((t) => t.replace(/^val: .*$/m, 'val: images/validation'));
  await expectDataset(readYolo(join(noVal, 'data.yaml')), `${join(noVal, 'data.yaml')}:4: `, /the val split folder images\/validation does not exist/);
  assert.ok((await readYolo(join(noVal, 'data.yaml'), 'train')).images.length > 0, 'a missing split that is not asked for does not matter');
  const badYaml = await copySet((t) => t.replace(/^val: .*$/m, 'val: [images/val'));
  await expectDataset(readYolo(join(badYaml, 'data.yaml')), `${join(badYaml, 'data.yaml')}:`, /not valid YAML/);
  const badHeld = await copySet((t) => t.replace(/^held_out: .*$/m, 'held_out: [4, 9]'));
  await expectDataset(readYolo(join(badHeld, 'data.yaml')), `${join(badHeld, 'data.yaml')}:14: `, /held_out must be a list of class ids in 0\.\.5/);
  const badNc = await copySet((t) => t.replace(/^nc: .*$/m, 'nc: 4'));
  await expectDataset(readYolo(join(badNc, 'data.yaml')), `${join(badNc, 'data.yaml')}:5: `, /nc is 4 but names has 6/);
});

test('a file with an image suffix that does not decode is an error naming it; hidden files are skipped', async () => {
  const dir = await copySet();
  await writeFile(join(dir, 'images', 'val', '._000000.jpg'), 'AppleDouble junk');
  await writeFile(join(dir, 'images', 'val', 'notes.txt'), 'not an image, not looked at');
  assert.ok((await readYolo(join(dir, 'data.yaml'))).images.length > 0);
  const junk = join(dir, 'images', 'val', 'zzz.jpg');
  await writeFile(junk, 'this is not a JPEG');
  await expectDataset(readYolo(join(dir, 'data.yaml')), `${junk}: `, /not a decodable image/);
});
