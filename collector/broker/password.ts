/**
 * Password hashes for the device registry: scrypt (Node's crypto.scrypt) with a random salt per
 * entry, written as one string so an operator can paste it into the registry file:
 *
 *   scrypt$N$r$p$SALT$HASH      e.g. scrypt$16384$8$1$3q2-7w...$Jc0u...
 *
 * N, r and p are scrypt's cost parameters (N a power of two), SALT and HASH are base64url without
 * padding (no `$`, `:` or `/` in them, so the string survives YAML and a Mosquitto-style file).
 * Parsing bounds the cost, so a hand-edited registry cannot make every connect cost gigabytes.
 * Verification compares in constant time. `driftline registry hash` makes new hashes.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/** The cost new hashes get: about 16 MiB and a few tens of milliseconds per check. */
export const DEFAULT_COST = { N: 1 << 14, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const MAX_MEMORY = 256 << 20;

export const HASH_FORMAT = 'scrypt$N$r$p$salt$hash (make one with: driftline registry hash)';

const B64URL = /^[A-Za-z0-9_-]+$/;

/** The parsed hash, or why the string is not one (the reason never repeats the string). */
export function parseHash(encoded: string): ScryptHash | string {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return 'not six $-separated fields starting with scrypt';
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const int = (s: string): number => (/^[0-9]{1,10}$/.test(s) ? Number(s) : NaN);
  const N = int(n);
  const R = int(r);
  const P = int(p);
  if (!(N >= 1024 && N <= 1 << 20 && (N & (N - 1)) === 0)) return 'N must be a power of two from 1024 to 1048576';
  if (!(R >= 1 && R <= 32)) return 'r must be 1 to 32';
  if (!(P >= 1 && P <= 16)) return 'p must be 1 to 16';
  if (128 * N * R > MAX_MEMORY) return 'N x r needs more than 256 MiB';
  if (!B64URL.test(salt) || !B64URL.test(hash)) return 'salt and hash must be base64url';
  const s = Buffer.from(salt, 'base64url');
  const h = Buffer.from(hash, 'base64url');
  if (s.length < 8 || s.length > 64) return 'the salt must be 8 to 64 bytes';
  if (h.length < 16 || h.length > 64) return 'the hash must be 16 to 64 bytes';
  return { N, r: R, p: P, salt: s, hash: h };
}

function derive(password: string | Buffer, salt: Buffer, length: number, c: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, { N: c.N, r: c.r, p: c.p, maxmem: 2 * 128 * c.N * c.r + (1 << 20) }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A new hash of `password` with a fresh random salt, in the registry's format. */
export async function hashPassword(password: string | Buffer, cost: { N: number; r: number; p: number } = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, cost);
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Whether `password` matches; constant-time in the comparison. */
export async function verifyPassword(password: string | Buffer, h: ScryptHash): Promise<boolean> {
  const key = await derive(password, h.salt, h.hash.length, h);
  return timingSafeEqual(key, h.hash);
}
