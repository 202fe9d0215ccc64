import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { cli, renderDataset } from '../helpers/cli.js';

let dataset = '';

before(async () => {
  dataset = await renderDataset(6, 99);
});

test('synth writes the dataset it reports', async () => {
  const files = await readdir(join(dataset, 'images', 'train'));
  assert.equal(files.length, 6);
});

test('synth refuses a bad condition with the key, the value and the range', async () => {
  const r = await cli('synth', '--out', dataset, '--gain', 'bright');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /DRIFTLINE_ERR_CONFIG: invalid conditions\.gain: got "?bright"?, expected a number in \[0, 4\]/);
  const missing = await cli('synth', '--count', '3');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--out DIR is required/);
});
