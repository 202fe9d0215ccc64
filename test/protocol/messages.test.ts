import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { check, SCHEMAS, STATUS_SCHEMA, SUMMARY_SCHEMA, EVENT_SCHEMA, ALERT_SCHEMA } from '../../protocol/messages.js';
import { summaryMsg } from '../helpers/collector.js';

test('messages: valid ones pass; a failure names the field and what was wrong', () => {
  assert.ok(check(summaryMsg('p', 'd', 'c', 1), SCHEMAS.summary).ok);
  assert.ok(check({ ...summaryMsg('p', 'd', 'c', 1), addedLater: { x: 1 } }, SCHEMAS.summary).ok, 'fields added within v1 are ignored');
  assert.deepEqual(check({ ...summaryMsg('p', 'd', 'c', 1), seq: 0 }, SCHEMAS.summary), { ok: false, reason: '/seq must be >= 1' });
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
