/**
 * The fast acceptor against the full path (nesting scan, JSON.parse, Ajv): it may refuse what the
 * full path accepts (that message just takes the full path), but whatever it accepts the full path
 * accepts too, with the same captured fields. Checked on summaries as the agent writes them and on
 * thousands of seeded mutations of them (bytes flipped, cut and inserted, numbers and strings
 * swapped for edge cases, keys doubled, nesting deepened), and on the edges one by one. Every case
 * runs on both walkers: WebAssembly (the default) and JavaScript; and the two are compared with each
 * other, verdict for verdict.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { payload } from '../../bench/fleet.js';
import { Rng } from '../../agent/synth/rng.js';
import { FastAcceptor, type AcceptEngine } from '../../protocol/fast-accept.js';
import { check, EVENT_SCHEMA, MAX_DEPTH, nestedDeeperThan, SCHEMAS, STATUS_SCHEMA, SUMMARY_SCHEMA, SUMMARY_STATUSES, type SummaryMessage } from '../../protocol/messages.js';

const NUMBERS = ['seq', 'start', 'end', 'frames', 'status'] as const;
const STRINGS = ['site', 'device', 'camera'] as const;
const ENGINES: readonly AcceptEngine[] = ['wasm', 'js'];
const acceptors = Object.fromEntries(ENGINES.map((engine) => [engine, FastAcceptor.compile(SUMMARY_SCHEMA, { numbers: NUMBERS, strings: STRINGS, maxDepth: MAX_DEPTH, engine })!])) as Record<AcceptEngine, FastAcceptor>;
const wasm = acceptors.wasm;
const js = acceptors.js;

/** The full path's verdict: the message, or undefined. */
function full(text: string): SummaryMessage | undefined {
  const bytes = Buffer.from(text);
  if (nestedDeeperThan(bytes)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const v = check<SummaryMessage>(value, SCHEMAS.summary);
  return v.ok ? v.message : undefined;
}

/**
 * Accepted by the fast path: then the full path must accept it too, with the same captures. Returns
 * whether it was. Both walkers are asked, and must give the same verdict.
 */
function agrees(text: string, what: string): boolean {
  const verdicts = ENGINES.map((e) => [e, acceptors[e].accept(Buffer.from(text))] as const);
  assert.equal(verdicts[0]![1], verdicts[1]![1], `${what}: WebAssembly says ${verdicts[0]![1]}, JavaScript ${verdicts[1]![1]}: ${text.slice(0, 400)}`);
  for (const [engine] of verdicts) if (!accepted(engine, text, what)) return false;
  return true;
}

function accepted(engine: AcceptEngine, text: string, what: string): boolean {
  const fast = acceptors[engine];
  if (!fast.accept(Buffer.from(text))) return false;
  what = `${what} (${engine})`;
  const m = full(text);
  assert.ok(m, `${what}: the fast path accepted what the full path refuses: ${text.slice(0, 400)}`);
  assert.deepEqual([...fast.numbers], [m.seq, m.start, m.end, m.frames, SUMMARY_STATUSES.indexOf(m.status)], `${what}: numbers`);
  assert.deepEqual(fast.strings, [m.site, m.device, m.camera], `${what}: strings`);
  return true;
}

/** Seeded, so a failure reproduces. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** A summary with full-precision doubles where the agent writes them (the bench's payload has round numbers). */
function realistic(r: () => number, seq: number, severity: 'ok' | 'alert'): string {
  const m = JSON.parse(payload('plant-7', `cam${seq % 5}`, seq, severity)) as SummaryMessage;
  for (const f of Object.values(m.features)) Object.assign(f, { mean: r() * 255, std: r() * 40, min: r() * 10, max: 200 + r() * 55, z: (r() - 0.5) * 8 });
  for (const k of Object.keys(m.scores!)) m.scores![k] = r() < 0.05 ? null : r() * 2;
  m.rates = { uncertain: r(), ood: r() * 0.1, oodDetection: 0 };
  for (const l of Object.values(m.latencyMs)) Object.assign(l, { p50: r() * 3, p95: 3 + r(), p99: 4 + r(), max: 5 + r() * 10 });
  m.familyScores = { photometric: r() * 2, detections: r() };
  return JSON.stringify(m);
}

test('compiles the summary schema; schemas with keywords it does not implement (if/then, allOf) are left to the full path', () => {
  assert.equal(wasm.engine, 'wasm', 'this engine has WebAssembly SIMD: the summary schema runs there');
  assert.equal(js.engine, 'js');
  assert.equal(FastAcceptor.compile(STATUS_SCHEMA, { maxDepth: MAX_DEPTH }), undefined);
  assert.equal(FastAcceptor.compile(EVENT_SCHEMA, { maxDepth: MAX_DEPTH }), undefined);
  assert.equal(FastAcceptor.compile({ type: 'object', properties: { a: { type: 'string', format: 'email' } } }, { maxDepth: MAX_DEPTH }), undefined);
  assert.equal(FastAcceptor.compile({ type: 'object', properties: { a: { type: ['string', 'number'] } } }, { maxDepth: MAX_DEPTH }), undefined);
  // Found in review: the walkers skip a pattern beside an enum; a null leaves a captured number as
  // the last payload had it; an enum's value index is no captured string.
  assert.equal(FastAcceptor.compile({ type: 'object', properties: { a: { enum: ['ab', 'cd'], pattern: '^c' } } }, { maxDepth: MAX_DEPTH }), undefined);
  assert.equal(FastAcceptor.compile({ type: 'object', required: ['x'], properties: { x: { type: ['number', 'null'] } } }, { numbers: ['x'], maxDepth: MAX_DEPTH }), undefined);
  assert.equal(FastAcceptor.compile({ type: 'object', required: ['x'], properties: { x: { enum: ['a', 'b'] } } }, { strings: ['x'], maxDepth: MAX_DEPTH }), undefined);
  assert.ok(FastAcceptor.compile({ type: 'object', required: ['x'], properties: { x: { enum: ['a', 'b'] } } }, { numbers: ['x'], maxDepth: MAX_DEPTH }), 'an enum is captured as its index');
});

test('accepts summaries as the agent writes them, with their fields', () => {
  const r = rng(1);
  let accepted = 0;
  for (let seq = 1; seq <= 200; seq++) {
    const text = seq % 2 ? realistic(r, seq, seq % 3 ? 'ok' : 'alert') : payload('s1', `cam${seq}`, seq * 1_000_003, seq % 4 ? 'ok' : 'alert');
    assert.ok(agrees(text, `summary ${seq}`), `summary ${seq} takes the fast path`);
    accepted++;
  }
  assert.equal(accepted, 200);
  // Whitespace is JSON's own business: pretty-printed, it is the same message.
  assert.ok(agrees(JSON.stringify(JSON.parse(realistic(r, 7, 'alert')), null, '\t'), 'pretty-printed'));
});

test('never accepts what the full path refuses: 6,000 seeded mutations', () => {
  const r = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const INSERTS = [',', '}', ']', '{', '[', '"', ':', '"x":1,', '-', '.5', 'e9', '\\u00e9', '\\"', 'null', ' ', '\t', '\n', '\u007f', '\u00e9', '\u0001', '"seq":2,', '"status":"alert",', '"site":"s1",', '0', '00', '1e', '+1'];
  const NUMBERS_IN = ['-1', '0', '-0', '1.0', '1e3', '1E3', '1.5', '1e400', '-1e400', '12345678901234567', '123456789012345', '0.5', '2', '"1"', 'null', 'true', '[]', '{}', '01', '1.', '.1', '-'];
  const STRINGS_IN = ['"ok"', '"alert"', '"bogus"', '""', '"a\\nb"', '"caf\u00e9"', '"\\u0041"', `"${'x'.repeat(129)}"`, '"s1"', '1', 'null'];
  let acceptedValid = 0;
  let refusedByBoth = 0;
  const undecided = wasm.undecided;
  for (let k = 0; k < 6000; k++) {
    let text = r() < 0.5 ? realistic(r, 1 + Math.floor(r() * 1e6), r() < 0.5 ? 'ok' : 'alert') : payload('s1', 'cam1', 1 + Math.floor(r() * 1e9));
    const mutations = 1 + Math.floor(r() * 3);
    for (let j = 0; j < mutations; j++) {
      const at = Math.floor(r() * text.length);
      const kind = Math.floor(r() * 7);
      if (kind === 0) text = text.slice(0, at) + String.fromCharCode(32 + Math.floor(r() * 95)) + text.slice(at + 1);
      else if (kind === 1) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(r() * 5));
      else if (kind === 2) text = text.slice(0, at) + pick(INSERTS) + text.slice(at);
      else if (kind === 3) {
        const nums = [...text.matchAll(/(?<=[:,[])-?\d+(\.\d+)?([eE][+-]?\d+)?/g)];
        const n = nums.length ? pick(nums) : undefined;
        if (n) text = text.slice(0, n.index) + pick(NUMBERS_IN) + text.slice(n.index + n[0].length);
      } else if (kind === 4) {
        const strs = [...text.matchAll(/(?<=:)"[^"]*"/g)];
        const s = strs.length ? pick(strs) : undefined;
        if (s) text = text.slice(0, s.index) + pick(STRINGS_IN) + text.slice(s.index + s[0].length);
      } else if (kind === 5) text = `{${pick(['"seq":5,', '"status":"alert",', '"schema":"driftline.summary/1",', '"camera":"cam1",', '"scores":{},', '"features":{},'])}${text.slice(1)}`;
      else {
        const depth = MAX_DEPTH - 3 + Math.floor(r() * 6);
        text = `{"deep":${'['.repeat(depth)}${']'.repeat(depth)},${text.slice(1)}`;
      }
    }
    if (agrees(text, `mutation ${k}`)) acceptedValid++;
    else if (!full(text)) refusedByBoth++;
  }
  // The test must exercise both sides: some mutants stay valid and take the fast path, most are refused.
  assert.ok(acceptedValid > 300, `the fast path accepted ${acceptedValid} mutants`);
  assert.ok(refusedByBoth > 2000, `${refusedByBoth} refused by both`);
  // The WebAssembly walker decides nearly all of them itself (the rest: 1e400 and the like, where
  // only Number() can tell).
  assert.ok(wasm.undecided - undecided < 60, `the WebAssembly walker left ${wasm.undecided - undecided} of 12,000 to JavaScript`);
});

test('the edges, one by one: what it leaves to the full path, and what it still accepts', () => {
  const base = JSON.parse(payload('s1', 'cam1', 42)) as Record<string, unknown>;
  const text = (patch: Record<string, unknown>): string => JSON.stringify({ ...base, ...patch });
  const cases: [string, string, boolean][] = [
    ['seq written 42.0 (an integer to Ajv)', JSON.stringify(base).replace('"seq":42', '"seq":42.0'), false],
    ['seq written 4.2e1', JSON.stringify(base).replace('"seq":42', '"seq":4.2e1'), false],
    ['a 16-digit start', text({ start: 1_000_000_000_000_000, end: 1_000_000_000_000_001 }), false],
    ['an escape in a map key', JSON.stringify(base).replace('"psi:brightness"', '"psi:bright\\u006eess"'), false],
    ['non-ASCII in an unknown field', text({ note: 'café' }), false],
    ['the same key twice at the top', `{"seq":41,${JSON.stringify(base).slice(1)}`, false],
    ['-0 in classCounts (>= 0 to Ajv)', JSON.stringify(base).replace('"good":117', '"good":-0'), true],
    ['an exponent where any number goes', JSON.stringify(base).replace('"p50":1.1', '"p50":1.1e-3'), true],
    ['a rate of exactly 1', text({ rates: { uncertain: 1, ood: 0 } }), true],
    ['a rate of 1.0000001', text({ rates: { uncertain: 1.0000001, ood: 0 } }), false],
    ['an unknown field nested to the limit', text({ extra: JSON.parse(`${'['.repeat(MAX_DEPTH - 1)}${']'.repeat(MAX_DEPTH - 1)}`) }), true],
    ['an unknown field one past the limit', text({ extra: JSON.parse(`${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)}`) }), false],
    ['DEL inside a string', text({ provider: 'cpu\u007f' }), false],
    ['trailing garbage', `${JSON.stringify(base)}x`, false],
    ['trailing whitespace', `${JSON.stringify(base)}\r\n`, true],
    ['a camera that breaks the segment pattern', text({ camera: 'cam 1' }), false],
    ['status not a verdict', text({ status: 'fine' }), false],
    ['a driver without its level', text({ drivers: [{ key: 'psi:x', value: 1, warn: null, alert: null }] }), false],
    ['a null where a number or null goes', text({ scores: { 'psi:x': null } }), true],
  ];
  for (const [what, t, expected] of cases) {
    for (const engine of ENGINES) assert.equal(acceptors[engine].accept(Buffer.from(t)), expected, `${what} (${engine})`);
    if (expected) assert.ok(agrees(t, what));
    else assert.equal(agrees(t, what), false);
  }
  // Refused by the fast path but valid: exactly those the full path accepts anyway.
  assert.ok(full(cases[0]![1]), 'seq 42.0 is valid to the full path');
  assert.equal(full(cases[9]![1]), undefined, 'a rate past 1 is not');
});
