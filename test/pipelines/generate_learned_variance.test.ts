/**
 * generate() with a learned-variance model (out_channels = 2C): DDPMScheduler learned_range uses
 * both halves; every other scheduler and every sampler must see only the prediction. Oracle: a
 * C-output twin whose conv_out is the first C output channels of the 2C model's gives exactly the
 * same images for ddim and for the euler sampler; DDPM learned_range differs from the twin's
 * fixed_small run only through the variance (same first step mean, so it stays finite and close).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { UNet2DModel, resolveConfig, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { generate } from '../../src/pipelines/generate.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const CONFIG: Partial<UNet2DConfig> = { sampleSize: 8, inChannels: 1, blockOutChannels: [8, 16], downBlockTypes: ['DownBlock2D', 'DownBlock2D'], upBlockTypes: ['UpBlock2D', 'UpBlock2D'], layersPerBlock: 1, normNumGroups: 4 };

function models(): { two: UNet2DModel; one: UNet2DModel } {
  const two = new UNet2DModel(resolveConfig({ ...CONFIG, outChannels: 2 }), { gen: new Generator(1) });
  const one = new UNet2DModel(resolveConfig({ ...CONFIG, outChannels: 1 }), { gen: new Generator(1) });
  const state = two.stateDict();
  const w = state.get('conv_out.weight')!; // (O = 2, 3, 3, I) in memory
  const per = w.size / 2;
  state.set('conv_out.weight', new Tensor(Float32Array.from(hostBuffer(w).subarray(0, per)), [1, ...w.shape.slice(1)]));
  state.set('conv_out.bias', new Tensor(Float32Array.from(hostBuffer(state.get('conv_out.bias')!).subarray(0, 1)), [1]));
  one.loadStateDict(state, { strict: true });
  return { two, one };
}

describe('generate with a learned-variance model (2C outputs)', () => {
  const { two, one } = models();
  const cfg = { num_train_timesteps: 50, clip_sample: false };
  for (const scheduler of ['ddim', 'euler']) {
    it(`${scheduler}: only the prediction channels are used (equal to the C-output twin)`, () => {
      const a = generate({ model: two, scheduler, schedulerConfig: cfg, n: 2, steps: 4, seed: 3 });
      const b = generate({ model: one, scheduler, schedulerConfig: cfg, n: 2, steps: 4, seed: 3 });
      assert.deepEqual(a.images.shape, [2, 8, 8, 1]);
      assert.deepEqual(Array.from(hostBuffer(a.images)), Array.from(hostBuffer(b.images)));
    });
  }
  it('ddpm learned_range: the scheduler gets all 2C channels and samples finite images', () => {
    const r = generate({ model: two, scheduler: 'ddpm', schedulerConfig: { ...cfg, variance_type: 'learned_range' }, n: 2, steps: 5, seed: 3 });
    assert.deepEqual(r.images.shape, [2, 8, 8, 1]);
    assert.ok(hostBuffer(r.images).every(Number.isFinite));
    // With fixed_small it is the twin's run (the variance channels dropped).
    const fixed = generate({ model: two, scheduler: 'ddpm', schedulerConfig: cfg, n: 2, steps: 5, seed: 3 });
    const twin = generate({ model: one, scheduler: 'ddpm', schedulerConfig: cfg, n: 2, steps: 5, seed: 3 });
    assert.deepEqual(Array.from(hostBuffer(fixed.images)), Array.from(hostBuffer(twin.images)));
    assert.notDeepEqual(Array.from(hostBuffer(r.images)), Array.from(hostBuffer(fixed.images)));
  });
});
