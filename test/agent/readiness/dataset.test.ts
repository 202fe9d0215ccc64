import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { driftlineError, isDriftlineError } from '../../../lib/errors.js';
import { conditionSpec } from '../../../agent/synth/conditions.js';
import { writeDataset, type ManifestEntry } from '../../../agent/synth/dataset.js';
import { readEvalSet, toCocoJson } from '../../../agent/readiness/dataset.js';

let ds = '';
let manifest: ManifestEntry[] = [];

before(async () => {
  ds = await mkdtemp(join(tmpdir(), 'driftline-evalset-'));
  await writeDataset({ out: ds, count: 12, seed: 3, width: 160, height: 120, valFraction: 0.5, conditions: conditionSpec({ defectRate: 0.5, gain: [0.6, 1.2], colourTempK: [4000, 7000] }) });
  manifest = (await readFile(join(ds, 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as ManifestEntry);
});

async function expectDataset(p: Promise<unknown>, start: string, reason: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isDriftlineError(e, 'DRIFTLINE_ERR_DATASET'), String(e));
    assert.ok(e.message.startsWith(start), `${e.message} starts with ${start}`);
    assert.match(e.message, reason);
    return true;
  });
}

test('DRIFTLINE_ERR_DATASET reads FILE:LINE: reason, or FILE (entry): reason', () => {
  assert.equal(driftlineError('DRIFTLINE_ERR_DATASET', { file: '/d/labels/val/1.txt', line: 3, reason: 'w 0 is not positive' }).message, '/d/labels/val/1.txt:3: w 0 is not positive');
  assert.equal(driftlineError('DRIFTLINE_ERR_DATASET', { file: '/d/c.json', location: 'annotations[4], id 17', reason: 'r' }).message, '/d/c.json (annotations[4], id 17): r');
  assert.equal(driftlineError('DRIFTLINE_ERR_DATASET', { file: '/d/data.yaml', reason: 'no `names`' }).message, '/d/data.yaml: no `names`');
});

test('readEvalSet takes a data.yaml, its folder, or a COCO json, and the same set comes back', async () => {
  const byYaml = await readEvalSet(join(ds, 'data.yaml'));
  const byDir = await readEvalSet(ds);
  assert.deepEqual(byDir, byYaml);
  assert.equal(byYaml.format, 'yolo');
  const val = manifest.filter((m) => m.split === 'val');
  assert.deepEqual(byYaml.images.map((i) => i.name), val.map((m) => m.image));
  const img = byYaml.images[0]!;
  assert.equal(img.conditions.gain, String(val[0]!.conditions.gain), 'manifest numbers as text via String()');
  assert.ok(!('stainRate' in img.conditions), 'a key the manifest leaves out is absent, never empty');
  assert.equal(byYaml.conditionColumns[0], 'gain');
  await writeFile(join(ds, 'set.json'), JSON.stringify(toCocoJson(byYaml)));
  const coco = await readEvalSet(join(ds, 'set.json'));
  assert.equal(coco.format, 'coco');
  assert.deepEqual(coco.images, byYaml.images);
  assert.deepEqual(coco.conditionColumns, byYaml.conditionColumns);
});

