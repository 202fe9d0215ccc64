import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DriftlineError, ERRORS, driftlineError, isDriftlineError, type ErrorCode } from '../../lib/errors.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const SOURCE_DIRS = ['agent', 'bin', 'cli', 'lib', 'protocol', 'collector'];

function sourceFiles(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out = out.concat(sourceFiles(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('every code is DRIFTLINE_ERR_* with a summary and a message naming its details', () => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.match(code, /^DRIFTLINE_ERR_[A-Z_]+$/);
    assert.ok(spec.summary.length > 10, `${code} has a summary`);
    const details = { file: 'F.onnx', output: 'embed0', reason: 'R', key: 'K', value: 'V', expected: 'E', shape: [1, 2], provider: 'P', attempts: 'A', input: 'I', width: 1, height: 2, channels: 3, actual: 4, what: 'W', address: 'H:1', code: 'EADDRINUSE', program: 'ffmpeg', pkg: 'ffmpeg', neededBy: 'camera c', device: 'edge-1', clientId: 'driftline-agent-s-edge-1', found: ['DRIFTLINE_ERR_X: a', 'DRIFTLINE_ERR_Y: b'], problems: [{ key: 'a', value: '1', expected: 'b' }, { key: 'c', value: '2', expected: 'd' }] };
    const msg = spec.message(details);
    assert.ok(msg.length > 0);
    assert.doesNotMatch(msg, /undefined/, `${code} message uses only known details`);
  }
});

test('every code raised in the source is in the catalogue, and every catalogued code is raised', () => {
  const used = new Set<string>();
  for (const dir of SOURCE_DIRS) {
    for (const f of sourceFiles(join(ROOT, dir))) {
      if (f.endsWith('lib/errors.ts')) continue;
      for (const m of readFileSync(f, 'utf8').matchAll(/'(DRIFTLINE_ERR_[A-Z_]+)'/g)) used.add(m[1]!);
    }
  }
  for (const code of used) assert.ok(code in ERRORS, `${code} is used but not catalogued`);
  for (const code of Object.keys(ERRORS)) assert.ok(used.has(code), `${code} is catalogued but never raised`);
});

test('DriftlineError carries its code, frozen details and cause', () => {
  const cause = new Error('root');
  const e = driftlineError('DRIFTLINE_ERR_MODEL_NOT_FOUND', { file: '/x/m.onnx' }, { cause });
  assert.ok(e instanceof DriftlineError);
  assert.equal(e.code, 'DRIFTLINE_ERR_MODEL_NOT_FOUND' satisfies ErrorCode);
  assert.equal(e.message, 'model file not found: /x/m.onnx');
  assert.equal(e.cause, cause);
  assert.ok(Object.isFrozen(e.details));
  assert.ok(isDriftlineError(e, 'DRIFTLINE_ERR_MODEL_NOT_FOUND'));
  assert.ok(!isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG'));
  assert.ok(!isDriftlineError(new Error('x')));
});

test('docs/errors.md lists every code in the catalogue', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  for (const code of Object.keys(ERRORS)) assert.ok(doc.includes(`\`${code}\``), `docs/errors.md is missing ${code}`);
});
