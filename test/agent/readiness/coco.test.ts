import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { before, test } from 'node:test';
import { isDriftlineError } from '../../../lib/errors.js';
import { conditionSpec } from '../../../agent/synth/conditions.js';
import { writeDataset, type ManifestEntry } from '../../../agent/synth/dataset.js';
import { readCoco, toCocoJson, type CocoDocument } from '../../../agent/readiness/coco.js';
import { readEvalSet, type EvalSet } from '../../../agent/readiness/dataset.js';

let ds = '';
let csv = '';
let first = '';

before(async () => {
  ds = await mkdtemp(join(tmpdir(), 'driftline-coco-'));
  await writeDataset({ out: ds, count: 12, seed: 11, width: 160, height: 120, valFraction: 0.5, conditions: conditionSpec({ defectRate: 0.5, heldOutRate: 0.2, gain: [0.8, 1.2] }) });
  csv = join(ds, 'conditions.csv');
  const [a, b, c] = (await readFile(join(ds, 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as ManifestEntry).image);
  first = a!;
  await writeFile(csv, `image,shift,gain,camera\n${basename(a!)},"night, B",0.5,cam1\n${b},day,,cam2\n${c},day,0.7,\n`);
});

/** A hand-made COCO file in a fresh folder, its two images in images/ beside it (the fallback). */
interface Doc {
  images: Record<string, unknown>[];
  annotations: Record<string, unknown>[];
  categories: Record<string, unknown>[];
}

async function handMade(edit: (d: Doc) => void = () => undefined): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-coco-hand-'));
  await mkdir(join(dir, 'images'));
  await copyFile(join(ds, first), join(dir, 'images', 'a.jpg'));
  await copyFile(join(ds, first), join(dir, 'b.jpg'));
  const doc: Doc = {
    images: [
      { id: 10, file_name: 'a.jpg', width: 160, height: 120 },
      { id: 11, file_name: 'b.jpg', width: 160, height: 120 },
    ],
    annotations: [
      { id: 1, image_id: 10, category_id: 7, bbox: [10, 20, 30, 40], iscrowd: 0 },
      { id: 2, image_id: 10, category_id: 3, bbox: [-0.5, 100, 20, 20.4], iscrowd: 0 },
      { id: 3, image_id: 11, category_id: 3, bbox: [0, 0, 160, 120], iscrowd: 1 },
      { id: 4, image_id: 11, category_id: 7, bbox: [5, 5, 5, 5] },
    ],
    categories: [
      { id: 7, name: 'bracket' },
      { id: 3, name: 'washer' },
    ],
  };
  edit(doc);
  const file = join(dir, 'labels.json');
  await writeFile(file, JSON.stringify(doc, null, 1));
  return file;
}

async function expectAt(file: string, where: string, reason: RegExp): Promise<void> {
  await assert.rejects(readCoco(file), (e: unknown) => {
    assert.ok(isDriftlineError(e, 'DRIFTLINE_ERR_DATASET'), String(e));
    assert.ok(e.message.startsWith(`${file}${where}`), `${e.message} starts with ${file}${where}`);
    assert.match(e.message, reason);
    return true;
  });
}

function assertSameImages(a: EvalSet, b: EvalSet): void {
  assert.deepEqual(b.classNames, a.classNames);
  assert.deepEqual(b.heldOutClassIds, a.heldOutClassIds);
  assert.deepEqual(b.conditionColumns, a.conditionColumns);
  assert.equal(b.images.length, a.images.length);
  a.images.forEach((ia, k) => {
    const ib = b.images[k]!;
    assert.deepEqual([ib.file, ib.name, ib.width, ib.height], [ia.file, ia.name, ia.width, ia.height]);
    assert.deepEqual(ib.conditions, ia.conditions, ia.name);
    assert.equal(ib.objects.length, ia.objects.length, ia.name);
    ia.objects.forEach((oa, j) => {
      const ob = ib.objects[j]!;
      assert.equal(ob.classId, oa.classId);
      for (const key of ['x1', 'y1', 'x2', 'y2'] as const) assert.ok(Math.abs(ob[key] - oa[key]) <= 1e-6, `${ia.name} box ${j} ${key}`);
    });
  });
}

test('a YOLO set written as COCO reads back as the same images, boxes, classes and conditions (same CSV)', async () => {
  const yolo = await readEvalSet(ds, { split: 'all', conditions: csv });
  assert.ok(yolo.images.some((i) => i.objects.length > 0));
  assert.equal(yolo.images.find((i) => i.name === first)!.conditions.shift, 'night, B');
  const file = join(ds, 'coco.json');
  await writeFile(file, JSON.stringify(toCocoJson(yolo)));
  const coco = await readEvalSet(file, { conditions: csv });
  assert.equal(coco.format, 'coco');
  assert.equal(coco.root, yolo.root);
  assertSameImages(yolo, coco);
  // The renderer's ambiguous regions travel as crowd boxes and come back as the same ignore regions.
  const regions = yolo.images.reduce((a, i) => a + (i.ignore?.length ?? 0), 0);
  assert.equal(coco.crowdSkipped, regions);
  coco.images.forEach((im, k) => assert.equal(im.ignore?.length ?? 0, yolo.images[k]!.ignore?.length ?? 0, im.name));

  // A plain COCO file (no Driftline `conditions` on its images) with the same CSV: the CSV's columns agree.
  const plain = toCocoJson(yolo) as CocoDocument;
  const bare = { ...plain, images: plain.images.map(({ conditions: _c, ...im }) => im) };
  await writeFile(file, JSON.stringify(bare));
  const fromCsv = await readEvalSet(file, { conditions: csv, columns: ['shift', 'camera'] });
  const yoloCsv = await readEvalSet(ds, { split: 'all', conditions: csv, columns: ['shift', 'camera'] });
  assertSameImages(yoloCsv, fromCsv);
});

