import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PackedQuadForm, paddedTriangleFloats } from '../../../agent/ood/packed-quadform.js';

/** A deterministic lower triangle and vector, and |W r|^2 in float64, the textbook way. */
function problem(d: number, seed: number): { packed: number[]; r: number[]; exact: number } {
  let s = seed;
  const rand = (): number => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const packed: number[] = [];
  for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) packed.push(i === j ? 1 + Math.abs(rand()) : 0.5 * rand());
  const r = Array.from({ length: d }, () => 3 * rand());
  let exact = 0;
  let p = 0;
  for (let i = 0; i < d; i++) {
    let row = 0;
    for (let j = 0; j <= i; j++) row += packed[p + j]! * r[j]!;
    p += i + 1;
    exact += row * row;
  }
  return { packed, r, exact };
}

test('Node here compiles the WebAssembly SIMD module, so the agent takes the fast engine by default', () => {
  assert.equal(new PackedQuadForm(2, [1, 0, 1]).engine, 'wasm-simd');
});

for (const engine of ['wasm-simd', 'js'] as const) {
  test(`${engine}: |W r|^2 matches the float64 sum to float32 rounding, at every row length modulo 4`, () => {
    for (const d of [1, 2, 3, 4, 5, 7, 8, 9, 64, 112]) {
      const { packed, r, exact } = problem(d, 7 + d);
      const q = new PackedQuadForm(d, packed, engine);
      assert.equal(q.engine, engine);
      q.r.set(r);
      const got = q.evaluate();
      assert.ok(Math.abs(got - exact) <= 1e-5 * exact, `d=${d}: ${got} against ${exact}`);
      // Evaluating again, and after rewriting r, reads only the new r: the padding stayed zero.
      assert.equal(q.evaluate(), got);
      q.r.fill(0, 0, d);
      assert.equal(q.evaluate(), 0);
    }
  });
}

test('both engines give the same score to a few float32 ulps on the same problem', () => {
  const { packed, r } = problem(112, 99);
  const a = new PackedQuadForm(112, packed, 'wasm-simd');
  const b = new PackedQuadForm(112, packed, 'js');
  a.r.set(r);
  b.r.set(r);
  const x = a.evaluate();
  const y = b.evaluate();
  assert.ok(Math.abs(x - y) <= 1e-6 * x, `${x} against ${y}`);
});

test('a triangle of the wrong size or a non-positive dimension is refused, naming both numbers', () => {
  assert.throws(() => new PackedQuadForm(3, [1, 2, 3, 4, 5]), /a 3-row lower triangle holds 6 values, got 5/);
  assert.throws(() => new PackedQuadForm(0, []), /dimension 0 is not a positive integer/);
  assert.equal(paddedTriangleFloats(5), 4 + 4 + 4 + 4 + 8);
});

test('a triangle larger than one WebAssembly page grows the memory rather than writing past it', () => {
  // 200 rows: ~80 KB of padded floats, over the module's initial 64 KiB.
  const { packed, r, exact } = problem(200, 3);
  const q = new PackedQuadForm(200, packed, 'wasm-simd');
  q.r.set(r);
  assert.ok(Math.abs(q.evaluate() - exact) <= 1e-5 * exact);
});
