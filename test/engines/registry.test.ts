import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, EngineError } from '../../src/core/errors.ts';
import { createEngineRegistry } from '../../src/consumers/engines/registry.ts';
import type { EngineName } from '../../src/core/types.ts';

test('registry serves only the engines it was started with', async () => {
  const reg = createEngineRegistry(['onnx', 'comfyui', 'onnx']);
  try {
    assert.deepEqual(reg.names(), ['onnx', 'comfyui']);
    assert.equal(reg.get('onnx').name, 'onnx');
    assert.equal(reg.get('onnx'), reg.get('onnx'), 'one instance per engine');
    assert.equal(reg.get('comfyui').name, 'comfyui');
    assert.throws(() => reg.get('wgp'), (e: Error) => e instanceof EngineError && /engine "wgp" is not served by this worker \(it serves onnx, comfyui\)/.test(e.message));
  } finally {
    await reg.close();
  }
  assert.throws(() => createEngineRegistry([]), ConfigError);
  assert.throws(() => createEngineRegistry(['cuda' as EngineName]), /unknown engine "cuda"/);
});
