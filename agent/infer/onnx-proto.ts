/**
 * Reads the few top-level fields of an ONNX ModelProto that ONNX Runtime's Node binding does not
 * expose: metadata_props (where Ultralytics writes `names`, `imgsz`, `stride`), the IR version and
 * the opsets. It is also our "is this ONNX at all" check, so a JPEG or a text file passed as a model
 * gets a specific error instead of an opaque runtime failure.
 */

export interface OnnxHeader {
  readonly irVersion: number;
  readonly producer: string;
  readonly opsets: readonly { domain: string; version: number }[];
  readonly metadata: Readonly<Record<string, string>>;
}

class Reader {
  pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    readonly end = buf.length,
  ) {}

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      if (shift < 49) result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint longer than 64 bits');
    }
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.end) throw new Error(`field of ${len} bytes runs past the end`);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (this.pos > this.end) throw new Error('field runs past the end');
  }
}

const text = new TextDecoder('utf-8', { fatal: false });

function fields(buf: Uint8Array, visit: (field: number, wire: number, r: Reader) => boolean): void {
  const r = new Reader(buf);
  while (r.pos < r.end) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field === 0) throw new Error('field number 0');
    if (!visit(field, wire, r)) r.skip(wire);
  }
}

function stringPair(buf: Uint8Array): [string, string] {
  let key = '';
  let value = '';
  fields(buf, (f, w, r) => {
    if (w !== 2) return false;
    if (f === 1) key = text.decode(r.bytes());
    else if (f === 2) value = text.decode(r.bytes());
    else return false;
    return true;
  });
  return [key, value];
}

/** Parses the header of an ONNX file; throws an Error whose message says what was wrong. */
export function readOnnxHeader(buf: Uint8Array): OnnxHeader {
  if (buf.length === 0) throw new Error('the file is empty');
  let irVersion = -1;
  let producer = '';
  let hasGraph = false;
  const opsets: { domain: string; version: number }[] = [];
  const metadata: Record<string, string> = {};
  fields(buf, (f, w, r) => {
    if (f === 1 && w === 0) irVersion = r.varint();
    else if (f === 2 && w === 2) producer = text.decode(r.bytes());
    else if (f === 7 && w === 2) {
      r.bytes();
      hasGraph = true;
    } else if (f === 8 && w === 2) {
      let domain = '';
      let version = 0;
      fields(r.bytes(), (g, gw, rr) => {
        if (g === 1 && gw === 2) domain = text.decode(rr.bytes());
        else if (g === 2 && gw === 0) version = rr.varint();
        else return false;
        return true;
      });
      opsets.push({ domain, version });
    } else if (f === 14 && w === 2) {
      const [k, v] = stringPair(r.bytes());
      metadata[k] = v;
    } else return false;
    return true;
  });
  if (irVersion < 1) throw new Error('no ir_version field: not an ONNX ModelProto');
  if (!hasGraph) throw new Error('no graph field: not an ONNX ModelProto');
  return { irVersion, producer, opsets, metadata };
}

/**
 * Parses Ultralytics' `names` prop, a Python dict literal such as "{0: 'person', 1: 'car'}".
 * Also accepts JSON objects and arrays. Returns undefined when absent or unreadable.
 */
export function parseNames(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const s = raw.trim();
  try {
    const j: unknown = JSON.parse(s);
    if (Array.isArray(j)) return j.map(String);
    if (j && typeof j === 'object') return dictToList(j as Record<string, unknown>);
  } catch {
    // Not JSON: fall through to the Python-literal form.
  }
  const re = /(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g;
  const out: Record<string, string> = {};
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) out[m[1]!] = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
  return Object.keys(out).length ? dictToList(out) : undefined;
}

function dictToList(d: Record<string, unknown>): string[] | undefined {
  const keys = Object.keys(d).map(Number);
  if (keys.some((k) => !Number.isInteger(k) || k < 0)) return undefined;
  const out: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    if (!(String(i) in d)) return undefined;
    out.push(String(d[String(i)]));
  }
  return out;
}

/** Parses `imgsz` ("[640, 640]", "640" or "[192, 256]" as [h, w]). */
export function parseImgsz(raw: string | undefined): [number, number] | undefined {
  if (raw === undefined) return undefined;
  const nums = raw.match(/\d+/g)?.map(Number) ?? [];
  if (nums.length === 1) return [nums[0]!, nums[0]!];
  if (nums.length === 2) return [nums[0]!, nums[1]!];
  return undefined;
}
