import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { compileWat, GENERATED, MODULES, renderModule, WAT } from '../../scripts/build-wasm.js';

test('agent/ood/quadform-wasm.ts is what npm run build:wasm makes of quadform.wat today', async () => {
  const bytes = await compileWat('quadform.wat', readFileSync(WAT, 'utf8'));
  assert.equal(readFileSync(GENERATED, 'utf8'), renderModule(bytes), 'quadform.wat changed: run npm run build:wasm and commit the result');
});

test('every kernel\'s generated module (agent/preprocess/bilinear-wasm.ts too) is what npm run build:wasm makes of its .wat today', async () => {
  for (const m of MODULES) {
    const bytes = await compileWat(m.source.slice(m.source.lastIndexOf('/') + 1), readFileSync(m.wat, 'utf8'));
    assert.equal(readFileSync(m.generated, 'utf8'), renderModule(bytes, m), `${m.source} changed: run npm run build:wasm and commit the result`);
  }
});

test('a .wat with an error fails the build with wabt\'s message, not a broken module', async () => {
  await assert.rejects(compileWat('bad.wat', '(module (func (result i32) (f32.const 1)))'), /type mismatch/);
});
