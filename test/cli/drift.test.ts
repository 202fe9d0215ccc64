import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, cli } from '../helpers/cli.js';

const SHIPPED = join(ROOT, 'models', 'line-detector.profile.json');

test('a profile compared with itself drifts nowhere; --json gives the rows', async () => {
  const r = await cli('drift', SHIPPED, SHIPPED);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^feature\s+mean A\s+mean B\s+PSI\s+JS\s+KS\s+W1\/sd$/m);
  assert.doesNotMatch(r.stdout, /warn|alert|different models/);
  const j = JSON.parse((await cli('drift', SHIPPED, SHIPPED, '--json')).stdout) as { sameModel: boolean; rows: { feature: string; psi: number; ks: number }[] };
  assert.equal(j.sameModel, true);
  assert.equal(j.rows.length, 18);
  for (const row of j.rows) assert.ok(row.psi < 1e-9 && row.ks < 1e-9, JSON.stringify(row));
});

test('a file that is not a profile gets DRIFTLINE_ERR_PROFILE naming it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-drift-'));
  const notJson = join(dir, 'a.json');
  await writeFile(notJson, 'nope');
  const other = join(dir, 'b.json');
  await writeFile(other, '{"schema": "something/2"}');
  for (const [f, re] of [[notJson, /a\.json is not a Driftline profile/], [other, /b\.json is not a Driftline profile: schema is "something\/2"/]] as const) {
    const r = await cli('drift', SHIPPED, f);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /DRIFTLINE_ERR_PROFILE/);
    assert.match(r.stderr, re);
  }
  assert.equal((await cli('drift', SHIPPED)).code, 2);
});
