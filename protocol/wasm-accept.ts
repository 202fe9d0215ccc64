/**
 * The fast acceptor's walker in WebAssembly (accept.wat): the compiled schema (accept-schema.ts)
 * laid out once in the module's memory, and each payload copied in after it and walked there. It
 * gives the JavaScript walker's verdict, or undefined where it leaves the answer to it (a bound or
 * a finiteness that only Number() can settle, an exponent of a million or more, a captured number
 * that is not a plain integer, more than 32 pattern checks): the caller then runs the JavaScript
 * walker, so the two differ in speed only (test/protocol/fast-accept.test.ts runs both on the same
 * mutated messages).
 *
 * JavaScript keeps what WebAssembly cannot do: the schema's patterns (regular expressions) run here
 * on the strings the walk points out, and the captured strings are cut from the payload here.
 *
 * Per 4.4 KB summary it takes about half the JavaScript walker's time, copy and patterns included
 * (docs/performance.md): keys and strings are scanned and compared 16 bytes at a time, and nothing
 * in the walk is a JavaScript object.
 */
import { wasmKernel } from '../lib/wasm-kernel.js';
import { ACCEPT_WASM_BASE64 } from './accept-wasm.js';
import { ANY_ARRAY, ANY_NUMBER, ANY_OBJECT, SLOTS, slotOf, type Node, type Prop } from './accept-schema.js';

const compiled = wasmKernel(ACCEPT_WASM_BASE64);

interface Exports {
  readonly memory: WebAssembly.Memory;
  init(maxDepth: number, out: number, anyObject: number, anyArray: number, anyNumber: number): void;
  accept(root: number, at: number, n: number): number;
}

/** Node and property records (accept.wat's header gives their fields). */
const NODE_BYTES = 88;
const PROP_BYTES = 24;
/** The output: 8 captured numbers, 8 captured strings' spans, the pattern checks' count and at most 32 of them. */
const MAX_CAPTURES = 8;
const OUT_BYTES = 128 + 4 + 32 * 12;
/** Zero bytes after each payload: a string's scan reads 16 bytes at a time. */
const SLACK = 16;
const PAGE = 65536;
const INT_MAX = 0x7fffffff;

const FLAG_INTEGER = 1;
const FLAG_NULLABLE = 2;
const FLAG_NO_UPPER = 4;
const FLAG_NO_MIN = 8;
const FLAG_MIN_AT_MOST_0 = 16;

const QUOTE = 34;
const BACKSLASH = 92;

/** An integer bound as the walker compares lengths and counts: whole, at most INT_MAX. */
const lower = (x: number): number => Math.min(INT_MAX, Math.max(0, Math.ceil(x)));
const upper = (x: number): number => Math.min(INT_MAX, Math.max(-1, Math.floor(x)));

/** Grows `memory` to hold at least `bytes`. */
function fit(memory: WebAssembly.Memory, bytes: number): void {
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
}

class Layout {
  readonly bytes: number[] = [];
  readonly nodes = new Map<Node, number>();
  readonly patterns: RegExp[] = [];
  private readonly fixups: (() => void)[] = [];
  private view!: DataView;

  /** Room for `n` bytes, 8-aligned; returns where. */
  take(n: number): number {
    while (this.bytes.length % 8) this.bytes.push(0);
    const at = this.bytes.length;
    for (let k = 0; k < n; k++) this.bytes.push(0);
    return at;
  }

  text(b: Uint8Array): number {
    const at = this.take(b.length);
    b.forEach((x, k) => (this.bytes[at + k] = x));
    return at;
  }

  /** The node's address, laid out (with everything it reaches) on first sight. */
  node(n: Node): number {
    const known = this.nodes.get(n);
    if (known !== undefined) return known;
    const at = this.take(NODE_BYTES);
    this.nodes.set(n, at);
    const i32 = (offset: number, v: number): void => void this.fixups.push(() => this.view.setInt32(at + offset, v, true));
    const f64 = (offset: number, v: number): void => void this.fixups.push(() => this.view.setFloat64(at + offset, v, true));
    let flags = 0;
    if (n.integer) flags |= FLAG_INTEGER;
    if (n.nullable) flags |= FLAG_NULLABLE;
    if (n.max === Infinity && n.exMin === -Infinity) flags |= FLAG_NO_UPPER;
    if (n.min === -Infinity) flags |= FLAG_NO_MIN;
    if (n.min <= 0) flags |= FLAG_MIN_AT_MOST_0;
    i32(0, n.k);
    i32(4, flags);
    i32(8, n.required);
    i32(12, n.props ? this.slots(n.props) : 0);
    i32(16, n.extra ? this.node(n.extra) : 0);
    i32(20, upper(n.maxProps));
    i32(24, lower(n.keyMin));
    i32(28, upper(n.keyMax));
    i32(32, n.items ? this.node(n.items) : 0);
    i32(36, lower(n.minItems));
    i32(40, upper(n.maxItems));
    i32(44, n.values ? this.values(n.values) : 0);
    i32(48, n.pattern ? this.patterns.push(n.pattern) - 1 : -1);
    i32(52, lower(n.min));
    i32(56, upper(n.max));
    f64(64, n.min);
    f64(72, n.max);
    f64(80, n.exMin);
    return at;
  }

