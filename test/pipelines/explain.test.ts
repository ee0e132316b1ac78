/**
 * explain: the forward frames equal addNoise with the same noise, with SNR and sigma from abar;
 * the reverse trajectory ends at generate()'s images and shows sigma-space samplers VP-scaled;
 * the loss per timestep of a zero-output model is its closed form (x_0-prediction: mean x_0^2,
 * exactly; epsilon: E[eps^2] = 1 within sampling error); the figures decode at their sizes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { forwardFrames, reverseTrajectory, lossPerTimestep, writeForwardFigure, writeTrajectoryFigure, writeTrajectoryGif, writeLossChart, writeComparisonFigure } from '../../src/pipelines/explain.js';
import { generate } from '../../src/pipelines/generate.js';
import { addNoise } from '../../src/diffusion/forward.js';
import { DDPMScheduler } from '../../src/schedulers/index.js';
import { UNet2DModel, configFromJSON } from '../../src/nn/unet_2d.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { useBackend } from '../../src/backend/backend.js';
import { ArgumentError, ShapeError } from '../../src/tensor/errors.js';
import { TINY_UNET, TinyFashion } from '../train/fixtures.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

useBackend('reference');
const model = new UNet2DModel(configFromJSON(TINY_UNET)).eval();
const CONFIG = { num_train_timesteps: 100, beta_schedule: 'linear' };
const image = new Tensor(Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 0.3) * 0.8), [8, 8, 1]);

describe('explain', () => {
  let root = '';
  before(() => (root = mkdtempSync(join(tmpdir(), 'diffuse-explain-'))));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('forward frames are addNoise of the image at each t with one shared noise; SNR and sigma from abar', async () => {
    const ts = [0, 10, 50, 99];
    const noise = new Generator(3).normal([8, 8, 1]);
    const f = forwardFrames({ image, timesteps: ts, schedulerConfig: CONFIG, noise });
    const acp = new DDPMScheduler(CONFIG).alphasCumprod;
    assert.deepEqual(f.frames.shape, [4, 8, 8, 1]);
    for (const [k, t] of ts.entries()) {
      const want = addNoise(acp, new Tensor(hostBuffer(image), [1, 8, 8, 1]), new Tensor(hostBuffer(noise), [1, 8, 8, 1]), t);
      assert.deepEqual(Array.from(hostBuffer(f.frames).subarray(k * 64, (k + 1) * 64)), Array.from(hostBuffer(want)), `t = ${t}`);
      assert.equal(f.alphaBar[k], acp[t]);
      assert.equal(f.snr[k], acp[t]! / (1 - acp[t]!));
      assert.ok(Math.abs(f.sigma[k]! - 1 / Math.sqrt(f.snr[k]!)) < 1e-12);
    }
    // A seed draws the same noise as a generator of that seed.
    const bySeed = forwardFrames({ image, timesteps: ts, schedulerConfig: CONFIG, seed: 3 });
    assert.deepEqual(Array.from(hostBuffer(bySeed.frames)), Array.from(hostBuffer(f.frames)));
    await writeForwardFigure(join(root, 'forward.png'), f);
    const meta = await sharp(join(root, 'forward.png')).metadata();
    assert.equal(meta.format, 'png');
    assert.ok(meta.width! > 4 * 24 && meta.height! > 24);
    assert.throws(() => forwardFrames({ image, timesteps: [100], schedulerConfig: CONFIG }), /timestep 100 is not an integer in \[0, 100\)/);
    assert.throws(() => forwardFrames({ image, timesteps: [] }), ArgumentError);
    assert.throws(() => forwardFrames({ image: new Tensor(new Float32Array(128), [2, 8, 8, 1]), timesteps: [1] }), ShapeError);
  });

  it("the trajectory ends at generate()'s images; sampler frames are on the data's scale", async () => {
    const tr = reverseTrajectory({ model, schedulerConfig: CONFIG, scheduler: 'ddim', steps: 4, frames: 3, n: 2, classLabels: [0, 2], seed: 1 });
    const g = generate({ model, schedulerConfig: CONFIG, scheduler: 'ddim', steps: 4, n: 2, classLabels: [0, 2], seed: 1 });
    assert.deepEqual(Array.from(hostBuffer(tr.images)), Array.from(hostBuffer(g.images)));
    assert.deepEqual(tr.stepIndex, [0, 2, 4]);
    assert.equal(tr.timesteps.at(-1), -1);
    // Euler: x_T = sqrt(sigma_max^2 + 1) n is shown divided by that, i.e. the unit-variance draw.
    const eu = reverseTrajectory({ model, schedulerConfig: CONFIG, scheduler: 'euler', steps: 4, frames: 2, seed: 5 });
    const xT = hostBuffer(eu.xt[0]!);
    const n = hostBuffer(new Generator(5).normal([1, 8, 8, 1]));
    for (let i = 0; i < 64; i++) assert.ok(Math.abs(xT[i]! - n[i]!) < 1e-5, `pixel ${i}: ${xT[i]} vs ${n[i]}`);
    await writeTrajectoryFigure(join(root, 'traj.png'), tr);
    await writeTrajectoryGif(join(root, 'traj.gif'), tr, { delayMs: 50, scale: 2 });
    const gif = await sharp(join(root, 'traj.gif'), { animated: true }).metadata();
    // Frames: 2 images stacked (8 * 2 each, 4 px gap), x_t | 4 px | x_0.
    assert.deepEqual([gif.pages, gif.pageHeight, gif.width], [3, 2 * 16 + 4, 2 * 16 + 4]);
    assert.deepEqual(gif.delay, [50, 50, 1000]);
    await writeComparisonFigure(join(root, 'cmp.png'), 'compare', [[{ image, caption: 'input' }, { image: tr.images, caption: 'output' }]]);
    assert.equal((await sharp(join(root, 'cmp.png')).metadata()).format, 'png');
  });

  it('loss per timestep of a zero-output model is the closed form', async () => {
    const zero = new UNet2DModel(configFromJSON(TINY_UNET)).eval();
    hostBuffer(zero.conv_out.weight).fill(0);
    hostBuffer(zero.conv_out.bias!).fill(0);
    const dataset = new TinyFashion(12);
    // x_0-prediction: the loss is mean(x_0^2) over the images, whatever t and the noise.
    const sample = lossPerTimestep({ model: zero, schedulerConfig: { ...CONFIG, prediction_type: 'sample' }, dataset, bins: 4, imagesPerBin: 6, batchSize: 4 });
    let want = 0;
    for (const i of [0, 2, 4, 6, 8, 10]) want += dataset.get(i).image.reduce((a, v) => a + v * v, 0) / 64;
    want /= 6;
    assert.deepEqual(sample.binStart, [0, 25, 50, 75]);
    assert.deepEqual(sample.binEnd, [25, 50, 75, 100]);
    for (const l of sample.loss) assert.ok(Math.abs(l - want) < 1e-6, `${l} vs ${want}`);
    // epsilon: E[eps^2] = 1; 12 images x 64 values per bin.
    let ticks = 0;
    const eps = lossPerTimestep({ model: zero, schedulerConfig: CONFIG, dataset, bins: 2, imagesPerBin: 12, batchSize: 5, seed: 4, onProgress: () => ticks++ });
    assert.equal(ticks, 2 * 3);
    for (const l of eps.loss) assert.ok(Math.abs(l - 1) < 4 * Math.SQRT2 / Math.sqrt(12 * 64), `eps loss ${l}`);
    assert.equal(eps.predictionType, 'epsilon');
    await writeLossChart(join(root, 'loss.png'), eps);
    assert.equal((await sharp(join(root, 'loss.png')).metadata()).format, 'png');
    assert.throws(() => lossPerTimestep({ model, schedulerConfig: CONFIG, dataset, bins: 0 }), /'bins' must be an integer in \[1, 100\]/);
    assert.throws(() => lossPerTimestep({ model, schedulerConfig: CONFIG, dataset: {} as never }), /'dataset' must be a Dataset/);
  });
});