test('toCocoJson writes a valid COCO document: unique ids, 1-based categories, areas, held-out marks', async () => {
  const set = await readEvalSet(ds);
  const doc = toCocoJson(set);
  assert.deepEqual(doc.categories.map((c) => c.id), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(doc.categories.filter((c) => c.held_out).map((c) => c.name), ['burn', 'stain']);
  assert.equal(new Set(doc.images.map((i) => i.id)).size, doc.images.length);
  assert.equal(new Set(doc.annotations.map((a) => a.id)).size, doc.annotations.length);
  const ids = new Set(doc.images.map((i) => i.id));
  for (const a of doc.annotations) {
    assert.ok(ids.has(a.image_id));
    assert.ok(a.iscrowd === 0 || a.iscrowd === 1);
    assert.ok(Math.abs(a.area - a.bbox[2] * a.bbox[3]) < 1e-9);
  }
  assert.equal(doc.annotations.filter((a) => a.iscrowd === 1).length, set.images.reduce((a, i) => a + (i.ignore?.length ?? 0), 0), 'one crowd box per ignore region');
  assert.ok(doc.images.every((i) => !i.file_name.startsWith('/') && i.file_name.startsWith('images/val/')));
});

test('reads a hand-made COCO file: classes sorted by id, images/ fallback, crowd boxes as ignore regions, overhang clipped', async () => {
  const file = await handMade();
  const set = await readEvalSet(file);
  assert.deepEqual(set.classNames, ['washer', 'bracket']);
  assert.deepEqual(set.images.map((i) => i.name), ['images/a.jpg', 'b.jpg']);
  assert.deepEqual(set.images[0]!.objects, [
    { classId: 1, x1: 10, y1: 20, x2: 40, y2: 60 },
    { classId: 0, x1: 0, y1: 100, x2: 19.5, y2: 120 },
  ]);
  assert.deepEqual(set.images[1]!.objects, [{ classId: 1, x1: 5, y1: 5, x2: 10, y2: 10 }]);
  assert.equal(set.crowdSkipped, 1);
  assert.match(set.notes!.join('\n'), /1 crowd annotations \(iscrowd: 1\) are ignore regions/);
  assert.deepEqual(set.images[1]!.ignore, [{ classId: -1, x1: 0, y1: 0, x2: 160, y2: 120 }]);
  assert.deepEqual(set.conditionColumns, []);
  const withSplit = await readEvalSet(file, { split: 'train' });
  assert.match(withSplit.notes!.join('\n'), /split train ignored/);
});

test('COCO errors name the file and the entry', async () => {
  const broken = await handMade();
  await writeFile(broken, '{\n "images": [],\n "annotations": []\n "categories": []\n}\n');
  await expectAt(broken, ':4: ', /not valid JSON/);
  await writeFile(broken, '{"images": [], "annotations": []}');
  await expectAt(broken, ': ', /no `categories` array/);
  await expectAt(await handMade((d) => (d.annotations[1]!.category_id = 99)), ' (annotations[1], id 2): ', /category_id 99 is not among the categories \(ids 3, 7\)/);
  await expectAt(await handMade((d) => (d.annotations[0]!.bbox = [150, 20, 30, 40])), ' (annotations[0], id 1): ', /bbox \[150,20,30,40\] \(x2 180, y2 60\) is outside image images\/a\.jpg \(160x120\)/);
  await expectAt(await handMade((d) => (d.annotations[0]!.bbox = [10, 20, 0, 40])), ' (annotations[0], id 1): ', /has no area/);
  await expectAt(await handMade((d) => (d.annotations[3]!.image_id = 12)), ' (annotations[3], id 4): ', /image_id 12 is not the id of any image/);
  await expectAt(await handMade((d) => (d.images[1]!.file_name = 'gone.jpg')), ' (images[1], id 11): ', /image gone\.jpg does not exist \(looked for .*gone\.jpg and .*images\/gone\.jpg\)/);
  await expectAt(await handMade((d) => (d.images[1]!.width = 640)), ' (images[1], id 11): ', /says 640x120 but .* is 160x120/);
  await expectAt(await handMade((d) => d.categories.push({ id: 3, name: 'again' })), ' (categories[2]): ', /category id 3 appears twice/);
});

test('a COCO image that does not decode is an error naming the image', async () => {
  const file = await handMade();
  const junk = join(file, '..', 'b.jpg');
  await writeFile(junk, 'not a JPEG');
  await assert.rejects(readCoco(file), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_DATASET') && e.message.startsWith(`${junk}: not a decodable image`));
});
