/**
 * Writes small but real ONNX models for tests: the output is a constant tensor we choose, so a test
 * can push a hand-built detector output through real ONNX Runtime and check the decoded boxes. It
 * also builds deliberately wrong models (odd input types, odd output shapes) for the error tests.
 */

const enc = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  if (v < 0) throw new Error('negative varint');
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

const key = (field: number, wire: number): number[] => varint(field * 8 + wire);
const vField = (field: number, n: number): number[] => [...key(field, 0), ...varint(n)];
const bField = (field: number, bytes: ArrayLike<number>): number[] => [...key(field, 2), ...varint(bytes.length), ...Array.from(bytes)];
const sField = (field: number, s: string): number[] => bField(field, enc.encode(s));

export const ELEM = { FLOAT: 1, UINT8: 2, FLOAT16: 10 } as const;

function tensorType(elem: number, dims: readonly (number | string)[]): number[] {
  const shape = dims.flatMap((d) => bField(1, typeof d === 'number' ? vField(1, d) : sField(2, d)));
  return bField(1, [...vField(1, elem), ...bField(2, shape)]);
}

function valueInfo(name: string, elem: number, dims: readonly (number | string)[]): number[] {
  return [...sField(1, name), ...bField(2, tensorType(elem, dims))];
}

function floatTensor(name: string, dims: readonly number[], data: Float32Array): number[] {
  const raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return [...dims.flatMap((d) => vField(1, d)), ...vField(2, ELEM.FLOAT), ...sField(8, name), ...bField(9, raw)];
}

export interface ConstantModelOptions {
  /** Input shape; strings are symbolic (dynamic) dimensions. Default [1, 3, 64, 64]. */
  readonly inputShape?: readonly (number | string)[];
  readonly inputType?: number;
  /** Names of the inputs; default ['images']. */
  readonly inputs?: readonly string[];
  readonly outputDims: readonly number[];
  readonly outputData?: Float32Array;
  readonly metadata?: Readonly<Record<string, string>>;
  /** More constant float outputs after output0 (an `embed0`, say); zeros unless data is given. */
  readonly extraOutputs?: readonly { readonly name: string; readonly dims: readonly number[]; readonly data?: Float32Array }[];
}

/**
 * A model whose output0 is `outputData` reshaped to `outputDims`, whatever the input. The input
 * still flows into the graph (multiplied by zero and added), so ONNX Runtime requires and checks it.
 */
export function constantModel(o: ConstantModelOptions): Uint8Array {
  const size = o.outputDims.reduce((a, b) => a * b, 1);
  const data = o.outputData ?? new Float32Array(size);
  if (data.length !== size) throw new Error(`outputData has ${data.length} values, dims need ${size}`);
  const inputs = o.inputs ?? ['images'];
  const inputShape = o.inputShape ?? [1, 3, 64, 64];
  const inputType = o.inputType ?? ELEM.FLOAT;
  const nodes: number[][] = [];
  const inits: number[][] = [floatTensor('const_out', o.outputDims, data), floatTensor('zero', [], new Float32Array([0]))];
  if (inputType === ELEM.FLOAT) {
    // s = ReduceSum(images) * 0 (a scalar), out = const_out + s: depends on the input, equals const_out.
    nodes.push([...sField(1, inputs[0]!), ...sField(2, 'sum'), ...sField(3, 'reduce'), ...sField(4, 'ReduceSum'), ...bField(5, [...sField(1, 'keepdims'), ...vField(3, 0), ...vField(20, 2)])]);
    nodes.push([...sField(1, 'sum'), ...sField(1, 'zero'), ...sField(2, 'scaled'), ...sField(3, 'mul'), ...sField(4, 'Mul')]);
    nodes.push([...sField(1, 'const_out'), ...sField(1, 'scaled'), ...sField(2, 'output0'), ...sField(3, 'add'), ...sField(4, 'Add')]);
    for (const x of o.extraOutputs ?? []) {
      inits.push(floatTensor(`const_${x.name}`, x.dims, x.data ?? new Float32Array(x.dims.reduce((a, b) => a * b, 1))));
      nodes.push([...sField(1, `const_${x.name}`), ...sField(1, 'scaled'), ...sField(2, x.name), ...sField(3, `add_${x.name}`), ...sField(4, 'Add')]);
    }
  } else {
    nodes.push([...sField(1, 'const_out'), ...sField(2, 'output0'), ...sField(3, 'id'), ...sField(4, 'Identity')]);
  }
  const graph = [
    ...nodes.flatMap((n) => bField(1, n)),
    ...sField(2, 'test-graph'),
    ...inits.flatMap((t) => bField(5, t)),
    ...inputs.flatMap((name) => bField(11, valueInfo(name, inputType, inputShape))),
    ...bField(12, valueInfo('output0', ELEM.FLOAT, o.outputDims)),
    ...(o.extraOutputs ?? []).flatMap((x) => bField(12, valueInfo(x.name, ELEM.FLOAT, x.dims))),
  ];
  const model = [
    ...vField(1, 7),
    ...sField(2, 'driftline-test'),
    ...bField(7, graph),
    ...bField(8, [...sField(1, ''), ...vField(2, 13)]),
    ...Object.entries(o.metadata ?? {}).flatMap(([k, v]) => bField(14, [...sField(1, k), ...sField(2, v)])),
  ];
  return Uint8Array.from(model);
}
