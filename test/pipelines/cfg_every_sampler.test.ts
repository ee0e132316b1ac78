/**
 * Classifier-free guidance with every sampler and every scheduler generate() accepts (Ho &
 * Salimans 2022, eq. 6): closed forms on the batched 2N forward, bitwise on the reference
 * backend: w = 0 is the null-class (unconditional) run, w = 1 is the conditional run, and any
 * other w differs from both; guidance on an unconditional model and a class out of range are
 * errors before any model call, whatever the sampler.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from '../../src/pipelines/generate.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { SCHEDULER_CLASSES } from '../../src/schedulers/index.js';
import { SAMPLERS } from '../../src/samplers/index.js';
import { useBackend } from '../../src/backend/backend.js';
import { ArgumentError } from '../../src/tensor/errors.js';

useBackend('reference');
const COND: Partial<UNet2DConfig> = {
  sampleSize: 8, inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'DownBlock2D'], upBlockTypes: ['UpBlock2D', 'UpBlock2D'], numClassEmbeds: 3,
};
const cond = new UNet2DModel(COND).eval();
const uncond = new UNet2DModel({ ...COND, numClassEmbeds: null }).eval();
const CONFIG = { num_train_timesteps: 100, beta_schedule: 'linear' };
const NAMES = [...Object.keys(SCHEDULER_CLASSES), ...Object.keys(SAMPLERS)];

describe('classifier-free guidance with every sampler and scheduler', () => {
  it('w = 0 is the null-class run, w = 1 the conditional run, w = 3 neither (bitwise)', () => {
    for (const scheduler of NAMES) {
      const o = { model: cond, scheduler, schedulerConfig: CONFIG, n: 2, steps: 4, seed: 6 } as const;
      const data = (r: { images: { toArray(): Float32Array } }) => Array.from(r.images.toArray());
      const w0 = data(generate({ ...o, classLabels: [0, 1], guidanceScale: 0 }));
      assert.deepEqual(w0, data(generate({ ...o, classLabels: [2, 2] })), `${scheduler}: w = 0`);
      const w1 = data(generate({ ...o, classLabels: [0, 1], guidanceScale: 1 }));
      assert.deepEqual(w1, data(generate({ ...o, classLabels: [0, 1] })), `${scheduler}: w = 1`);
      const w3 = data(generate({ ...o, classLabels: [0, 1], guidanceScale: 3 }));
      assert.ok(w3.some((v, i) => v !== w1[i]) && w3.some((v, i) => v !== w0[i]), `${scheduler}: w = 3 differs`);
      assert.ok(w3.every((v) => Number.isFinite(v)), `${scheduler}: finite`);
    }
  });

  it('guidance on an unconditional model and a class out of range fail before any model call', () => {
    let calls = 0;
    for (const scheduler of NAMES) {
      const o = { scheduler, schedulerConfig: CONFIG, n: 1, steps: 4, seed: 0, onStep: () => calls++ } as const;
      assert.throws(() => generate({ ...o, model: uncond, guidanceScale: 2 }), (e: Error) => e instanceof ArgumentError && /guidanceScale 2 needs a class-conditional model.*unconditional/.test(e.message), scheduler);
      assert.throws(() => generate({ ...o, model: cond, classLabels: 2, guidanceScale: 2 }), (e: Error) => e instanceof ArgumentError && /class label is 2, expected an integer in \[0, 1\]/.test(e.message), scheduler);
      assert.throws(() => generate({ ...o, model: cond, classLabels: 3 }), (e: Error) => e instanceof ArgumentError && /class label is 3, expected an integer in \[0, 2\]/.test(e.message), scheduler);
    }
    assert.equal(calls, 0);
  });
});
