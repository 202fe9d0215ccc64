import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SHRINK_WASM_BASE64 } from '../../agent/preprocess/shrink-wasm.js';
import { wasmKernel } from '../../lib/wasm-kernel.js';

test('a kernel is compiled once, on first use, and shared; bytes that do not compile give null, once', () => {
  const shrink = wasmKernel(SHRINK_WASM_BASE64);
  const m = shrink();
  assert.ok(m instanceof WebAssembly.Module);
  assert.equal(shrink(), m, 'the same module every time');
  const instance = new WebAssembly.Instance(m!, { env: { memory: new WebAssembly.Memory({ initial: 1 }) } });
  assert.equal(typeof instance.exports.shrink, 'function');
  const broken = wasmKernel(Buffer.from('not a WebAssembly module').toString('base64'));
  assert.equal(broken(), null);
  assert.equal(broken(), null);
});
