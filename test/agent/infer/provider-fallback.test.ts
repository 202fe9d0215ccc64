import assert from 'node:assert/strict';
import { test } from 'node:test';
import { providerFallback } from '../../../agent/infer/provider-fallback.js';

test('no fallback on the CPU where nothing better was required or ever ran: an x86 box is as it should be', () => {
  assert.deepEqual(providerFallback('cpu', ['cpu'], '', undefined), { fallback: undefined, remember: 'cpu' });
  assert.deepEqual(providerFallback('cpu', ['tensorrt', 'cuda', 'cpu'], '', undefined), { fallback: undefined, remember: 'cpu' }, 'an explicit list alone is no requirement');
  assert.deepEqual(providerFallback('cpu', ['cuda', 'cpu'], '', 'cpu'), { fallback: undefined, remember: 'cpu' });
});

test('a required provider not in use is a fallback, whatever ran before', () => {
  assert.deepEqual(providerFallback('cpu', ['cuda', 'cpu'], 'cuda', undefined), { fallback: { from: 'cuda', reason: 'required' }, remember: 'cpu' });
  assert.deepEqual(providerFallback('cuda', ['tensorrt', 'cuda', 'cpu'], 'tensorrt', 'cuda').fallback, { from: 'tensorrt', reason: 'required' });
  assert.equal(providerFallback('tensorrt', ['tensorrt', 'cpu'], 'tensorrt', undefined).fallback, undefined);
});

test('a provider this device ran on before, still tried and now failing, is a fallback; the memory keeps the better one', () => {
  assert.deepEqual(providerFallback('cpu', ['tensorrt', 'cuda', 'cpu'], '', 'cuda'), { fallback: { from: 'cuda', reason: 'degraded' }, remember: 'cuda' });
  assert.deepEqual(providerFallback('cuda', ['tensorrt', 'cuda', 'cpu'], '', 'tensorrt'), { fallback: { from: 'tensorrt', reason: 'degraded' }, remember: 'tensorrt' });
  // Better than before: remembered from now on.
  assert.deepEqual(providerFallback('tensorrt', ['tensorrt', 'cuda', 'cpu'], '', 'cuda'), { fallback: undefined, remember: 'tensorrt' });
  // An accelerator removed on purpose: a list without it, and the memory follows.
  assert.deepEqual(providerFallback('cpu', ['cpu'], '', 'cuda'), { fallback: undefined, remember: 'cpu' });
});
