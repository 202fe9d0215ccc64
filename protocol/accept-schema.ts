/**
 * A JSON schema compiled for the fast acceptor (fast-accept.ts): a tree of nodes, one per schema,
 * with each object's properties in a small hash table by length and first and last bytes. Both
 * walkers read it: the JavaScript one as these objects, the WebAssembly one (wasm-accept.ts) as
 * the same tree laid out in its memory.
 *
 * A keyword this does not implement makes compileNode() throw Unsupported: a schema that grows one
 * falls back to the full path as a whole, never to a looser check.
 */
/** The keywords compile() implements; any other keyword in a schema throws. */
const KEYWORDS = new Set(['$id', 'type', 'properties', 'required', 'additionalProperties', 'maxProperties', 'propertyNames', 'items', 'maxItems', 'minItems', 'minLength', 'maxLength', 'pattern', 'enum', 'const', 'minimum', 'maximum', 'exclusiveMinimum']);

export type Schema = Readonly<Record<string, unknown>>;

export interface Prop {
  readonly name: Uint8Array;
  readonly bit: number;
  readonly node: Node;
  /** Index into the captured numbers or strings; -1: not captured. */
  readonly capture: number;
  /**
   * The property that came after this one last time. A device writes its keys in the same order
   * every time, so the walker tries this one first, byte for byte with its closing quote: no scan,
   * no lookup. A wrong guess costs one comparison and the ordinary path.
   */
  next: Prop | undefined;
}

const ANY = 0;
export const OBJECT = 1;
export const ARRAY = 2;
export const STRING = 3;
export const NUMBER = 4;
export const BOOLEAN = 5;
export const NULL_ = 6;

/** Slots in an object's property table: a key's slot comes from its length and first and last bytes. */
export const SLOTS = 64;
export const slotOf = (length: number, first: number, last: number): number => (length * 31 + first * 7 + last) & (SLOTS - 1);

/**
 * A compiled schema node. One class with every field, whatever its kind: the walker reads nodes of
 * every kind at the same sites, and one shape keeps those reads monomorphic (about twice as fast as
 * a union of object shapes).
 */
export class Node {
  k = ANY;
  /** Object: properties by slot (slotOf); undefined: no named properties. */
  props: (Prop[] | undefined)[] | undefined = undefined;
  /** Object: the property that came first last time (Prop.next). */
  first: Prop | undefined = undefined;
  required = 0;
  /** Object: the schema of other properties; undefined: anything. */
  extra: Node | undefined = undefined;
  maxProps = Infinity;
  keyMin = 0;
  keyMax = Infinity;
  /** Array: its items' schema. */
  items: Node | undefined = undefined;
  minItems = 0;
  maxItems = Infinity;
  /** String: its length; number: its value. */
  min = -Infinity;
  max = Infinity;
  pattern: RegExp | undefined = undefined;
  values: readonly Uint8Array[] | undefined = undefined;
  integer = false;
  nullable = false;
  exMin = -Infinity;

  constructor(k: number, o: Partial<Omit<Node, 'k'>> = {}) {
    this.k = k;
    Object.assign(this, o);
  }
}

export class Unsupported extends Error {}

export const ascii = (s: string): Uint8Array => {
  if (!/^[\x20-\x7e]*$/.test(s)) throw new Unsupported(`"${s}": only printable ASCII names and values are compiled`);
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
};


const num = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);

