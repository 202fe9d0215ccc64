/**
 * A fast way to accept a well-formed message, and only that. One pass over the payload's bytes
 * checks the JSON grammar and a schema together, builds nothing, and reads out the few top-level
 * fields the caller asks for. `JSON.parse` followed by Ajv (`check`) costs about three times as much
 * for a 4.4 KB summary, most of it building the few hundred objects, strings and numbers that the
 * collector's ingest then drops (docs/performance.md, "Collector ingest").
 *
 * It accepts a subset of what JSON.parse followed by Ajv accepts: ASCII text, strings without
 * escapes, each known property at most once, integers written as plain digits (at most 15) where the
 * schema wants an integer, nesting no deeper than MAX_DEPTH. Anything else, and every message that
 * Ajv would refuse, gets `false`: the full path then gives the verdict and its words. So the two
 * can differ in speed only (test/protocol/fast-accept.test.ts compares them on mutated messages).
 *
 * The schema is compiled once, at load (accept-schema.ts). A keyword this does not implement makes
 * compile() give undefined: a schema that grows one falls back to the full path as a whole, never
 * to a looser check.
 */
import { WasmWalker } from './wasm-accept.js';
import { ANY_ARRAY, ANY_NUMBER, ANY_OBJECT, ARRAY, ascii, BOOLEAN, compileNode, NULL_, NUMBER, OBJECT, slotOf, STRING, Unsupported, type Node, type Prop, type Schema } from './accept-schema.js';

const QUOTE = 34;
const QUOTE_BYTE = QUOTE;
const BACKSLASH_BYTE = 92;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;

const isWs = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;

/** What a byte is inside a string: 0 ordinary (printable ASCII), 1 the closing quote, 2 anything this path leaves to the full one. */
const IN_STRING = new Uint8Array(256).fill(2);
IN_STRING.fill(0, 32, 127);
IN_STRING[QUOTE_BYTE] = 1;
IN_STRING[BACKSLASH_BYTE] = 2;

export type AcceptEngine = 'wasm' | 'js';

/** A compiled schema, ready to accept payloads (one at a time: the captures are reused). */
export class FastAcceptor {
  /** The captured top-level numbers of the last accepted payload, in the order asked for; an enum gives its value's index. */
  readonly numbers: Float64Array;
  /** The captured top-level strings of the last accepted payload, in the order asked for. */
  readonly strings: string[];
  /** Which walker runs first, decided at compile(): WebAssembly where the engine has it and the schema lays out, else JavaScript. */
  readonly engine: AcceptEngine;
  /** Payloads the WebAssembly walker left to the JavaScript one (wasm-accept.ts says when). */
  undecided = 0;
  private readonly wasm: WasmWalker | undefined;
  private b: Buffer = EMPTY;
  private i = 0;
  private n = 0;
  private depth = 0;

  private constructor(
    private readonly root: Node,
    numbers: number,
    strings: number,
    private readonly maxDepth: number,
    engine: AcceptEngine,
  ) {
    this.numbers = new Float64Array(numbers);
    this.strings = new Array<string>(strings).fill('');
    this.wasm = engine === 'wasm' ? WasmWalker.for(root, maxDepth, this.numbers, this.strings) : undefined;
    this.engine = this.wasm ? 'wasm' : 'js';
  }

  /**
   * Compiles `schema`; undefined when it uses a keyword this does not implement (then every payload
   * takes the full path). `numbers` and `strings` name required top-level properties to capture.
   * `engine: 'js'` keeps to the JavaScript walker (the tests compare the two).
   */
  static compile(schema: object, o: { numbers?: readonly string[]; strings?: readonly string[]; maxDepth: number; engine?: AcceptEngine }): FastAcceptor | undefined {
    const captures = { numbers: o.numbers ?? [], strings: o.strings ?? [] };
    try {
      const root = compileNode(schema as Schema, true, captures);
      if (root.k !== OBJECT) throw new Unsupported('a top level other than an object');
      return new FastAcceptor(root, captures.numbers.length, captures.strings.length, o.maxDepth, o.engine ?? 'wasm');
    } catch (e) {
      if (e instanceof Unsupported) return undefined;
      throw e;
    }
  }

  /** Whether the whole of `b` is one JSON value that the schema accepts, within this subset; the captures are set when true. */
  accept(b: Buffer): boolean {
    if (this.wasm) {
      const decided = this.wasm.run(b);
      if (decided !== undefined) return decided;
      this.undecided++;
    }
    this.b = b;
    this.n = b.length;
    this.depth = 0;
    this.i = this.skip(0);
    const ok = this.value(this.root, -1, true) && this.skip(this.i) === this.n;
    this.b = EMPTY; // do not keep the payload alive
    return ok;
  }

