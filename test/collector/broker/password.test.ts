import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_COST, hashPassword, parseHash, verifyPassword, type ScryptHash } from '../../../collector/broker/password.js';

test('a hash made with the default cost verifies its password and no other', async () => {
  const encoded = await hashPassword('correct horse battery staple');
  assert.match(encoded, new RegExp(`^scrypt\\$${DEFAULT_COST.N}\\$${DEFAULT_COST.r}\\$${DEFAULT_COST.p}\\$[A-Za-z0-9_-]{22}\\$[A-Za-z0-9_-]{43}$`));
  const h = parseHash(encoded) as ScryptHash;
  assert.equal(typeof h, 'object');
  assert.equal(await verifyPassword('correct horse battery staple', h), true);
  assert.equal(await verifyPassword(Buffer.from('correct horse battery staple'), h), true);
  assert.equal(await verifyPassword('correct horse battery stapl', h), false);
  assert.notEqual(await hashPassword('same'), await hashPassword('same'), 'a fresh salt each time');
});

test('parseHash refuses malformed strings and costs that would make every connect expensive, without echoing them', () => {
  const salt = Buffer.alloc(16, 1).toString('base64url');
  const key = Buffer.alloc(32, 2).toString('base64url');
  const cases: [string, RegExp][] = [
    ['plaintext-password', /six \$-separated fields/],
    [`bcrypt$16384$8$1$${salt}$${key}`, /six \$-separated fields/],
    [`scrypt$1000$8$1$${salt}$${key}`, /power of two/],
    [`scrypt$${1 << 21}$8$1$${salt}$${key}`, /power of two/],
    [`scrypt$${1 << 20}$32$1$${salt}$${key}`, /256 MiB/],
    [`scrypt$16384$0$1$${salt}$${key}`, /r must/],
    [`scrypt$16384$8$99$${salt}$${key}`, /p must/],
    [`scrypt$16384$8$1$${salt}$not+base64/url`, /base64url/],
    [`scrypt$16384$8$1$AAAA$${key}`, /salt must be/],
    [`scrypt$16384$8$1$${salt}$AAAA`, /hash must be/],
  ];
  for (const [s, why] of cases) {
    const r = parseHash(s);
    assert.equal(typeof r, 'string', s);
    assert.match(r as string, why, s);
    assert.ok(!(r as string).includes(key) && !(r as string).includes('plaintext'), 'the reason never repeats the string');
  }
});