export function compileNode(s: Schema, top: boolean, captures: { numbers: readonly string[]; strings: readonly string[] }): Node {
  for (const k of Object.keys(s)) if (!KEYWORDS.has(k)) throw new Unsupported(`keyword ${k}`);
  if ('$id' in s && !top) throw new Unsupported('a nested $id');
  let type = s.type;
  const values = s.enum ?? ('const' in s ? [s.const] : undefined);
  if (values !== undefined) {
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) throw new Unsupported('enum or const other than strings');
    if (type !== undefined && type !== 'string') throw new Unsupported('enum with a type other than string');
    type = 'string';
  }
  let nullable = false;
  if (Array.isArray(type)) {
    if (type.length !== 2 || type[0] !== 'number' || type[1] !== 'null') throw new Unsupported(`type ${JSON.stringify(type)}`);
    type = 'number';
    nullable = true;
  }
  switch (type) {
    case undefined:
      if (Object.keys(s).length > 0) throw new Unsupported('keywords without a type');
      return new Node(ANY);
    case 'object': {
      const props: (Prop[] | undefined)[] = new Array<Prop[] | undefined>(SLOTS).fill(undefined);
      const names = Object.keys((s.properties as Schema | undefined) ?? {});
      if (names.length > 30) throw new Unsupported('more than 30 properties');
      const required = (s.required as string[] | undefined) ?? [];
      let requiredBits = 0;
      names.forEach((name, bit) => {
        const bytes = ascii(name);
        const numberAt = top ? captures.numbers.indexOf(name) : -1;
        const stringAt = top ? captures.strings.indexOf(name) : -1;
        const prop: Prop = { name: bytes, bit: 1 << bit, node: compileNode((s.properties as Record<string, Schema>)[name]!, false, captures), capture: numberAt >= 0 ? numberAt : stringAt, next: undefined };
        if (numberAt >= 0 && prop.node.k !== NUMBER && !(prop.node.k === STRING && prop.node.values)) throw new Unsupported(`captured number ${name} is neither a number nor an enum`);
        // A null leaves nothing to capture: the last payload's value would stay.
        if (numberAt >= 0 && prop.node.nullable) throw new Unsupported(`captured number ${name} may be null`);
        if (stringAt >= 0 && (prop.node.k !== STRING || prop.node.values)) throw new Unsupported(`captured string ${name} is not a free string (an enum is captured as a number)`);
        if (required.includes(name)) requiredBits |= 1 << bit;
        if (bytes.length === 0) throw new Unsupported('a property named ""');
        const slot = slotOf(bytes.length, bytes[0]!, bytes[bytes.length - 1]!);
        props[slot] = [...(props[slot] ?? []), prop];
      });
      for (const r of required) if (!names.includes(r)) throw new Unsupported(`required ${r} without a schema`);
      for (const c of [...captures.numbers, ...captures.strings]) if (top && !required.includes(c)) throw new Unsupported(`captured ${c} is not required`);
      const extra = s.additionalProperties === undefined ? undefined : typeof s.additionalProperties === 'object' ? compileNode(s.additionalProperties as Schema, false, captures) : undefined;
      if (s.additionalProperties === false) throw new Unsupported('additionalProperties: false');
      const pn = (s.propertyNames as Schema | undefined) ?? {};
      for (const k of Object.keys(pn)) if (k !== 'maxLength' && k !== 'minLength') throw new Unsupported(`propertyNames keyword ${k}`);
      return new Node(OBJECT, { props: names.length ? props : undefined, required: requiredBits, extra, maxProps: num(s.maxProperties, Infinity), keyMin: num(pn.minLength, 0), keyMax: num(pn.maxLength, Infinity) });
    }
    case 'array':
      if (typeof s.items !== 'object' || Array.isArray(s.items)) throw new Unsupported('items other than one schema');
      return new Node(ARRAY, { items: compileNode(s.items as Schema, false, captures), minItems: num(s.minItems, 0), maxItems: num(s.maxItems, Infinity) });
    case 'string':
      // The walkers match an enum's values and skip the rest of the string's checks.
      if (values !== undefined && typeof s.pattern === 'string') throw new Unsupported('enum with a pattern');
      return new Node(STRING, {
        min: num(s.minLength, 0),
        max: num(s.maxLength, Infinity),
        pattern: typeof s.pattern === 'string' ? new RegExp(s.pattern, 'u') : undefined,
        values: values?.map((v) => ascii(v as string)),
      });
    case 'number':
    case 'integer':
      return new Node(NUMBER, { integer: type === 'integer', nullable, min: num(s.minimum, -Infinity), max: num(s.maximum, Infinity), exMin: num(s.exclusiveMinimum, -Infinity) });
    case 'boolean':
      return new Node(BOOLEAN);
    case 'null':
      return new Node(NULL_);
    default:
      throw new Unsupported(`type ${JSON.stringify(type)}`);
  }
}

/** What the schema leaves open (an object's other properties without a schema, say): any JSON value, within the depth limit. */
const ANY_VALUE = new Node(ANY);
export const ANY_OBJECT = new Node(OBJECT, { extra: ANY_VALUE });
export const ANY_ARRAY = new Node(ARRAY, { items: ANY_VALUE });
export const ANY_NUMBER = new Node(NUMBER);
