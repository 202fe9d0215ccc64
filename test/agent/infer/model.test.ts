import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { loadModel } from '../../../agent/infer/model.js';
import { availableProviders, checkProviders, resolveProviders } from '../../../agent/infer/providers.js';
import { tensorrtCacheDir } from '../../../agent/infer/tensorrt-env.js';
import { isDriftlineError, type ErrorCode } from '../../../lib/errors.js';
import { constantModel, ELEM } from '../../helpers/onnx-writer.js';

const SHIPPED = new URL('../../../models/line-detector.onnx', import.meta.url).pathname;
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftline-model-'));
});

async function write(name: string, data: Uint8Array | string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, data);
  return p;
}

async function rejectsWith(file: string, code: ErrorCode, re: RegExp): Promise<void> {
  await assert.rejects(loadModel(file, { providers: ['cpu'] }), (e: unknown) => {
    assert.ok(isDriftlineError(e), `a DriftlineError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, re);
    assert.ok(e.message.includes(file), `the message names the file: ${e.message}`);
    return true;
  });
}

test('the shipped model loads on CPU with its names, input size and YOLOv8 layout', async () => {
  const m = await loadModel(SHIPPED, { providers: ['cpu'] });
  assert.equal(m.provider, 'cpu');
  assert.deepEqual(m.names, ['washer', 'bracket', 'scratch', 'missing_notch']);
  assert.deepEqual([m.inputH, m.inputW], [192, 256]);
  assert.equal(m.decoder.layout, 'yolov8');
  assert.deepEqual(m.outputDims, [1, 8, 192]);
  assert.match(m.sha256, /^[0-9a-f]{64}$/);
  assert.equal(m.header.metadata.stride, '16');
  assert.equal(m.header.metadata.imgsz, '[192, 256]');
});

test('a missing model file: DRIFTLINE_ERR_MODEL_NOT_FOUND', async () => {
  await rejectsWith(join(dir, 'nope.onnx'), 'DRIFTLINE_ERR_MODEL_NOT_FOUND', /model file not found/);
});

test('files that are not ONNX: DRIFTLINE_ERR_MODEL_NOT_ONNX with the reason', async () => {
  await rejectsWith(await write('empty.onnx', ''), 'DRIFTLINE_ERR_MODEL_NOT_ONNX', /empty/);
  await rejectsWith(await write('text.onnx', 'name: yolov8n\nnc: 80\n'), 'DRIFTLINE_ERR_MODEL_NOT_ONNX', /not an ONNX model/);
  const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#fff' } }).jpeg().toBuffer();
  await rejectsWith(await write('photo.onnx', jpeg), 'DRIFTLINE_ERR_MODEL_NOT_ONNX', /does not parse as an ONNX protobuf/);
  const real = await readFile(SHIPPED);
  await rejectsWith(await write('truncated.onnx', real.subarray(0, Math.floor(real.length / 2))), 'DRIFTLINE_ERR_MODEL_NOT_ONNX', /not an ONNX model/);
  await rejectsWith(dir, 'DRIFTLINE_ERR_MODEL_NOT_ONNX', /cannot read it/);
});

test('unexpected output shapes: DRIFTLINE_ERR_MODEL_OUTPUT naming the shape', async () => {
  await rejectsWith(await write('flat.onnx', constantModel({ outputDims: [1, 1000] })), 'DRIFTLINE_ERR_MODEL_OUTPUT', /\[1, 1000\].*expected 3 dimensions/);
  await rejectsWith(await write('tiny.onnx', constantModel({ outputDims: [1, 4, 4] })), 'DRIFTLINE_ERR_MODEL_OUTPUT', /\[1, 4, 4\]/);
  await rejectsWith(
    await write('mismatch.onnx', constantModel({ outputDims: [1, 84, 100], metadata: { names: "{0: 'a', 1: 'b'}" } })),
    'DRIFTLINE_ERR_MODEL_OUTPUT',
    /with 2 classes/,
  );
  await rejectsWith(await write('batch2.onnx', constantModel({ outputDims: [2, 6, 10] })), 'DRIFTLINE_ERR_MODEL_OUTPUT', /batch dimension/);
});

test('inputs that are not one float NCHW RGB image: DRIFTLINE_ERR_MODEL_INPUT', async () => {
  await rejectsWith(await write('u8.onnx', constantModel({ outputDims: [1, 6, 10], inputType: ELEM.UINT8 })), 'DRIFTLINE_ERR_MODEL_INPUT', /element type uint8/);
  await rejectsWith(await write('grey.onnx', constantModel({ outputDims: [1, 6, 10], inputShape: [1, 1, 64, 64] })), 'DRIFTLINE_ERR_MODEL_INPUT', /3 channels/);
  await rejectsWith(await write('nhwc.onnx', constantModel({ outputDims: [1, 6, 10], inputShape: [1, 64, 64] })), 'DRIFTLINE_ERR_MODEL_INPUT', /4 dimensions/);
  await rejectsWith(
    await write('two.onnx', constantModel({ outputDims: [1, 6, 10], inputs: ['images', 'sizes'] })),
    'DRIFTLINE_ERR_MODEL_INPUT',
    /exactly one input/,
  );
});

test('dynamic input sizes come from the imgsz metadata', async () => {
  const f = await write('dyn.onnx', constantModel({ outputDims: [1, 6, 10], inputShape: ['batch', 3, 'height', 'width'], metadata: { imgsz: '[96, 128]' } }));
  const m = await loadModel(f, { providers: ['cpu'] });
  assert.deepEqual([m.inputH, m.inputW], [96, 128]);
});

test('providers: falls back in order with a reason per failure, and says which one runs', async () => {
  const m = await loadModel(SHIPPED, { providers: ['tensorrt', 'cuda', 'cpu'] });
  assert.equal(m.provider, 'cpu');
  assert.deepEqual(m.attempts.map((a) => [a.provider, a.ok]), [['tensorrt', false], ['cuda', false], ['cpu', true]]);
  for (const a of m.attempts.slice(0, 2)) assert.match(a.reason ?? '', /\S/);
});

test('providers: when none loads, DRIFTLINE_ERR_MODEL_LOAD lists every attempt', async () => {
  await assert.rejects(loadModel(SHIPPED, { providers: ['cuda'] }), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_MODEL_LOAD') && /cuda: /.test(e.message));
  assert.throws(() => checkProviders(['cpu', 'gpu']), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_EXECUTION_PROVIDER') && /gpu/.test(e.message));
  assert.throws(() => checkProviders([]), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG'));
  assert.deepEqual(checkProviders([' CUDA', 'cpu']), ['cuda', 'cpu']);
  assert.deepEqual(checkProviders(['auto']), ['auto']);
  assert.throws(() => checkProviders(['auto', 'cpu']), (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /auto alone/.test(e.message));
});

test('providers: auto tries what this build has, best first: compiled in, and bundled or with its provider library beside the binding', async () => {
  const stock = [{ name: 'cpu', bundled: true }, { name: 'webgpu', bundled: true }, { name: 'cuda', bundled: false }, { name: 'tensorrt', bundled: false }];
  const dir = await mkdtemp(join(tmpdir(), 'driftline-binding-'));
  assert.deepEqual(availableProviders(dir, stock), ['cpu'], 'a stock x86 install has no CUDA or TensorRT provider library');
  await writeFile(join(dir, 'libonnxruntime_providers_cuda.so'), '');
  assert.deepEqual(availableProviders(dir, stock), ['cuda', 'cpu']);
  await writeFile(join(dir, 'libonnxruntime_providers_tensorrt.so'), '');
  assert.deepEqual(availableProviders(dir, stock), ['tensorrt', 'cuda', 'cpu']);
  assert.deepEqual(availableProviders(dir, [{ name: 'cpu', bundled: true }]), ['cpu'], 'a build without them does not try them');
  assert.deepEqual(availableProviders(dir, [{ name: 'cuda', bundled: true }]), ['cuda', 'cpu'], 'bundled needs no file; the CPU is always last');
  // This machine's real build: auto goes straight to the CPU, with no failed attempt.
  assert.deepEqual(resolveProviders(['auto']), { order: ['cpu'], auto: true });
  assert.deepEqual(resolveProviders(['cuda', 'cpu']), { order: ['cuda', 'cpu'], auto: false });
  const m = await loadModel(SHIPPED);
  assert.deepEqual([m.provider, m.providers, m.auto, m.attempts.length, m.tensorrtCache], ['cpu', ['cpu'], true, 1, undefined]);
});

test('model.tensorrt: the ORT_TENSORRT_* variables are in the process environment before the session is created, the cache keyed by the model', async (t) => {
  const names = ['ORT_TENSORRT_ENGINE_CACHE_ENABLE', 'ORT_TENSORRT_CACHE_PATH', 'ORT_TENSORRT_FP16_ENABLE', 'ORT_TENSORRT_MAX_WORKSPACE_SIZE'];
  const saved = names.map((n) => process.env[n]);
  t.after(() => names.forEach((n, i) => (saved[i] === undefined ? delete process.env[n] : (process.env[n] = saved[i]))));
  for (const n of names) delete process.env[n];
  const state = await mkdtemp(join(tmpdir(), 'driftline-state-'));
  const options = { cacheDir: '', fp16: false, workspaceBytes: 1 << 28 };
  // Not tried (auto on this CPU-only machine): nothing is set.
  await loadModel(SHIPPED, { tensorrt: { options, storePath: join(state, 'agent.db') } });
  assert.deepEqual(names.map((n) => process.env[n]), [undefined, undefined, undefined, undefined]);
  // Tried: the environment holds the settings when the sessions are created. TensorRT itself fails
  // here (no GPU, no provider library); the attempt that reads these variables comes after them.
  const m = await loadModel(SHIPPED, { providers: ['tensorrt', 'cpu'], tensorrt: { options, storePath: join(state, 'agent.db') } });
  const sha = m.sha256.slice(0, 16);
  assert.equal(m.tensorrtCache, join(state, 'tensorrt-cache', sha));
  assert.deepEqual(names.map((n) => process.env[n]), ['1', join(state, 'tensorrt-cache', sha), '0', String(1 << 28)]);
  assert.ok(existsSync(m.tensorrtCache!), 'the cache folder exists before TensorRT would write to it');
  assert.deepEqual(m.attempts.map((a) => [a.provider, a.ok]), [['tensorrt', false], ['cpu', true]]);
  // A configured folder holds a folder per model.
  assert.equal(tensorrtCacheDir({ ...options, cacheDir: '/var/cache/trt' }, '/x/agent.db', m.sha256), `/var/cache/trt/${sha}`);
});

test('embedding: the shipped model declares embed0 [1, 64, 192]; a third-party model has none', async () => {
  const m = await loadModel(SHIPPED, { providers: ['cpu'] });
  assert.deepEqual(m.embedding, { output: 'embed0', dim: 64, anchors: 192 });
  const other = await loadModel(new URL('../../../bench/models/yolov8n-random-640.onnx', import.meta.url).pathname, { providers: ['cpu'], warmup: 1 });
  assert.equal(other.embedding, undefined);
  // An output named embed0 without the metadata is used when its shape fits output0's anchors.
  const bare = await write('bare-embed.onnx', constantModel({ outputDims: [1, 6, 10], extraOutputs: [{ name: 'embed0', dims: [1, 5, 10] }] }));
  assert.deepEqual((await loadModel(bare, { providers: ['cpu'] })).embedding, { output: 'embed0', dim: 5, anchors: 10 });
  // ... and ignored (confidence mode) when it does not.
  const odd = await write('odd-embed.onnx', constantModel({ outputDims: [1, 6, 10], extraOutputs: [{ name: 'embed0', dims: [1, 5, 7] }] }));
  assert.equal((await loadModel(odd, { providers: ['cpu'] })).embedding, undefined);
});

test('embedding metadata that disagrees with the output: DRIFTLINE_ERR_MODEL_EMBEDDING', async () => {
  const meta = (o: object): Record<string, string> => ({ names: "{0: 'a', 1: 'b'}", embedding: JSON.stringify(o) });
  const model = (name: string, o: object, dims = [1, 5, 10]): Promise<string> => write(name, constantModel({ outputDims: [1, 6, 10], metadata: meta(o), extraOutputs: [{ name: 'embed0', dims }] }));
  await rejectsWith(await model('dim.onnx', { output: 'embed0', dim: 64, anchors: 10 }), 'DRIFTLINE_ERR_MODEL_EMBEDDING', /D = 5, the metadata says dim 64/);
  await rejectsWith(await model('anchors.onnx', { output: 'embed0', dim: 5 }, [1, 5, 7]), 'DRIFTLINE_ERR_MODEL_EMBEDDING', /7 anchors, output0 has 10/);
  await rejectsWith(await model('meta-anchors.onnx', { output: 'embed0', dim: 5, anchors: 12 }), 'DRIFTLINE_ERR_MODEL_EMBEDDING', /the metadata says 12/);
  await rejectsWith(await model('name.onnx', { output: 'feats', dim: 5 }), 'DRIFTLINE_ERR_MODEL_EMBEDDING', /outputs are output0, embed0/);
  await rejectsWith(await model('rank.onnx', { dim: 5 }, [5, 10]), 'DRIFTLINE_ERR_MODEL_EMBEDDING', /not \[1, D, anchors\]/);
  await rejectsWith(await model('bad-dim.onnx', { dim: 'many' }), 'DRIFTLINE_ERR_MODEL_EMBEDDING', /dim is "many"/);
  const notJson = await write('not-json.onnx', constantModel({ outputDims: [1, 6, 10], metadata: { embedding: '{dim: 5' }, extraOutputs: [{ name: 'embed0', dims: [1, 5, 10] }] }));
  await rejectsWith(notJson, 'DRIFTLINE_ERR_MODEL_EMBEDDING', /not JSON/);
});
