/**
 * Loading a detector model: read the file once, check it is ONNX, open a session on the first
 * execution provider that works, validate the input, warm up, and choose the output decoder from
 * the real output shape. Every failure is one specific DRIFTLINE_ERR_* naming the file.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { driftlineError, isDriftlineError } from '../../lib/errors.js';
import { silentLogger, type Logger } from '../../lib/log.js';
import { chooseDecoder, type Layout, type OutputDecoder } from '../decode/decoders.js';
import { parseImgsz, parseNames, readOnnxHeader, type OnnxHeader } from './onnx-proto.js';
import { DEFAULT_PROVIDERS, openSession, resolveProviders, type ProviderAttempt, type ProviderChoice, type ProviderName } from './providers.js';
import { applyTensorrtEnvironment, tensorrtCacheDir, type TensorrtOptions } from './tensorrt-env.js';

export interface ModelOptions {
  /** The providers to try in order, or `['auto']` (the default): what this platform has, best first. */
  readonly providers?: readonly ProviderChoice[];
  /** TensorRT settings, written to the environment before the session is created when TensorRT is tried. */
  readonly tensorrt?: { readonly options: TensorrtOptions; readonly storePath: string };
  /** Intra-op threads; 0 lets ONNX Runtime use every core. */
  readonly intraOpThreads?: number;
  readonly interOpThreads?: number;
  readonly deviceId?: number;
  /** Forces the output layout when a model's shape is ambiguous and its metadata silent. */
  readonly layout?: Layout;
  /** Number of warm-up runs after loading (default 2). */
  readonly warmup?: number;
  readonly log?: Logger;
}

export interface LoadedModel {
  readonly file: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly session: ort.InferenceSession;
  readonly provider: ProviderName;
  /** The providers tried, in order (auto resolved), and whether they came from auto. */
  readonly providers: readonly ProviderName[];
  readonly auto: boolean;
  readonly attempts: readonly ProviderAttempt[];
  /** The TensorRT engine cache folder, when TensorRT was among the providers tried with settings. */
  readonly tensorrtCache: string | undefined;
  readonly header: OnnxHeader;
  readonly names: readonly string[];
  readonly inputName: string;
  readonly outputName: string;
  readonly inputW: number;
  readonly inputH: number;
  /** Output dims seen at warm-up; `staticOutput` says whether they can be preallocated. */
  readonly outputDims: readonly number[];
  readonly staticOutput: boolean;
  readonly decoder: OutputDecoder;
  /**
   * The per-anchor feature output that detection-level OOD scoring reads (`embed0`, [1, dim,
   * anchors], the same anchor order as the detector output), from the `embedding` metadata prop or
   * an output named embed0; undefined for models without one (confidence-based OOD scores only).
   */
  readonly embedding: ModelEmbedding | undefined;
  /** Mean time of the warm-up runs, ms (the first one sets up memory and is slower). */
  readonly warmupMs: number;
  /** The fastest warm-up run, ms: what one inference costs once warm (Detector.open's `auto` reads it). */
  readonly runMs: number;
  /** The model file's bytes and the session settings, for a second session in a worker thread. */
  readonly modelBytes: Uint8Array;
  readonly tuning: { readonly intraOpThreads: number; readonly interOpThreads: number; readonly deviceId: number };
}

export interface ModelEmbedding {
  readonly output: string;
  /** Features per anchor (D). */
  readonly dim: number;
  readonly anchors: number;
}

/** The default name of the embedding output, when the metadata does not name one. */
export const EMBEDDING_OUTPUT = 'embed0';

const isStatic = (d: unknown): d is number => typeof d === 'number' && d > 0;

interface EmbeddingClaim {
  readonly output: string;
  /** Whether the metadata declared it (then every disagreement is an error). */
  readonly declared: boolean;
  readonly dim?: number;
  readonly anchors?: number;
}

