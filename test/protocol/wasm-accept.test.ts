/**
 * The WebAssembly walker on its own: where it decides and where it leaves the answer to the
 * JavaScript walker (numbers at a bound or at the edge of a double, more pattern checks than its
 * table holds), payloads that outgrow its memory, keys longer than its 16-byte compare, and every
 * prefix of a message (each scan stops at the payload's end, not in the bytes after it). In every
 * case its verdict, when it gives one, is the JavaScript walker's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FastAcceptor } from '../../protocol/fast-accept.js';
import { compileNode } from '../../protocol/accept-schema.js';
import { WasmWalker } from '../../protocol/wasm-accept.js';
import { payload } from '../../bench/fleet.js';
import { MAX_DEPTH, SUMMARY_SCHEMA } from '../../protocol/messages.js';

/** The WebAssembly walker for `schema` (no captures), and the JavaScript acceptor to compare it with. */
function pair(schema: object): { run(text: string): boolean | undefined; js(text: string): boolean } {
  const w = WasmWalker.for(compileNode(schema as Readonly<Record<string, unknown>>, true, { numbers: [], strings: [] }), MAX_DEPTH, new Float64Array(0), []);
  assert.ok(w, 'this engine has WebAssembly SIMD');
  const js = FastAcceptor.compile(schema, { maxDepth: MAX_DEPTH, engine: 'js' })!;
  return { run: (t) => w.run(Buffer.from(t)), js: (t) => js.accept(Buffer.from(t)) };
}

/** Asks both; returns the WebAssembly walker's answer after checking it against JavaScript's. */
function both(p: ReturnType<typeof pair>, text: string): boolean | undefined {
  const w = p.run(text);
  if (w !== undefined) assert.equal(w, p.js(text), `${text}: WebAssembly says ${w}`);
  return w;
}

test('bounds: exact integers and clear fractions decided; a fraction within 1e-12 of a bound, or past 1e22, left to Number()', () => {
  const p = pair({ type: 'object', properties: { r: { type: 'number', minimum: 0, maximum: 1 }, x: { type: 'number', exclusiveMinimum: 0.5 } } });
  const cases: [string, boolean | undefined][] = [
    ['{"r":1}', true],
    ['{"r":0}', true],
    ['{"r":2}', false],
    ['{"r":-1}', false],
    ['{"r":-0}', true],
    ['{"r":0.5}', true],
    ['{"r":1.0000000001}', false],
    ['{"r":1.0}', undefined],
    ['{"r":1.0000000000001}', undefined],
    ['{"r":0.9999999999999}', undefined],
    ['{"r":-0.0}', true],
    ['{"r":1e-7}', true],
    ['{"r":-1e-7}', false],
    ['{"r":1.5e-300}', undefined],
    ['{"r":-1e-400}', undefined],
    ['{"r":123456789012345678901234}', false],
    ['{"r":1e23}', undefined],
    ['{"r":0.12345678901234567890123}', true],
    ['{"x":0.5}', undefined],
    ['{"x":0.5000001}', true],
    ['{"x":0.4999999}', false],
  ];
  for (const [text, expected] of cases) assert.equal(both(p, text), expected, text);
  // What it left, JavaScript decides: Number('1.0') is 1, within; 1.0000000000001 is not.
  assert.equal(p.js('{"r":1.0}'), true);
  assert.equal(p.js('{"r":1.0000000000001}'), false);
  assert.equal(p.js('{"r":-1e-400}'), true, 'Number() makes it -0, which is >= 0');
});

test('finiteness: JSON.parse makes 1e400 Infinity, which no schema takes; at the edge of a double it is left to Number()', () => {
  const p = pair({ type: 'object', properties: { any: {} } });
  const cases: [string, boolean | undefined][] = [
    ['{"any":1e400}', false],
    ['{"any":-1e309}', false],
    ['{"any":9e307}', true],
    ['{"any":1e308}', undefined],
    ['{"any":1.7976931348623157e308}', undefined],
    ['{"any":0.0e999}', true],
    ['{"any":0.001e310}', true],
    ['{"any":1e-999}', true],
    ['{"any":1e+99999}', false],
    ['{"any":1e+99999999999}', undefined],
    [`{"any":${'9'.repeat(310)}}`, false],
    [`{"any":${'9'.repeat(299)}}`, true],
    [`{"any":${'9'.repeat(308)}}`, true],
    [`{"any":${'9'.repeat(309)}}`, undefined],
  ];
  for (const [text, expected] of cases) assert.equal(both(p, text), expected, text);
  assert.equal(p.js('{"any":1.7976931348623157e308}'), true);
  assert.equal(p.js('{"any":1.8e308}'), false);
});

