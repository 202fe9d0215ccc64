import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { check, nestedDeeperThan, SCHEMAS, STATUS_SCHEMA, SUMMARY_SCHEMA, EVENT_SCHEMA, ALERT_SCHEMA } from '../../protocol/messages.js';
import { summaryMsg } from '../helpers/collector.js';

test('messages: valid ones pass; a failure names the field and what was wrong', () => {
  assert.ok(check(summaryMsg('p', 'd', 'c', 1), SCHEMAS.summary).ok);
  assert.ok(check({ ...summaryMsg('p', 'd', 'c', 1), addedLater: { x: 1 } }, SCHEMAS.summary).ok, 'fields added within v1 are ignored');
  assert.deepEqual(check({ ...summaryMsg('p', 'd', 'c', 1), seq: 0 }, SCHEMAS.summary), { ok: false, reason: '/seq must be >= 1' });
  // The stores keep a window's frames in a 32-bit column: a larger count is refused here, with its
  // reason, not by PostgreSQL at the commit (which would refuse the whole burst on every delivery).
  assert.ok(check({ ...summaryMsg('p', 'd', 'c', 1), frames: 2_147_483_647 }, SCHEMAS.summary).ok);
  assert.deepEqual(check({ ...summaryMsg('p', 'd', 'c', 1), frames: 3_000_000_000 }, SCHEMAS.summary), { ok: false, reason: '/frames must be <= 2147483647' });
  assert.deepEqual(check({ ...summaryMsg('p', 'd', 'c', 1), schema: 'driftline.summary/2' }, SCHEMAS.summary), { ok: false, reason: 'schema is "driftline.summary/2", expected driftline.summary/1' });
  assert.deepEqual(check([1], SCHEMAS.summary), { ok: false, reason: 'payload is not a JSON object' });
  assert.ok(check({ schema: SCHEMAS.status, site: 'p', device: 'd', state: 'offline', ts: 1 }, SCHEMAS.status).ok, 'the Last Will needs no more');
  assert.match((check({ schema: SCHEMAS.status, site: 'p', device: 'd', state: 'online', ts: 1 }, SCHEMAS.status) as { reason: string }).reason, /required property 'agent'/);
  assert.ok(check({ schema: SCHEMAS.event, site: 'p', device: 'd', camera: 'c', seq: 1, ts: 1, kind: 'stalled', message: 'm' }, SCHEMAS.event).ok);
  assert.ok(!check({ schema: SCHEMAS.event, site: 'p', device: 'd', camera: 'c', seq: 1, ts: 1, kind: 'exploded', message: 'm' }, SCHEMAS.event).ok);
});

/** Every property name of a JSON schema, nested ones included, with its path (`features.*.mean`). */
function fields(schema: unknown, path = ''): string[] {
  if (!schema || typeof schema !== 'object') return [];
  const s = schema as { properties?: Record<string, unknown>; items?: unknown; additionalProperties?: unknown; oneOf?: unknown[]; anyOf?: unknown[] };
  const out: string[] = [];
  for (const [k, v] of Object.entries(s.properties ?? {})) out.push(`${path}${k}`, ...fields(v, `${path}${k}.`));
  if (s.items) out.push(...fields(s.items, `${path.slice(0, -1)}[].`));
  if (typeof s.additionalProperties === 'object') out.push(...fields(s.additionalProperties, `${path}*.`));
  for (const x of [...(s.oneOf ?? []), ...(s.anyOf ?? [])]) out.push(...fields(x, path));
  return out;
}

test('docs/mqtt.md documents every field of every message', () => {
  const doc = readFileSync(new URL('../../docs/mqtt.md', import.meta.url), 'utf8');
  // Nested fields are documented inside their parent's row, e.g. `{ name, sha256 }`.
  assert.ok(fields(SUMMARY_SCHEMA).includes('features.*.mean') && fields(SUMMARY_SCHEMA).includes('drivers[].key'), 'nested fields are found');
  const inCode = new Set([...doc.matchAll(/`([^`]+)`/g)].flatMap((m) => m[1]!.match(/[A-Za-z_]\w*/g) ?? []));
  for (const s of [STATUS_SCHEMA, SUMMARY_SCHEMA, EVENT_SCHEMA, ALERT_SCHEMA]) {
    assert.ok(doc.includes(`\`${s.$id}\``), `docs/mqtt.md names ${s.$id}`);
    for (const field of Object.keys(s.properties)) assert.ok(doc.includes(`\`${field}\``), `docs/mqtt.md is missing ${s.$id} field ${field}`);
    for (const f of fields(s).filter((x) => /[.[]/.test(x))) assert.ok(inCode.has(f.split('.').at(-1)!), `docs/mqtt.md is missing ${s.$id} field ${f}`);
  }
});

/**
 * The collector's validators are Ajv's with a faster maxLength/minLength (messages.ts): every verdict
 * and every reason must be what stock Ajv says. Strings around each limit, in UTF-16 units and in
 * code points (astral characters are two units, one character), alone and with a failing pattern.
 */