/** What the model claims about an embedding output: the `embedding` prop, else an output named embed0. */
function embeddingClaim(file: string, prop: string | undefined, outputs: readonly string[]): EmbeddingClaim | undefined {
  if (prop === undefined) return outputs.includes(EMBEDDING_OUTPUT) ? { output: EMBEDDING_OUTPUT, declared: false } : undefined;
  const fail = (output: unknown, reason: string): never => {
    throw driftlineError('DRIFTLINE_ERR_MODEL_EMBEDDING', { file, output, reason });
  };
  let meta: unknown;
  try {
    meta = JSON.parse(prop);
  } catch (e) {
    fail(EMBEDDING_OUTPUT, `the \`embedding\` metadata is not JSON (${(e as Error).message})`);
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return fail(EMBEDDING_OUTPUT, 'the `embedding` metadata is not a JSON object');
  const m = meta as { output?: unknown; dim?: unknown; anchors?: unknown };
  const output = m.output ?? EMBEDDING_OUTPUT;
  if (typeof output !== 'string' || output === '') return fail(output, 'the `embedding` metadata names no output');
  const positive = (key: string, v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(output, `the \`embedding\` metadata's ${key} is ${JSON.stringify(v)}, not a positive integer`);
    return v as number;
  };
  const dim = positive('dim', m.dim);
  const anchors = positive('anchors', m.anchors);
  if (!outputs.includes(output)) fail(output, `the \`embedding\` metadata names it, but the model's outputs are ${outputs.join(', ')}`);
  return { output, declared: true, ...(dim !== undefined ? { dim } : {}), ...(anchors !== undefined ? { anchors } : {}) };
}

/**
 * Checks the embedding output seen at warm-up against the claim and the decoder. A declared one that
 * disagrees is DRIFTLINE_ERR_MODEL_EMBEDDING; an undeclared embed0 that does not fit is not used.
 */
function checkEmbedding(file: string, claim: EmbeddingClaim, t: ort.Tensor | undefined, decoder: OutputDecoder, log: Logger): ModelEmbedding | undefined {
  const problem = ((): string | undefined => {
    if (!t) return 'the model did not return it';
    if (t.type !== 'float32') return `element type ${t.type}, expected float32`;
    const d = t.dims;
    if (d.length !== 3 || d[0] !== 1) return `shape [${d.join(', ')}] is not [1, D, anchors]`;
    if (decoder.nmsInside) return 'the detector output has NMS inside (end-to-end): its rows are not anchors an embedding can follow';
    if (d[2] !== decoder.anchors) return `shape [${d.join(', ')}] has ${d[2]} anchors, output0 has ${decoder.anchors}`;
    if (claim.dim !== undefined && d[1] !== claim.dim) return `shape [${d.join(', ')}] has D = ${d[1]}, the metadata says dim ${claim.dim}`;
    if (claim.anchors !== undefined && d[2] !== claim.anchors) return `shape [${d.join(', ')}] has ${d[2]} anchors, the metadata says ${claim.anchors}`;
    return undefined;
  })();
  if (problem === undefined) return { output: claim.output, dim: t!.dims[1]!, anchors: t!.dims[2]! };
  if (claim.declared) throw driftlineError('DRIFTLINE_ERR_MODEL_EMBEDDING', { file, output: claim.output, reason: problem });
  log.warn({ model: file, output: claim.output, reason: problem }, 'an output named embed0 is not a usable embedding; OOD scores stay confidence-based');
  return undefined;
}

async function readModelFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw driftlineError('DRIFTLINE_ERR_MODEL_NOT_FOUND', { file }, { cause: e });
    throw driftlineError('DRIFTLINE_ERR_MODEL_NOT_ONNX', { file, reason: `cannot read it (${code ?? (e as Error).message})` }, { cause: e });
  }
}