test('an exponent of a million or more is left to Number(): a million digits of the number could cancel it', () => {
  // Found in review: read as capped at a million, 1e10000000 after 999,700 zeros looked finite, and
  // the summary's classCounts took what JSON.parse makes Infinity.
  const p = pair({ type: 'object', properties: { any: {} } });
  const cases: [string, boolean][] = [
    [`{"any":0.${'0'.repeat(999_700)}1e10000000}`, false],
    [`{"any":1${'0'.repeat(1_000_400)}e-10000000}`, true],
    ['{"any":1e-1000000}', true],
  ];
  for (const [text, js] of cases) {
    assert.equal(both(p, text), undefined, `${text.length} bytes`);
    assert.equal(p.js(text), js);
  }
  const s = FastAcceptor.compile(SUMMARY_SCHEMA, { numbers: ['seq'], strings: ['camera'], maxDepth: MAX_DEPTH })!;
  const huge = payload('s1', 'cam1', 9).replace('"classCounts":{', `"classCounts":{"zz":0.${'0'.repeat(999_700)}1e10000000,`);
  assert.equal(s.accept(Buffer.from(huge)), false, 'Infinity is not a count');
});

test('a depth limit outside 32 bits is what JavaScript makes of it', () => {
  const schema = { type: 'object', properties: { y: {} } };
  for (const maxDepth of [Infinity, 2 ** 32, 2 ** 31, 2.5, 0, -1, NaN]) {
    const w = FastAcceptor.compile(schema, { maxDepth })!;
    const j = FastAcceptor.compile(schema, { maxDepth, engine: 'js' })!;
    assert.equal(w.engine, 'wasm');
    for (const text of ['{"y":1}', '{"y":[[1]]}', '{"y":{"a":{"b":[]}}}']) assert.equal(w.accept(Buffer.from(text)), j.accept(Buffer.from(text)), `maxDepth ${maxDepth}: ${text}`);
  }
});

test('more pattern checks than its table holds are left to JavaScript, which runs the patterns', () => {
  const p = pair({ type: 'object', properties: { ids: { type: 'array', items: { type: 'string', pattern: '^[a-z]+$' } } } });
  const ids = (n: number, bad = -1): string => JSON.stringify({ ids: Array.from({ length: n }, (_, k) => (k === bad ? 'X' : 'abc')) });
  assert.equal(both(p, ids(32)), true);
  assert.equal(both(p, ids(32, 31)), false, 'a pattern that fails refuses the message');
  assert.equal(both(p, ids(33)), undefined);
  assert.equal(p.js(ids(33)), true);
});

test('keys longer than 16 bytes, and names that differ only past the 16th byte', () => {
  const long = 'a_key_longer_than_sixteen_bytes';
  const p = pair({ type: 'object', required: [`${long}_1`], properties: { [`${long}_1`]: { type: 'integer' }, [`${long}_2`]: { type: 'string' } } });
  assert.equal(both(p, `{"${long}_1":5,"${long}_2":"x"}`), true);
  assert.equal(both(p, `{"${long}_1":"x"}`), false);
  assert.equal(both(p, `{"${long}_2":"x"}`), false, 'the required one is missing');
  assert.equal(both(p, `{"${long}_3":1,"${long}_1":1}`), true, 'an unknown key of the same length');
  assert.equal(both(p, `{"${long}_1":1,"${long}_1":2}`), false, 'the same key twice');
});

test("every prefix of a summary: each scan stops at the payload's end", () => {
  const s = FastAcceptor.compile(SUMMARY_SCHEMA, { numbers: ['seq'], strings: ['camera'], maxDepth: MAX_DEPTH })!;
  const j = FastAcceptor.compile(SUMMARY_SCHEMA, { numbers: ['seq'], strings: ['camera'], maxDepth: MAX_DEPTH, engine: 'js' })!;
  const text = payload('s1', 'cam1', 9);
  // A long payload first: the memory left behind it must not complete a shorter one.
  assert.equal(s.accept(Buffer.from(text)), true);
  for (let n = 0; n < text.length; n++) {
    const b = Buffer.from(text.slice(0, n));
    assert.equal(s.accept(b), j.accept(b), `the first ${n} bytes`);
  }
  assert.equal(s.accept(Buffer.from(text)), true);
  assert.deepEqual([s.numbers[0], s.strings[0]], [9, 'cam1']);
});

test('a payload larger than its memory grows it once; smaller ones after that still walk', () => {
  const s = FastAcceptor.compile(SUMMARY_SCHEMA, { numbers: ['seq'], strings: ['camera'], maxDepth: MAX_DEPTH })!;
  const base = JSON.parse(payload('s1', 'cam1', 3)) as Record<string, unknown>;
  const big = JSON.stringify({ ...base, note: Array.from({ length: 40_000 }, (_, k) => k) });
  assert.ok(big.length > 200_000);
  assert.equal(s.engine, 'wasm');
  assert.equal(s.accept(Buffer.from(big)), true);
  assert.equal(s.accept(Buffer.from(`${big.slice(0, -1)},"x":[1,]}`)), false);
  assert.equal(s.accept(Buffer.from(payload('s1', 'cam2', 4))), true);
  assert.deepEqual([s.numbers[0], s.strings[0]], [4, 'cam2']);
  assert.equal(s.undecided, 0);
});

test('a schema it does not lay out keeps to JavaScript: a property name with a quote', () => {
  const schema = { type: 'object', properties: { 'a"b': { type: 'number' } } };
  const a = FastAcceptor.compile(schema, { maxDepth: MAX_DEPTH })!;
  assert.equal(a.engine, 'js');
  assert.equal(a.accept(Buffer.from('{"c":1}')), true);
});
