import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as diffuse from '../src/index.js';

describe('package root', () => {
  it('exports tensor(data, shape) whose tensors have shape and toArray()', () => {
    const t = diffuse.tensor([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
    assert.deepEqual(t.shape, [1, 2, 3, 1]);
    assert.ok(t.toArray() instanceof Float32Array);
  });
  it('exports the engine: ops, autograd, generator, optimizers, backends', () => {
    for (const name of [
      'conv2d', 'matmul', 'linear', 'add', 'sub', 'mul', 'div', 'mulScalar', 'silu', 'exp', 'log', 'sqrt', 'square', 'sin', 'cos',
      'tanh', 'sigmoid', 'groupNorm', 'groupNormSilu', 'layerNorm', 'softmax', 'scaledDotProductAttention', 'upsampleNearest2x',
      'concat', 'split', 'reshape', 'permute', 'transpose', 'sum', 'mean', 'mseLoss', 'embedding', 'sliceBatch', 'where',
      'noGrad', 'Generator', 'AdamW', 'EMA', 'withBackend', 'engineInfo',
      'UNet2DModel', 'DDPMScheduler', 'DDIMScheduler', 'schedulerFromConfig', 'addNoise', 'makeBetas', 'loadDataset', 'batches',
      'readSafetensors', 'writePngGrid', 'train', 'generate', 'resolveModelDir', 'dpmpp2m', 'karrasSigmas', 'EulerDiscreteScheduler', 'UniPCMultistepScheduler',
    ]) {
      assert.equal(typeof (diffuse as Record<string, unknown>)[name], 'function', name);
    }
  });
});