test('the faster length keywords give stock Ajv verdicts and reasons, astral characters included', () => {
  const stock = new Ajv({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true });
  const reference = {
    [SCHEMAS.status]: stock.compile(STATUS_SCHEMA),
    [SCHEMAS.summary]: stock.compile(SUMMARY_SCHEMA),
    [SCHEMAS.event]: stock.compile(EVENT_SCHEMA),
    [SCHEMAS.alert]: stock.compile(ALERT_SCHEMA),
  };
  const expected = (value: unknown, schema: keyof typeof reference): string => {
    const v = reference[schema];
    return v(value) ? 'ok' : `${v.errors![0]!.instancePath || '(root)'} ${v.errors![0]!.message}`;
  };
  const got = (value: unknown, schema: string): string => {
    const r = check(value, schema);
    return r.ok ? 'ok' : r.reason;
  };
  const astral = '\u{1F600}';
  const strings = (limit: number): string[] => {
    const out: string[] = ['', 'a', '-bad start'];
    for (const n of [limit - 1, limit, limit + 1]) {
      if (n < 0) continue;
      out.push('a'.repeat(n), astral.repeat(n), `${'a'.repeat(Math.max(0, n - 1))}${astral}`, `${astral}${'a'.repeat(Math.max(0, n - 1))}`, `\ud800${'a'.repeat(Math.max(0, n - 1))}`, `${'a'.repeat(Math.max(0, n - 1))}\ud83d`);
    }
    for (const n of [Math.ceil(limit / 2), Math.floor(limit / 2) + 1, 2 * limit - 1, 2 * limit, 2 * limit + 1]) out.push(astral.repeat(Math.floor(n / 2)) + 'a'.repeat(n % 2), '-'.repeat(n));
    return out;
  };
  const base = { summary: summaryMsg('p', 'd', 'c', 1), event: { schema: SCHEMAS.event, site: 'p', device: 'd', camera: 'c', seq: 1, ts: 1, kind: 'stalled', message: 'm' } };
  const cases: [unknown, keyof typeof reference][] = [];
  for (const s of strings(64)) cases.push([{ ...base.summary, site: s }, SCHEMAS.summary], [{ ...base.summary, camera: s }, SCHEMAS.summary]);
  for (const s of strings(128)) {
    cases.push([{ ...base.summary, scores: { [s]: 1 } }, SCHEMAS.summary], [{ ...base.summary, features: { ...base.summary.features, [s]: { mean: 1, std: 1, min: 1, max: 1 } } }, SCHEMAS.summary]);
    cases.push([{ ...base.summary, drivers: [{ key: s, value: 1, warn: 1, alert: 2, level: 'warn' }] }, SCHEMAS.summary]);
  }
  for (const s of strings(32)) cases.push([{ ...base.summary, provider: s }, SCHEMAS.summary]);
  for (const s of strings(1024)) cases.push([{ ...base.event, message: s }, SCHEMAS.event]);
  for (const s of strings(64)) cases.push([{ schema: SCHEMAS.status, site: 'p', device: 'd', state: 'offline', ts: 1, stopReason: s }, SCHEMAS.status], [{ schema: SCHEMAS.status, site: 'p', device: 'd', state: 'offline', ts: 1, epoch: s }, SCHEMAS.status]);
  for (const [value, schema] of cases) assert.equal(got(value, schema), expected(value, schema), JSON.stringify(value).slice(0, 200));
  assert.ok(cases.some(([v, s]) => expected(v, s) === 'ok') && cases.some(([v, s]) => /characters/.test(expected(v, s))) && cases.some(([v, s]) => /pattern/.test(expected(v, s))), 'the cases pass, fail on length, and fail on pattern');
});

/** Ingest scans the payload's bytes for nesting: the same answer as a scan of the decoded text. */
test('nestedDeeperThan: the bytes and the text agree, whatever the UTF-8, escapes and strings hold', () => {
  const pieces = ['{', '}', '[', ']', '"', '\\', 'a', ':', ',', '1', 'é', '\u{1F600}', '\\"', '"[', ']"'];
  const raw = [Buffer.from([0xe2]), Buffer.from([0xff]), Buffer.from([0xc3, 0x22]), Buffer.from([0xf0, 0x9f, 0x5b])];
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let deep = 0;
  for (let k = 0; k < 3000; k++) {
    const parts: Buffer[] = [];
    const len = 1 + rnd(120);
    for (let i = 0; i < len; i++) parts.push(rnd(10) === 0 ? raw[rnd(raw.length)]! : Buffer.from(pieces[rnd(rnd(3) === 0 ? 4 : pieces.length)]!));
    const bytes = Buffer.concat(parts);
    for (const max of [1, 2, 4, 32]) {
      const text = nestedDeeperThan(bytes.toString('utf8'), max);
      assert.equal(nestedDeeperThan(bytes, max), text, `${bytes.toString('hex')} at ${max}`);
      if (text) deep++;
    }
  }
  assert.ok(deep > 100, 'some are deep');
  assert.equal(nestedDeeperThan(Buffer.from('['.repeat(33) + ']'.repeat(33))), true);
  assert.equal(nestedDeeperThan(Buffer.from(`"${'['.repeat(40)}"`)), false, 'brackets in a string do not count');
});