  private slots(props: readonly (Prop[] | undefined)[]): number {
    const at = this.take(SLOTS * 4);
    props.forEach((chain, slot) => {
      let next = 0;
      for (const p of [...(chain ?? [])].reverse()) {
        if (p.name.includes(QUOTE) || p.name.includes(BACKSLASH)) throw new Error('a property name with a quote or a backslash');
        if (slotOf(p.name.length, p.name[0]!, p.name[p.name.length - 1]!) !== slot) throw new Error('a property in the wrong slot');
        const record = this.take(PROP_BYTES);
        const name = this.text(p.name);
        const node = this.node(p.node);
        const chained = next;
        this.fixups.push(() => {
          this.view.setInt32(record, name, true);
          this.view.setInt32(record + 4, p.name.length, true);
          this.view.setInt32(record + 8, p.bit, true);
          this.view.setInt32(record + 12, node, true);
          this.view.setInt32(record + 16, p.capture, true);
          this.view.setInt32(record + 20, chained, true);
        });
        next = record;
      }
      this.fixups.push(() => this.view.setInt32(at + slot * 4, next, true));
    });
    return at;
  }

  private values(values: readonly Uint8Array[]): number {
    const at = this.take(4 + values.length * 8);
    const texts = values.map((v) => this.text(v));
    this.fixups.push(() => {
      this.view.setInt32(at, values.length, true);
      texts.forEach((t, k) => {
        this.view.setInt32(at + 4 + k * 8, t, true);
        this.view.setInt32(at + 8 + k * 8, values[k]!.length, true);
      });
    });
    return at;
  }

  /** Writes the records into `memory` from address 0. */
  write(memory: Uint8Array): void {
    memory.set(this.bytes);
    this.view = new DataView(memory.buffer, memory.byteOffset, this.bytes.length);
    for (const f of this.fixups) f();
  }
}

export class WasmWalker {
  private bytes: Uint8Array;
  private i32: Int32Array;
  private f64: Float64Array;

  private constructor(
    private readonly exports: Exports,
    private readonly root: number,
    private readonly out: number,
    private readonly payloadAt: number,
    private readonly patterns: readonly RegExp[],
    private readonly numbers: Float64Array,
    private readonly strings: string[],
  ) {
    this.bytes = new Uint8Array(exports.memory.buffer);
    this.i32 = new Int32Array(exports.memory.buffer);
    this.f64 = new Float64Array(exports.memory.buffer);
  }

  /**
   * The walker for the schema compiled into `root`, writing captures into `numbers` and `strings`
   * (the JavaScript walker's own arrays); undefined where this engine has no WebAssembly SIMD, or
   * the schema is one it does not lay out (a property name with a quote or a backslash, more than
   * 8 captures of a kind).
   */
  static for(root: Node, maxDepth: number, numbers: Float64Array, strings: string[]): WasmWalker | undefined {
    const module = compiled();
    if (!module || numbers.length > MAX_CAPTURES || strings.length > MAX_CAPTURES) return undefined;
    const layout = new Layout();
    let at: number;
    try {
      at = layout.node(root);
      for (const n of [ANY_OBJECT, ANY_ARRAY, ANY_NUMBER]) layout.node(n);
    } catch {
      return undefined;
    }
    const out = layout.take(OUT_BYTES);
    const payloadAt = layout.take(0);
    const exports = new WebAssembly.Instance(module).exports as unknown as Exports;
    fit(exports.memory, payloadAt + 4096 + SLACK);
    layout.write(new Uint8Array(exports.memory.buffer));
    // The walker's depth is an i32: a limit past it is no limit (JavaScript's `depth > maxDepth`).
    const depth = Number.isNaN(maxDepth) ? INT_MAX : Math.max(-1, Math.min(INT_MAX, Math.floor(maxDepth)));
    exports.init(depth, out, layout.node(ANY_OBJECT), layout.node(ANY_ARRAY), layout.node(ANY_NUMBER));
    return new WasmWalker(exports, at, out, payloadAt, layout.patterns, numbers, strings);
  }

  /** Whether the schema accepts all of `b` (the captures set when it does); undefined: the JavaScript walker decides. */
  run(b: Buffer): boolean | undefined {
    const n = b.length;
    const at = this.payloadAt;
    if (at + n + SLACK > this.bytes.length) this.grow(at + n + SLACK);
    const bytes = this.bytes;
    bytes.set(b, at);
    bytes.fill(0, at + n, at + n + SLACK);
    const r = this.exports.accept(this.root, at, n);
    if (r !== 1) return r === 0 ? false : undefined;
    const i32 = this.i32;
    const checks = (this.out + 128) >> 2;
    for (let k = 0, c = checks + 1; k < i32[checks]!; k++, c += 3) {
      if (!this.patterns[i32[c]!]!.test(b.toString('latin1', i32[c + 1], i32[c + 2]))) return false;
    }
    const numbers = this.numbers;
    for (let k = 0, f = this.out >> 3; k < numbers.length; k++) numbers[k] = this.f64[f + k]!;
    const strings = this.strings;
    for (let k = 0, s = (this.out + 64) >> 2; k < strings.length; k++, s += 2) strings[k] = b.toString('latin1', i32[s], i32[s + 1]);
    return true;
  }

  private grow(bytes: number): void {
    const memory = this.exports.memory;
    fit(memory, bytes);
    this.bytes = new Uint8Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
    this.f64 = new Float64Array(memory.buffer);
  }
}
