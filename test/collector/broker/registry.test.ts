import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashPassword, parseHash, verifyPassword, type ScryptHash } from '../../../collector/broker/password.js';
import { loadRegistry } from '../../../collector/broker/registry.js';
import { isDriftlineError } from '../../../lib/errors.js';
import { CLI } from '../../helpers/cli.js';

const FAST = { N: 1024, r: 8, p: 1 };

async function file(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-registry-'));
  const f = join(dir, 'registry.yaml');
  await writeFile(f, text);
  return f;
}

test('a registry loads devices, scoped and unscoped viewers and collectors; devices claim their agent client id', async () => {
  const h = await hashPassword('pw', FAST);
  const f = await file(`users:
  - { username: press-7, site: plant-a, device: press-7, passwordHash: "${h}" }
  - { username: press-8, site: plant-a, device: press-8, clientId: custom-8, passwordHash: "${h}" }
  - { username: display, role: viewer, site: plant-a, passwordHash: "${h}" }
  - { username: grafana, role: viewer, passwordHash: "${h}" }
  - { username: bridge, role: collector, passwordHash: "${h}" }
`);
  const r = loadRegistry(f);
  assert.deepEqual([...r.users.values()].map((u) => [u.username, u.role, u.site, u.device]), [
    ['press-7', 'device', 'plant-a', 'press-7'],
    ['press-8', 'device', 'plant-a', 'press-8'],
    ['display', 'viewer', 'plant-a', undefined],
    ['grafana', 'viewer', undefined, undefined],
    ['bridge', 'collector', undefined, undefined],
  ]);
  assert.deepEqual([...r.clientIds], [['driftline-agent-plant-a-press-7', 'press-7'], ['custom-8', 'press-8']]);
  assert.equal(await verifyPassword('pw', r.users.get('press-7')!.hash), true);
});

test('every problem is reported at once, naming the entry and the field, and never a hash or a password', async () => {
  const good = await hashPassword('pw', FAST);
  const badHash = `scrypt$1000$8$1$${'A'.repeat(22)}$SECRETHASHVALUE${'B'.repeat(30)}`;
  const f = await file(`users:
  - { username: a, site: s, device: d1, passwordHash: "${good}" }
  - { username: a, site: s, device: d2, passwordHash: "${good}" }
  - { username: b, site: "bad/site", device: d3, passwordHash: "${good}" }
  - { username: c, site: s, device: d4, passwordHash: "${badHash}" }
  - { username: d, site: s, device: d5, password: "PLAINTEXT-PW" }
  - { username: e, site: alerts, device: d6, passwordHash: "${good}" }
  - { username: f, site: s, passwordHash: "${good}" }
  - { username: g, role: viewer, device: d7, passwordHash: "${good}" }
  - { username: h, role: admin, passwordHash: "${good}" }
  - { username: i, site: s, device: d8, clientId: driftline-agent-s-d1, passwordHash: "${good}" }
  - just a string
extra: 1
`);
  assert.throws(
    () => loadRegistry(f),
    (e) => {
      assert.ok(isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG'));
      const m = e.message;
      for (const want of [
        /users\[1\] \(a\)\.username.*not already used by users\[0\]/,
        /users\[2\] \(b\)\.site: got "bad\/site"/,
        /users\[3\] \(c\)\.passwordHash: got \(hidden\), expected scrypt\$N\$r\$p\$salt\$hash .*power of two/,
        /users\[4\] \(d\)\.password: got \(hidden\).*hashes only: make one with driftline registry hash/,
        /users\[4\] \(d\)\.passwordHash: got nothing/,
        /users\[5\] \(e\)\.site: got "alerts"/,
        /users\[6\] \(f\)\.device: got nothing/,
        /users\[7\] \(g\)\.device: got "d7", expected nothing: a viewer has no device/,
        /users\[8\] \(h\)\.role: got "admin"/,
        /users\[9\] \(i\)\.clientId: got "driftline-agent-s-d1", expected a client id no other entry claims \(a does/,
        /users\[10\]: got "just a string"/,
        /invalid [^:]*registry\.yaml: extra: got 1/,
      ]) {
        assert.match(m, want);
      }
      assert.ok(m.startsWith('12 problems'), m.split('\n')[0]);
      for (const secret of ['SECRETHASHVALUE', 'PLAINTEXT-PW', good.split('$')[5]!]) assert.ok(!m.includes(secret), `the message shows ${secret}`);
      return true;
    },
  );
});

test('an unreadable or unparsable registry is DRIFTLINE_ERR_CONFIG naming broker.registry, without quoting the file', async () => {
  assert.throws(() => loadRegistry('/nonexistent/registry.yaml'), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /broker\.registry.*ENOENT/.test(e.message));
  const f = await file('users:\n  - username: a\n    passwordHash: scrypt$SECRET-IN-A-BROKEN-LINE\n   bad: [\n');
  assert.throws(() => loadRegistry(f), (e) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /broker\.registry.*valid YAML: .*at line \d+/.test(e.message) && !e.message.includes('SECRET'));
  const empty = await file('');
  assert.throws(() => loadRegistry(empty), /a mapping with a users: list/);
});

test('driftline registry hash makes a hash from stdin that the registry accepts; check counts users and prints no hash', async () => {
  const r = spawnSync(process.execPath, [CLI, 'registry', 'hash'], { input: 'a long enough password\n', encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const hash = r.stdout.trim();
  assert.ok(!r.stdout.includes('a long enough password'));
  assert.equal(await verifyPassword('a long enough password', parseHash(hash) as ScryptHash), true);
  const f = await file(`users:\n  - { username: press-7, site: plant-a, device: press-7, passwordHash: "${hash}" }\n`);
  const check = spawnSync(process.execPath, [CLI, 'registry', 'check', f], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  assert.deepEqual(JSON.parse(check.stdout), { file: f, users: 1, roles: { device: 1 } });
  assert.ok(!check.stdout.includes(hash.split('$')[5]!));
  const empty = spawnSync(process.execPath, [CLI, 'registry', 'hash'], { input: '', encoding: 'utf8' });
  assert.equal(empty.status, 2);
  assert.match(empty.stderr, /DRIFTLINE_ERR_USAGE: no password on stdin/);
});