  /**
   * The index of the first byte from `i` that is not JSON whitespace. Callers test `b[i] <= 32`
   * first: JSON.stringify writes none, and a call per token would be a quarter of the walk.
   */
  private skip(i: number): number {
    const b = this.b;
    while (i < this.n && isWs(b[i]!)) i++;
    return i;
  }

  /** The value at this.i, against `node`; leaves this.i past it. */
  private value(node: Node, capture: number, top: boolean): boolean {
    const c = this.b[this.i];
    switch (node.k) {
      case OBJECT:
        return c === 123 && this.object(node, top);
      case ARRAY:
        return c === 91 && this.array(node);
      case STRING:
        return c === QUOTE && this.string(node, capture);
      case NUMBER:
        if (c === 110) return node.nullable && this.literal(NULL);
        return this.number(node, capture);
      case BOOLEAN:
        return c === 116 ? this.literal(TRUE) : this.literal(FALSE);
      case NULL_:
        return this.literal(NULL);
      default:
        return this.any();
    }
  }

  private literal(word: Uint8Array): boolean {
    const b = this.b;
    const i = this.i;
    if (i + word.length > this.n) return false;
    for (let k = 0; k < word.length; k++) if (b[i + k] !== word[k]) return false;
    this.i = i + word.length;
    return true;
  }

  /** The closing quote of the string whose opening quote is at `i`: printable ASCII, no escapes. -1: not such a string. */
  private stringEnd(i: number): number {
    const b = this.b;
    const n = this.n;
    for (i++; i < n; i++) {
      const t = IN_STRING[b[i]!]!;
      if (t !== 0) return t === 1 ? i : -1;
    }
    return -1;
  }

  private string(node: Node, capture: number): boolean {
    const start = this.i + 1;
    const end = this.stringEnd(this.i);
    if (end < 0) return false;
    const length = end - start;
    if (length < node.min || length > node.max) return false;
    this.i = end + 1;
    if (node.values) {
      const at = this.oneOf(node.values, start, length);
      if (at < 0) return false;
      if (capture >= 0) this.numbers[capture] = at;
      return true;
    }
    if (node.pattern === undefined && capture < 0) return true;
    const s = this.b.toString('latin1', start, end);
    if (node.pattern && !node.pattern.test(s)) return false;
    if (capture >= 0) this.strings[capture] = s;
    return true;
  }

  private oneOf(values: readonly Uint8Array[], start: number, length: number): number {
    const b = this.b;
    next: for (let v = 0; v < values.length; v++) {
      const w = values[v]!;
      if (w.length !== length) continue;
      for (let k = 0; k < length; k++) if (b[start + k] !== w[k]) continue next;
      return v;
    }
    return -1;
  }

  /** JSON's number grammar; the value is computed only when a bound or a capture needs it. */
  private number(node: Node, capture: number): boolean {
    const b = this.b;
    const n = this.n;
    const start = this.i;
    let i = start;
    const negative = b[i] === MINUS;
    if (negative) i++;
    let c = b[i]!;
    let digits = 0;
    let whole = 0;
    if (c === ZERO) {
      i++;
      digits = 1;
    } else if (c > ZERO && c <= NINE) {
      do {
        whole = whole * 10 + (c - ZERO);
        digits++;
        c = b[++i]!;
      } while (c >= ZERO && c <= NINE);
    } else return false;
    let fraction = false;
    if (b[i] === DOT) {
      fraction = true;
      c = b[++i]!;
      if (!(c >= ZERO && c <= NINE)) return false;
      do c = b[++i]!;
      while (c >= ZERO && c <= NINE);
    }
    let exponent = false;
    if (b[i] === 101 || b[i] === 69) {
      exponent = true;
      c = b[++i]!;
      if (c === 43 || c === MINUS) c = b[++i]!;
      if (!(c >= ZERO && c <= NINE)) return false;
      do c = b[++i]!;
      while (c >= ZERO && c <= NINE);
    }
    if (i > n) return false;
    this.i = i;
    const exact = !fraction && !exponent && digits <= 15;
    if (node.integer && !exact) return false;
    let value = exact ? (negative ? -whole : whole) : NaN;
    // Ajv's number is a finite one, and JSON.parse makes 1e400 Infinity. Without an exponent, at most
    // 300 digits before the point is finite; otherwise the value says.
    if (!exact && (exponent || digits > 300)) {
      value = Number(b.toString('latin1', start, i));
      if (!Number.isFinite(value)) return false;
    }
    // The value is needed for a capture or a bound, but not for a lower bound at or under 0 that a
    // number without a minus sign meets anyway (most bounds here are `minimum: 0`).
    if (capture < 0 && node.max === Infinity && node.exMin === -Infinity && (node.min === -Infinity || (!negative && node.min <= 0))) return true;
    if (Number.isNaN(value)) value = Number(b.toString('latin1', start, i));
    if (!(value >= node.min && value <= node.max && value > node.exMin)) return false;
    if (capture >= 0) this.numbers[capture] = value;
    return true;
  }