test('a CSV replaces same-named manifest columns, adds its own, and columns keeps only those named', async () => {
  const [a, b] = manifest.filter((m) => m.split === 'val');
  const other = manifest.find((m) => m.split === 'train')!;
  const csv = join(ds, 'conditions.csv');
  await writeFile(csv, `image,gain,shift,"product variant"\n${a!.image},dim,night,"M8, zinc"\n${b!.image},,day,\n${other.image},x,y,z\n`);
  const set = await readEvalSet(ds, { conditions: csv });
  assert.deepEqual(set.conditionColumns.slice(0, 2), ['gain', 'colourTempK']);
  assert.deepEqual(set.conditionColumns.slice(-2), ['shift', 'product variant']);
  const byName = new Map(set.images.map((i) => [i.name, i.conditions]));
  assert.deepEqual([byName.get(a!.image)!.gain, byName.get(a!.image)!.shift, byName.get(a!.image)!['product variant']], ['dim', 'night', 'M8, zinc']);
  assert.equal(byName.get(b!.image)!.gain, undefined, "the CSV's gain column replaces the manifest's whole");
  assert.equal(byName.get(b!.image)!.colourTempK, String(b!.conditions.colourTempK));
  assert.match(set.notes!.join('\n'), /1 rows name images of another split and were skipped/);
  const kept = await readEvalSet(ds, { conditions: csv, columns: ['shift', 'colourTempK'] });
  assert.deepEqual(kept.conditionColumns, ['colourTempK', 'shift']);
  assert.deepEqual(Object.keys(kept.images.find((i) => i.name === a!.image)!.conditions).sort(), ['colourTempK', 'shift']);
  await assert.rejects(readEvalSet(ds, { columns: ['lighting'] }), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_USAGE') && /unknown condition column "lighting"; the set has gain, colourTempK/.test(e.message));
});

test('readEvalSet errors: a missing path, a folder without data.yaml, another file type, a CSV row outside the set', async () => {
  await expectDataset(readEvalSet(join(ds, 'nope')), `${join(ds, 'nope')}: `, /does not exist; expected a data\.yaml/);
  await expectDataset(readEvalSet(join(ds, 'images')), `${join(ds, 'images')}: `, /holds no data\.yaml/);
  await expectDataset(readEvalSet(join(ds, 'manifest.jsonl')), `${join(ds, 'manifest.jsonl')}: `, /not a \.yaml .* or a \.json/);
  const csv = join(ds, 'bad.csv');
  await writeFile(csv, `image,shift\n${manifest[0]!.image},day\nimages/val/999999.jpg,night\n`);
  await expectDataset(readEvalSet(ds, { conditions: csv }), `${csv}:3: `, /image "images\/val\/999999\.jpg" does not exist/);
  await writeFile(csv, `image,shift\nmanifest.jsonl,day\n`);
  await expectDataset(readEvalSet(ds, { conditions: csv }), `${csv}:2: `, /image "manifest\.jsonl" is not in the set/);
  await writeFile(csv, `name,shift\n${manifest[0]!.image},day\n`);
  await expectDataset(readEvalSet(ds, { conditions: csv }), `${csv}:1: `, /no `image` column/);
});

test('the renderer\'s ambiguous regions become ignore boxes: a part with its notch out of view leaves the targets, and survives a COCO round trip as a crowd box', async () => {
  const { mkdtemp: mk, writeFile: wf } = await import('node:fs/promises');
  const { tmpdir: td } = await import('node:os');
  const { join: j } = await import('node:path');
  const { writeDataset } = await import('../../../agent/synth/dataset.js');
  const { conditionSpec } = await import('../../../agent/synth/conditions.js');
  const { readEvalSet: read, toCocoJson } = await import('../../../agent/readiness/dataset.js');
  const dir = await mk(j(td(), 'driftline-ignore-'));
  await writeDataset({ out: dir, count: 40, seed: 404, width: 640, height: 480, valFraction: 1, conditions: conditionSpec({ defectRate: 0.5 }) });
  const manifest = (await (await import('node:fs/promises')).readFile(j(dir, 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { objects: unknown[]; ignore?: { box: number[]; reason: string; object?: number }[] });
  const set = await read(dir);
  let hidden = 0;
  set.images.forEach((im, k) => {
    const m = manifest[k]!;
    const dropped = (m.ignore ?? []).filter((r) => r.object !== undefined).length;
    hidden += dropped;
    assert.equal(im.objects.length, m.objects.length - dropped, im.name);
    assert.equal(im.ignore?.length ?? 0, m.ignore?.length ?? 0);
  });
  assert.ok(hidden > 0, 'some missing_notch part hid its notch');
  assert.ok(set.images.some((im) => (im.ignore?.length ?? 0) > 0));
  await wf(j(dir, 'coco.json'), JSON.stringify(toCocoJson(set)));
  const coco = await read(j(dir, 'coco.json'));
  coco.images.forEach((im, k) => {
    const r4 = (bs: readonly { classId: number; x1: number; y1: number; x2: number; y2: number }[] | undefined): number[][] => (bs ?? []).map((b) => [b.classId, b.x1, b.y1, b.x2, b.y2].map((v) => +v.toFixed(4)));
    assert.deepEqual(r4(im.objects), r4(set.images[k]!.objects));
    assert.deepEqual((im.ignore ?? []).map((b) => [b.x1, b.y1, b.x2, b.y2].map((v) => +v.toFixed(4))), (set.images[k]!.ignore ?? []).map((b) => [b.x1, b.y1, b.x2, b.y2].map((v) => +v.toFixed(4))));
  });
});
