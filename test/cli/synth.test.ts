import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { cli } from '../helpers/cli.js';

/** What `driftline synth` prints when it is done. */
interface Report {
  out: string;
  images: number;
  objects: number;
  perClass: Record<string, number>;
}

const COUNT = 8;
let dataset = '';
let report: Report;

before(async () => {
  dataset = await mkdtemp(join(tmpdir(), 'driftline-cli-'));
  const r = await cli('synth', '--out', dataset, '--count', String(COUNT), '--seed', '99', '--val', '0.25', '--defectRate', '0.5', '--size', '320x240');
  assert.equal(r.code, 0, r.stderr);
  report = JSON.parse(r.stdout) as Report;
});

test('synth writes the dataset it reports', async () => {
  assert.equal(report.out, dataset);
  assert.equal(report.images, COUNT);
  // The images on disk, per split, are the ones the manifest lists, each with its label file.
  const manifest = (await readFile(join(dataset, 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { image: string; label: string; split: string; objects: { classId: number }[] });
  assert.equal(manifest.length, report.images);
  const onDisk: string[] = [];
  for (const split of ['train', 'val']) {
    for (const f of await readdir(join(dataset, 'images', split))) onDisk.push(`images/${split}/${f}`);
    assert.deepEqual((await readdir(join(dataset, 'labels', split))).sort(), manifest.filter((m) => m.split === split).map((m) => m.label.split('/').at(-1)!).sort(), `labels/${split}`);
  }
  assert.deepEqual(onDisk.sort(), manifest.map((m) => m.image).sort(), 'images on disk = images in the manifest');
  assert.ok(manifest.every((m) => m.image.startsWith(`images/${m.split}/`) && m.label.startsWith(`labels/${m.split}/`)));
  assert.deepEqual([...new Set(manifest.map((m) => m.split))].sort(), ['train', 'val'], '--val 0.25 puts some in each split');
  // The counts it reports are those of the label files, by the class names in data.yaml.
  const yaml = await readFile(join(dataset, 'data.yaml'), 'utf8');
  assert.ok(yaml.split('\n').includes(`path: ${dataset}`), 'data.yaml points at the folder it reported');
  const names = [...yaml.matchAll(/^ {2}(\d+): (\S+)$/gm)].map((m) => m[2]!);
  assert.deepEqual(Object.keys(report.perClass), names, 'every class of data.yaml is reported, in order');
  const counted: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  let objects = 0;
  for (const m of manifest) {
    const lines = (await readFile(join(dataset, m.label), 'utf8')).split('\n').filter(Boolean);
    assert.deepEqual(lines.map((l) => Number(l.split(' ')[0])), m.objects.map((o) => o.classId), `${m.label} matches the manifest`);
    for (const l of lines) counted[names[Number(l.split(' ')[0])]!]!++;
    objects += lines.length;
  }
  assert.equal(report.objects, objects);
  assert.deepEqual(report.perClass, counted);
  assert.ok(objects > 0);
});

test('synth refuses a bad condition with the key, the value and the range', async () => {
  const r = await cli('synth', '--out', dataset, '--gain', 'bright');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /DRIFTLINE_ERR_CONFIG: invalid conditions\.gain: got "?bright"?, expected a number in \[0, 4\]/);
  const missing = await cli('synth', '--count', '3');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--out DIR is required/);
});
