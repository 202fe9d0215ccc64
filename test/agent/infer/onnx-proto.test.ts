import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseImgsz, parseNames, readOnnxHeader } from '../../../agent/infer/onnx-proto.js';
import { constantModel } from '../../helpers/onnx-writer.js';

test('reads metadata props, IR version and opsets', () => {
  const m = constantModel({ outputDims: [1, 6, 10], metadata: { names: "{0: 'a', 1: 'b'}", imgsz: '[64, 64]', stride: '32' } });
  const h = readOnnxHeader(m);
  assert.equal(h.irVersion, 7);
  assert.equal(h.producer, 'driftline-test');
  assert.deepEqual(h.opsets, [{ domain: '', version: 13 }]);
  assert.deepEqual(h.metadata, { names: "{0: 'a', 1: 'b'}", imgsz: '[64, 64]', stride: '32' });
});

test('rejects what is not an ONNX ModelProto with a reason', () => {
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(0), /empty/],
    [new TextEncoder().encode('{"name": "driftline"}'), /wire type|ir_version|graph|past the end/],
    [Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]), /wire type|past the end|truncated/],
    [constantModel({ outputDims: [1, 6, 10] }).subarray(0, 40), /past the end|truncated|graph/],
  ];
  for (const [buf, re] of cases) assert.throws(() => readOnnxHeader(buf), re);
});

test('parses Ultralytics names in Python-dict, JSON-object and JSON-array form', () => {
  assert.deepEqual(parseNames("{0: 'person', 1: 'bicycle', 2: \"traffic light\"}"), ['person', 'bicycle', 'traffic light']);
  assert.deepEqual(parseNames("{0: 'it\\'s'}"), ["it's"]);
  assert.deepEqual(parseNames('{"0": "a", "1": "b"}'), ['a', 'b']);
  assert.deepEqual(parseNames('["a", "b"]'), ['a', 'b']);
  assert.equal(parseNames(undefined), undefined);
  assert.equal(parseNames('garbage'), undefined);
  assert.equal(parseNames("{0: 'a', 2: 'c'}"), undefined, 'a gap in the indices is not a class list');
});

test('parses imgsz as [h, w]', () => {
  assert.deepEqual(parseImgsz('[192, 256]'), [192, 256]);
  assert.deepEqual(parseImgsz('640'), [640, 640]);
  assert.equal(parseImgsz('[1, 2, 3]'), undefined);
  assert.equal(parseImgsz(undefined), undefined);
});
