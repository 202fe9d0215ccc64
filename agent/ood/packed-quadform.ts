/**
 * |W r|^2 for a lower-triangular W, the hot half of detection-level OOD scoring: 112 features make
 * 6,328 multiply-adds a detection. It runs as WebAssembly SIMD (quadform.wat, four f32 products an
 * instruction), decided once at construction; where the engine cannot compile SIMD, a JavaScript
 * loop over the same layout gives the same sums to float rounding, five times slower.
 *
 * Layout: each row of W zero-padded to a multiple of 4 floats, then r, padded the same way, in one
 * WebAssembly memory per instance. Callers write r through `r` (its padding stays zero) and call
 * evaluate(), which allocates nothing.
 *
 * Precision: W and r in float32, each row's dot product in float32, the sum of squares in float64.
 * Against the float64 triangular solve the score differs by under 1e-6 relative (test/agent/ood),
 * far below anything a p99 threshold can tell apart.
 */
import { QUADFORM_WASM_BASE64 } from './quadform-wasm.js';

export type QuadFormEngine = 'wasm-simd' | 'js';

const BYTES = Buffer.from(QUADFORM_WASM_BASE64, 'base64');
const PAGE = 65536;

/** Whether this engine compiles the SIMD module; checked once per process. */
let simd: boolean | undefined;
function simdAvailable(): boolean {
  if (simd === undefined) simd = WebAssembly.validate(BYTES);
  return simd;
}

/** Floats in the padded rows of a d-row lower triangle. */
export function paddedTriangleFloats(d: number): number {
  let n = 0;
  for (let i = 0; i < d; i++) n += (i + 4) & ~3;
  return n;
}

export class PackedQuadForm {
  readonly engine: QuadFormEngine;
  /** The vector to transform, length d: write it here before evaluate(). */
  readonly r: Float32Array;
  private readonly w: Float32Array;
  private readonly wasmQuad: ((w: number, r: number, d: number) => number) | undefined;
  private readonly rOffset: number;

  /**
   * @param packed W's lower triangle by rows, d(d+1)/2 values.
   * @param engine 'auto' (the default) picks WebAssembly SIMD where the engine has it.
   */
  constructor(
    readonly d: number,
    packed: ArrayLike<number>,
    engine: 'auto' | QuadFormEngine = 'auto',
  ) {
    if (!Number.isInteger(d) || d < 1) throw new RangeError(`dimension ${d} is not a positive integer`);
    if (packed.length !== (d * (d + 1)) / 2) throw new RangeError(`a ${d}-row lower triangle holds ${(d * (d + 1)) / 2} values, got ${packed.length}`);
    const useWasm = engine === 'wasm-simd' || (engine === 'auto' && simdAvailable());
    if (engine === 'wasm-simd' && !simdAvailable()) throw new Error('this JavaScript engine cannot compile WebAssembly SIMD');
    const wFloats = paddedTriangleFloats(d);
    const rFloats = (d + 3) & ~3;
    const bytes = (wFloats + rFloats) * 4;
    let buffer: ArrayBuffer;
    if (useWasm) {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(BYTES));
      const memory = instance.exports.memory as WebAssembly.Memory;
      if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
      buffer = memory.buffer;
      this.wasmQuad = instance.exports.quad as (w: number, r: number, d: number) => number;
      this.engine = 'wasm-simd';
    } else {
      buffer = new ArrayBuffer(bytes);
      this.wasmQuad = undefined;
      this.engine = 'js';
    }
    this.w = new Float32Array(buffer, 0, wFloats);
    this.rOffset = wFloats * 4;
    this.r = new Float32Array(buffer, this.rOffset, rFloats);
    let p = 0;
    let q = 0;
    for (let i = 0; i < d; i++) {
      for (let k = 0; k <= i; k++) this.w[q + k] = packed[p + k]!;
      p += i + 1;
      q += (i + 4) & ~3;
    }
  }

  /** |W r|^2 for the r written into `r`. */
  evaluate(): number {
    if (this.wasmQuad) return this.wasmQuad(0, this.rOffset, this.d);
    return quadJs(this.w, this.r, this.d);
  }
}

/** The same sum as quadform.wat, in JavaScript: rows padded to 4, four partial sums a row. */
function quadJs(w: Float32Array, r: Float32Array, d: number): number {
  let total = 0;
  let p = 0;
  for (let i = 0; i < d; i++) {
    const n = (i + 4) & ~3;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let k = 0; k < n; k += 4) {
      s0 += w[p + k]! * r[k]!;
      s1 += w[p + k + 1]! * r[k + 1]!;
      s2 += w[p + k + 2]! * r[k + 2]!;
      s3 += w[p + k + 3]! * r[k + 3]!;
    }
    p += n;
    const s = Math.fround(s0 + s1 + (s2 + s3));
    total += s * s;
  }
  return total;
}
