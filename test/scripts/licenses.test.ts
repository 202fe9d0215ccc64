import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { licenceProblem, productionPackages } from '../../scripts/licenses.js';
import { ROOT } from '../helpers/cli.js';

test('network copyleft and unreadable licences fail; alternatives with a permissive choice pass', () => {
  const p = (license: string | undefined) => licenceProblem({ name: 'x', version: '1.0.0', license });
  for (const ok of ['MIT', 'Apache-2.0', '(MIT OR CC0-1.0)', 'LGPL-3.0-or-later', '(AGPL-3.0-only OR MIT)', 'BSD-3-Clause AND MIT']) assert.equal(p(ok), undefined, ok);
  assert.match(p('AGPL-3.0-only')!, /x@1\.0\.0: AGPL-3\.0-only \(network copyleft\)/);
  assert.match(p('SSPL-1.0')!, /network copyleft/);
  assert.match(p('MIT AND AGPL-3.0-or-later')!, /network copyleft/, 'every part of an AND must be shippable');
  for (const bad of [undefined, 'UNLICENSED', 'SEE LICENSE IN LICENSE.md']) assert.match(p(bad)!, /no licence npm can read/);
});

test('the production tree: each installed package once; other platforms\' optional packages are not shipped', () => {
  const pkgs = productionPackages({
    dependencies: {
      a: { version: '1.0.0', license: 'MIT', dependencies: { c: { version: '2.0.0', license: { type: 'ISC' } } } },
      b: { version: '1.1.0', license: 'Apache-2.0', dependencies: { c: { version: '2.0.0', license: 'ISC' }, fsevents: {} } },
    },
  });
  assert.deepEqual(pkgs, [
    { name: 'a', version: '1.0.0', license: 'MIT' },
    { name: 'c', version: '2.0.0', license: 'ISC' },
    { name: 'b', version: '1.1.0', license: 'Apache-2.0' },
  ]);
});

test('npm run licenses passes on what Driftline ships', { timeout: 60_000 }, async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/licenses.ts'], { cwd: ROOT });
  assert.match(stdout, /^licences of \d+ shipped packages: MIT \d+/);
});