export async function loadModel(file: string, o: ModelOptions = {}): Promise<LoadedModel> {
  const log = o.log ?? silentLogger;
  const bytes = await readModelFile(file);
  let header: OnnxHeader;
  try {
    header = readOnnxHeader(bytes);
  } catch (e) {
    throw driftlineError('DRIFTLINE_ERR_MODEL_NOT_ONNX', { file, reason: `it does not parse as an ONNX protobuf (${(e as Error).message})` }, { cause: e });
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const tuning = { intraOpThreads: o.intraOpThreads ?? 0, interOpThreads: o.interOpThreads ?? 1, deviceId: o.deviceId ?? 0 };
  const { order, auto } = resolveProviders(o.providers ?? DEFAULT_PROVIDERS);
  let tensorrtCache: string | undefined;
  if (o.tensorrt && order.includes('tensorrt')) {
    tensorrtCache = tensorrtCacheDir(o.tensorrt.options, o.tensorrt.storePath, sha256);
    log.info({ env: applyTensorrtEnvironment(o.tensorrt.options, tensorrtCache) }, 'TensorRT settings set in the environment before the session is created');
  }
  let opened;
  try {
    opened = await openSession(bytes, file, order, tuning, log, auto);
  } catch (e) {
    if (isDriftlineError(e) && /protobuf|parse|invalid model|load model/i.test(e.message)) {
      throw driftlineError('DRIFTLINE_ERR_MODEL_NOT_ONNX', { file, reason: e.message }, { cause: e });
    }
    throw e;
  }
  const { session } = opened;

  const inputs = session.inputMetadata;
  const inputFail = (input: string, reason: string): never => {
    throw driftlineError('DRIFTLINE_ERR_MODEL_INPUT', { file, input, reason });
  };
  if (inputs.length !== 1) inputFail(session.inputNames.join(', '), `expected exactly one input, the model has ${inputs.length}`);
  const input = inputs[0]!;
  if (!input.isTensor) inputFail(input.name, 'it is not a tensor');
  const meta = input as ort.InferenceSession.TensorValueMetadata;
  if (meta.type !== 'float32') inputFail(input.name, `element type ${meta.type}; export the model with float32 input`);
  const shape = meta.shape;
  if (shape.length !== 4) inputFail(input.name, `expected NCHW with 4 dimensions, got [${shape.join(', ')}]`);
  if (isStatic(shape[0]) && shape[0] !== 1) inputFail(input.name, `batch dimension must be 1, got ${shape[0]}`);
  if (isStatic(shape[1]) && shape[1] !== 3) inputFail(input.name, `expected 3 channels (RGB, NCHW), got ${shape[1]}`);
  const imgsz = parseImgsz(header.metadata.imgsz);
  const inputH = isStatic(shape[2]) ? shape[2] : (imgsz?.[0] ?? 640);
  const inputW = isStatic(shape[3]) ? shape[3] : (imgsz?.[1] ?? 640);

  const outputName = session.outputNames.includes('output0') ? 'output0' : session.outputNames[0]!;
  const outMeta = session.outputMetadata.find((m) => m.name === outputName);
  const staticOutput = outMeta !== undefined && outMeta.isTensor && outMeta.shape.every(isStatic);

  const claim = embeddingClaim(file, header.metadata.embedding, session.outputNames);
  const fetch = claim && claim.output !== outputName ? [outputName, claim.output] : [outputName];
  let embedTensor: ort.Tensor | undefined;

  const names = parseNames(header.metadata.names);
  const e2e = /^(true|1)$/i.test(header.metadata.end2end ?? '') || /^(true|1)$/i.test(header.metadata.nms ?? '');
  const feed = new ort.Tensor('float32', new Float32Array(3 * inputW * inputH), [1, 3, inputH, inputW]);
  const t0 = performance.now();
  let outputDims: readonly number[] = [];
  const runs = Math.max(1, o.warmup ?? 2);
  let runMs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const r0 = performance.now();
    let result;
    try {
      result = await session.run({ [input.name]: feed }, fetch);
    } catch (e) {
      inputFail(input.name, `a ${inputW}x${inputH} warm-up run failed: ${(e as Error).message.split('\n')[0]}`);
    }
    const out = result![outputName]!;
    if (out.type !== 'float32') {
      throw driftlineError('DRIFTLINE_ERR_MODEL_OUTPUT', { file, shape: out.dims, reason: `element type ${out.type}, expected float32` });
    }
    outputDims = out.dims;
    if (claim) embedTensor = result![claim.output];
    runMs = Math.min(runMs, performance.now() - r0);
  }
  const warmupMs = (performance.now() - t0) / runs;
  const decoder = chooseDecoder(outputDims, { ...(names ? { names } : {}), endToEnd: e2e, ...(o.layout ? { layout: o.layout } : {}) }, file);
  const embedding = claim ? checkEmbedding(file, claim, embedTensor, decoder, log) : undefined;
  const classNames = names ?? Array.from({ length: decoder.layout === 'e2e' ? 0 : decoder.numClasses }, (_, i) => `class${i}`);
  log.info(
    { model: file, sha256, provider: opened.provider, layout: decoder.layout, classes: classNames.length, input: [inputH, inputW], ood: embedding ? `embedding (${embedding.output}, D=${embedding.dim})` : 'confidence', warmupMs: +warmupMs.toFixed(2), runMs: +runMs.toFixed(2) },
    'model loaded',
  );
  return {
    file,
    sha256,
    bytes: bytes.length,
    session,
    provider: opened.provider,
    providers: order,
    auto,
    attempts: opened.attempts,
    tensorrtCache,
    header,
    names: classNames,
    inputName: input.name,
    outputName,
    inputW,
    inputH,
    outputDims,
    staticOutput,
    decoder,
    embedding,
    warmupMs,
    runMs,
    modelBytes: bytes,
    tuning,
  };
}
