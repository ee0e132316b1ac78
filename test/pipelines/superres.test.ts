/**
 * Tests of SR3 upscaling: the model sees [x_t, bicubic(lr)] at every step (upscale equals
 * generate with that conditioning, on a scheduler and on a sampler; another input changes the
 * output), output size = scale x input size, loadSuperresModel reads superres.json of an
 * exported run and refuses a generation model, and shape errors come before any work.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { upscale, loadSuperresModel, evaluateUpscale } from '../../src/pipelines/superres.js';
import { generate } from '../../src/pipelines/generate.js';
import { bicubicResize } from '../../src/data/resample.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { writeSchedulerConfig } from '../../src/io/checkpoint.js';
import { ShapeError } from '../../src/tensor/errors.js';
import { RunFolderError } from '../../src/io/model_folder.js';
import { randTensor } from '../helpers/data.js';
import { tempDir } from '../train/fixtures.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const SR: Partial<UNet2DConfig> = {
  sampleSize: 8, inChannels: 2, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4,
};
const SCHED = { num_train_timesteps: 50 };

describe('upscale', () => {
  const model = new UNet2DModel(SR).eval();

  it('runs the reverse process on [x_t, bicubic(lr)]: equal to generate with that conditioning, for a scheduler and a sampler', () => {
    const lr = randTensor([3, 4, 4, 1], 1);
    for (const scheduler of ['ddim', 'dpmpp_2m'] as const) {
      const r = upscale({ model, image: lr, scale: 2, scheduler, schedulerConfig: SCHED, steps: 3, seed: 4 });
      assert.deepEqual(r.images.shape, [3, 8, 8, 1]);
      assert.deepEqual(Array.from(hostBuffer(r.bicubic)), Array.from(hostBuffer(bicubicResize(lr, 8, 8))));
      const ref = generate({ model, scheduler, schedulerConfig: SCHED, steps: 3, seed: 4, n: 3, conditioning: bicubicResize(lr, 8, 8) });
      assert.deepEqual(Array.from(hostBuffer(r.images)), Array.from(hostBuffer(ref.images)), scheduler);
      // Another low-resolution input gives other images (the conditioning reaches the model).
      const other = upscale({ model, image: randTensor([3, 4, 4, 1], 2), scale: 2, scheduler, schedulerConfig: SCHED, steps: 3, seed: 4 });
      assert.notDeepEqual(Array.from(hostBuffer(other.images)), Array.from(hostBuffer(r.images)));
    }
    // One (h, w, C) image works too; per-image noise streams make it equal to image 0 of the batch.
    const one = upscale({ model, image: randTensor([4, 4, 1], 1), scale: 2, scheduler: 'ddim', schedulerConfig: SCHED, steps: 3, seed: 4 });
    assert.deepEqual(one.images.shape, [1, 8, 8, 1]);
  });

  it('refuses inputs of the wrong size or channels and generation models, before any work', () => {
    assert.throws(() => upscale({ model, image: randTensor([1, 5, 5, 1], 1), scale: 2, scheduler: 'ddim', steps: 2, seed: 0 }), (e: unknown) => e instanceof ShapeError && /makes 8x8 images from 4x4 inputs \(scale 2\), but the input is 5x5/.test(e.message));
    assert.throws(() => upscale({ model, image: randTensor([1, 4, 4, 3], 1), scale: 2, scheduler: 'ddim', steps: 2, seed: 0 }), /the image has 3 channel\(s\), so an SR3 model needs in_channels 6 and out_channels 3; this model has 2 and 1/);
    const gen = new UNet2DModel({ ...SR, inChannels: 1 });
    assert.throws(() => upscale({ model: gen, image: randTensor([1, 4, 4, 1], 1), scale: 2, scheduler: 'ddim', steps: 2, seed: 0 }), /a generation model, not a super-resolution one/);
    assert.throws(() => upscale({ model, image: randTensor([1, 4, 4, 1], 1), scale: 1, scheduler: 'ddim', steps: 2, seed: 0 }), /'scale' must be an integer >= 2, found 1/);
  });

  it('loadSuperresModel reads superres.json of a pipeline folder and refuses a generation model', () => {
    const dir = tempDir('sr-load');
    try {
      const sr = join(dir, 'sr');
      model.savePretrained(join(sr, 'unet'));
      writeSchedulerConfig(join(sr, 'scheduler'), { _class_name: 'DDPMScheduler', ...SCHED });
      writeFileSync(join(sr, 'superres.json'), JSON.stringify({ task: 'superres', scale: 2, downsample: 'area', upsample: 'bicubic' }));
      const loaded = loadSuperresModel(sr);
      assert.equal(loaded.scale, 2);
      assert.equal(loaded.schedulerConfig['num_train_timesteps'], 50);
      const gen = join(dir, 'gen');
      mkdirSync(gen);
      new UNet2DModel({ ...SR, inChannels: 1 }).savePretrained(join(gen, 'unet'));
      assert.throws(() => loadSuperresModel(gen), (e: unknown) => e instanceof RunFolderError && /is not a super-resolution model: found no superres.json/.test(e.message));
      // evaluateUpscale: SR3 and bicubic scored against the originals (SSIM needs at least 11x11).
      const hr = randTensor([2, 16, 16, 1], 5);
      const e = evaluateUpscale({ model: new UNet2DModel({ ...SR, sampleSize: 16 }).eval(), scale: 4, hr, scheduler: 'ddim', schedulerConfig: SCHED, steps: 2, seed: 0 });
      assert.equal(e.sr.psnr.length, 2);
      assert.deepEqual(e.lowRes.shape, [2, 4, 4, 1]);
      assert.ok([...e.sr.psnr, ...e.sr.ssim, ...e.bicubic.psnr, ...e.bicubic.ssim].every(Number.isFinite));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