  private object(node: Node, top: boolean): boolean {
    if (++this.depth > this.maxDepth) return false;
    const b = this.b;
    const props = node.props;
    let i = this.i + 1;
    if (b[i]! <= 32) i = this.skip(i);
    if (b[i] === 125) {
      this.i = i + 1;
      this.depth--;
      return node.required === 0;
    }
    let seen = 0;
    let count = 0;
    let guess = node.first;
    let previous: Prop | undefined;
    for (;;) {
      if (b[i] !== QUOTE) return false;
      const start = i + 1;
      let end = -1;
      let prop: Prop | undefined;
      if (guess !== undefined) {
        const name = guess.name;
        const length = name.length;
        let k = 0;
        while (k < length && b[start + k] === name[k]) k++;
        if (k === length && b[start + length] === QUOTE) {
          prop = guess;
          end = start + length;
        }
      }
      if (end < 0) {
        end = this.stringEnd(i);
        if (end < 0) return false;
        if (props !== undefined && end > start) prop = this.property(props, start, end - start);
      }
      const length = end - start;
      if (length < node.keyMin || length > node.keyMax || ++count > node.maxProps) return false;
      i = end + 1;
      if (b[i]! <= 32) i = this.skip(i);
      if (b[i] !== 58) return false;
      i++;
      if (b[i]! <= 32) i = this.skip(i);
      this.i = i;
      if (prop !== undefined) {
        if (seen & prop.bit) return false; // the same property twice: which one counts is the full path's question
        seen |= prop.bit;
        if (previous === undefined) node.first = prop;
        else previous.next = prop;
        previous = prop;
        guess = prop.next;
        if (!this.value(prop.node, top ? prop.capture : -1, false)) return false;
      } else if (!(node.extra ? this.value(node.extra, -1, false) : this.any())) return false;
      i = this.i;
      if (b[i]! <= 32) i = this.skip(i);
      const c = b[i++];
      if (c === 125) break;
      if (c !== 44) return false;
      if (b[i]! <= 32) i = this.skip(i);
    }
    this.i = i;
    this.depth--;
    return (seen & node.required) === node.required;
  }

  private property(props: readonly (Prop[] | undefined)[], start: number, length: number): Prop | undefined {
    const b = this.b;
    const candidates = props[slotOf(length, b[start]!, b[start + length - 1]!)];
    if (candidates === undefined) return undefined;
    next: for (let c = 0; c < candidates.length; c++) {
      const p = candidates[c]!;
      const name = p.name;
      if (name.length !== length) continue;
      for (let k = 0; k < length; k++) if (b[start + k] !== name[k]) continue next;
      return p;
    }
    return undefined;
  }

  private array(node: Node): boolean {
    if (++this.depth > this.maxDepth) return false;
    const b = this.b;
    const items = node.items!;
    let i = this.i + 1;
    if (b[i]! <= 32) i = this.skip(i);
    let count = 0;
    if (b[i] === 93) i++;
    else
      for (;;) {
        this.i = i;
        if (++count > node.maxItems || !this.value(items, -1, false)) return false;
        i = this.i;
        if (b[i]! <= 32) i = this.skip(i);
        const c = b[i++];
        if (c === 93) break;
        if (c !== 44) return false;
        if (b[i]! <= 32) i = this.skip(i);
      }
    this.i = i;
    this.depth--;
    return count >= node.minItems;
  }

  /** Any JSON value, within the depth limit: what the schema leaves open. */
  private any(): boolean {
    const c = this.b[this.i];
    if (c === 123) return this.object(ANY_OBJECT, false);
    if (c === 91) return this.array(ANY_ARRAY);
    if (c === QUOTE) {
      const end = this.stringEnd(this.i);
      if (end < 0) return false;
      this.i = end + 1;
      return true;
    }
    if (c === 116) return this.literal(TRUE);
    if (c === 102) return this.literal(FALSE);
    if (c === 110) return this.literal(NULL);
    return this.number(ANY_NUMBER, -1);
  }
}

const EMPTY = Buffer.alloc(0);
const TRUE = ascii('true');
const FALSE = ascii('false');
const NULL = ascii('null');
