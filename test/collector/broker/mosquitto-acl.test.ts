/**
 * Mosquitto's ACL from the device registry: one user block per entry, mirroring policy.ts, and the
 * shipped example (deploy/mosquitto/driftline.acl) is exactly what the generator writes from the
 * example registry beside it. The ACL is run against a real Mosquitto in test/deploy/mosquitto.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { aclLines, aclWarnings, mosquittoAcl } from '../../../collector/broker/mosquitto-acl.js';
import { loadRegistry, validateRegistry } from '../../../collector/broker/registry.js';
import { cli, ROOT } from '../../helpers/cli.js';

const HASH = 'scrypt$16384$8$1$gChSXUSKWEFmtVAcI3Zhmw$u4AFsWpuE4GROCle3tpBBAFo9uEy2pTBNLT9YuoD--Y';
const EXAMPLE = join(ROOT, 'deploy/mosquitto/registry.example.yaml');

test('each role gets literal topics: a device its own site and device, a viewer reads, the collector reads devices and writes alerts', () => {
  const r = validateRegistry(
    {
      users: [
        { username: 'u7', site: 'plant-a', device: 'press-7', passwordHash: HASH },
        { username: 'wall', role: 'viewer', passwordHash: HASH },
        { username: 'wall-a', role: 'viewer', site: 'plant-a', passwordHash: HASH },
        { username: 'central', role: 'collector', passwordHash: HASH },
      ],
    },
    'r.yaml',
  );
  const lines = (u: string): string[] => aclLines(r.users.get(u)!);
  assert.deepEqual(lines('u7'), ['topic write driftline/v1/plant-a/press-7/status', 'topic write driftline/v1/plant-a/press-7/+/summary', 'topic write driftline/v1/plant-a/press-7/+/event']);
  assert.deepEqual(lines('wall'), ['topic read driftline/v1/alerts/#', 'topic read driftline/v1/+/+/status']);
  assert.deepEqual(lines('wall-a'), ['topic read driftline/v1/alerts/plant-a/#', 'topic read driftline/v1/plant-a/+/status']);
  assert.deepEqual(lines('central'), ['topic read driftline/v1/#', 'topic write driftline/v1/alerts/+/+']);
  const acl = mosquittoAcl(r);
  assert.doesNotMatch(acl, /^pattern/m);
  assert.doesNotMatch(acl, /^topic (write|readwrite) driftline\/v1\/\+/m, 'no write with a wildcard site');
  // Sorted by username, so a reordered registry writes the same file.
  assert.deepEqual([...acl.matchAll(/^user (.+)$/gm)].map((m) => m[1]), ['central', 'u7', 'wall', 'wall-a']);
  assert.deepEqual(aclWarnings(r), []);
});

test('the shipped driftline.acl is what `driftline registry mosquitto-acl` writes from the example registry', async () => {
  const shipped = await readFile(join(ROOT, 'deploy/mosquitto/driftline.acl'), 'utf8');
  assert.equal(mosquittoAcl(loadRegistry(EXAMPLE), 'registry.example.yaml'), shipped);
  const printed = await cli('registry', 'mosquitto-acl', EXAMPLE);
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(printed.stdout, shipped);
});

test('the CLI writes --out atomically, the same bytes twice, and warns when the registry has no collector', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-acl-'));
  try {
    const reg = join(dir, 'registry.yaml');
    await writeFile(reg, `users:\n  - { username: d1, site: s1, device: d1, passwordHash: "${HASH}" }\n`);
    const out = join(dir, 'driftline.acl');
    const a = await cli('registry', 'mosquitto-acl', reg, '--out', out);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stderr, /warning: .*no entry has role collector/);
    const first = await readFile(out, 'utf8');
    assert.match(first, /^user d1\ntopic write driftline\/v1\/s1\/d1\/status$/m);
    assert.equal((await cli('registry', 'mosquitto-acl', reg, '--out', out)).code, 0);
    assert.equal(await readFile(out, 'utf8'), first);
    // A registry the collector would refuse is refused here too, before any ACL is written.
    await writeFile(reg, `users:\n  - { username: d1, site: alerts, device: d1, passwordHash: "${HASH}" }\n`);
    const bad = await cli('registry', 'mosquitto-acl', reg, '--out', out);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /DRIFTLINE_ERR_CONFIG.*site/);
    assert.equal(await readFile(out, 'utf8'), first, 'the previous ACL is left as it was');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
