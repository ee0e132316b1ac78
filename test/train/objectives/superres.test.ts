/**
 * Tests of SR3's training objective: the U-Net's channels (2C in, C out), draws identical to
 * DDPM's (same generator stream) plus the deterministic low-resolution conditioning, the loss
 * recomputed by hand, the config fields and CLI flags, and a tiny end-to-end run whose exported
 * pipeline records task and scale (superres.json).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { superresObjective, SUPERRES_FILE } from '../../../src/train/objectives/superres.js';
import { ddpmObjective } from '../../../src/train/objective.js';
import { objectiveFor } from '../../../src/train/objectives/index.js';
import { resolveTrainConfig, trainConfigToJSON, trainConfigFromJSON } from '../../../src/train/config.js';
import { parseTrainArgs } from '../../../src/cli/commands/train.js';
import { train } from '../../../src/train/trainer.js';
import { degrade } from '../../../src/data/resample.js';
import { addNoise } from '../../../src/diffusion/forward.js';
import { DDPMScheduler } from '../../../src/schedulers/ddpm.js';
import { UNet2DModel, configFromJSON } from '../../../src/nn/unet_2d.js';
import { concat } from '../../../src/ops/concat.js';
import { mseLoss } from '../../../src/ops/loss.js';
import { Generator } from '../../../src/tensor/random.js';
import { ArgumentError } from '../../../src/tensor/errors.js';
import { randTensor } from '../../helpers/data.js';
import { TINY_UNET, TinyFashion, tempDir } from '../fixtures.js';
import { hostBuffer } from '../../../src/tensor/tensor.js';

/** TINY_UNET as an unconditional super-resolution U-Net for 8x8x1 images. */
const TINY_SR_UNET = { ...TINY_UNET, in_channels: 2, num_class_embeds: null, dropout: 0 };

describe('superres objective', () => {
  const cfg = resolveTrainConfig({ data: 'd', out: 'o', task: 'superres', scale: 2 });

  it('asks for 2C input and C output channels, and draws what DDPM draws plus the conditioning', () => {
    const obj = superresObjective(cfg);
    assert.deepEqual(obj.modelChannels(1), { in: 2, out: 1 });
    assert.deepEqual(obj.modelChannels(3), { in: 6, out: 3 });
    const x0 = randTensor([3, 8, 8, 1], 1);
    const d = obj.draw(x0, new Generator(5));
    const ref = ddpmObjective(cfg).draw(x0, new Generator(5));
    assert.deepEqual(Array.from(d.timesteps), Array.from(ref.timesteps));
    assert.deepEqual(Array.from(hostBuffer(d.noise)), Array.from(hostBuffer(ref.noise)));
    assert.deepEqual(Array.from(hostBuffer(d.cond)), Array.from(hostBuffer(degrade(x0, 2).up)));
    assert.equal(objectiveFor(cfg).modelChannels(1).in, 2);
    assert.equal(objectiveFor(resolveTrainConfig({ data: 'd', out: 'o' })).modelChannels(1).in, 1);
    assert.deepEqual(obj.pipelineFiles?.(), { [SUPERRES_FILE]: { task: 'superres', scale: 2, downsample: 'area', upsample: 'bicubic' } });
  });

  it('its loss is the MSE of the U-Net on [x_t, bicubic(lr)] against the noise', () => {
    const obj = superresObjective(cfg);
    const model = new UNet2DModel(configFromJSON(TINY_SR_UNET));
    const x0 = randTensor([2, 8, 8, 1], 2);
    const d = obj.draw(x0, new Generator(3));
    const loss = obj.loss(model, d, null).item();
    const acp = new DDPMScheduler({ num_train_timesteps: 1000 }).alphasCumprod;
    const xt = addNoise(acp, x0, d.noise, d.timesteps);
    const ref = mseLoss(model.forward(concat([xt, degrade(x0, 2).up], -1), Float32Array.from(d.timesteps)), d.noise).item();
    assert.ok(Math.abs(loss - ref) < 1e-6 * Math.abs(ref), `${loss} vs ${ref}`);
    assert.throws(() => superresObjective({ ...cfg, scale: 3 }).draw(x0, new Generator(0)), (e: unknown) => e instanceof ArgumentError && /--scale 3 needs an image size divisible by 3, found 8x8/.test(e.message));
  });

  it('task and scale: defaults, validation, JSON round trip, CLI flags', () => {
    const d = resolveTrainConfig({ data: 'd', out: 'o' });
    assert.equal(d.task, 'generate');
    assert.equal(d.scale, 2);
    assert.deepEqual(trainConfigFromJSON(JSON.parse(JSON.stringify(trainConfigToJSON({ ...cfg, scale: 4 })))), { ...cfg, scale: 4 });
    assert.throws(() => resolveTrainConfig({ data: 'd', out: 'o', task: 'sr' as never }), /'task' must be one of generate, superres, found "sr"/);
    assert.throws(() => resolveTrainConfig({ data: 'd', out: 'o', scale: 1 }), /'scale' must be an integer >= 2, found 1/);
    const o = parseTrainArgs(['--data', 'fashion-mnist', '--out', 'r', '--task', 'superres', '--scale', '4']);
    assert.equal(o.task, 'superres');
    assert.equal(o.scale, 4);
    assert.throws(() => parseTrainArgs(['--data', 'fashion-mnist', '--out', 'r', '--scale', '4']), /--scale applies to --task superres only/);
    assert.throws(() => parseTrainArgs(['--data', 'fashion-mnist', '--out', 'r', '--task', 'upscale']), /--task must be one of generate, superres, found 'upscale'/);
  });

  it('trains end to end on tiny data and exports superres.json; a U-Net with the wrong channels is refused first', async () => {
    const data = new TinyFashion(12);
    const out = tempDir('superres');
    try {
      const bad = train({ data: 'tiny', out: join(out, 'bad'), unet: TINY_UNET, task: 'superres', steps: 2, batchSize: 4, dataset: data });
      await assert.rejects(bad, /this objective needs a U-Net with in_channels 2 and out_channels 1; found 1 and 1/);
      const r = await train({ data: 'tiny', out: join(out, 'ok'), unet: TINY_SR_UNET, task: 'superres', scale: 2, steps: 3, batchSize: 4, dataset: data });
      assert.equal(r.step, 3);
      assert.deepEqual(JSON.parse(readFileSync(join(r.modelDir!, SUPERRES_FILE), 'utf8')), { task: 'superres', scale: 2, downsample: 'area', upsample: 'bicubic' });
      assert.equal(UNet2DModel.fromPretrained(join(r.modelDir!, 'unet')).config.inChannels, 2);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
