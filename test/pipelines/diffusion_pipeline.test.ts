/**
 * DiffusionPipeline: fromPretrained by a bundled model's name and by path (the same model), the
 * folder's sampling_config.json applied for what a call leaves out (the settings used equal the
 * file's, and the images equal the sync generate run with the file's values), a call's own
 * settings winning, class labels by name, toPng/save round trips, upscale on the bundled SR3
 * model, and the bundled model paths and UNet2DModel.fromPretrained on a pipeline folder.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiffusionPipeline } from '../../src/pipelines/diffusion_pipeline.js';
import { generate } from '../../src/pipelines/generate.js';
import { upscale, loadSuperresModel } from '../../src/pipelines/superres.js';
import { bundledModels, bundledModelPath, BUNDLED_MODEL_NAMES } from '../../src/io/bundled_models.js';
import { packageRoot } from '../../src/io/package_root.js';
import { UNet2DModel, type UNet2DConfig } from '../../src/nn/unet_2d.js';
import { writeSchedulerConfig } from '../../src/io/checkpoint.js';
import { decodeImage, readPng } from '../../src/io/png.js';
import { zeros } from '../../src/tensor/create.js';
import { ArgumentError, DiffuseError } from '../../src/tensor/errors.js';
import { FASHION_MNIST_CLASSES } from '../../src/data/fashion_mnist.js';
import { tempDir } from '../train/fixtures.js';

const COND: Partial<UNet2DConfig> = {
  sampleSize: 8, inChannels: 1, outChannels: 1, blockOutChannels: [4, 8], layersPerBlock: 1, normNumGroups: 2,
  downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'], attentionHeadDim: 4, numClassEmbeds: 4,
};
const SCHED = { _class_name: 'DDPMScheduler', num_train_timesteps: 100, beta_schedule: 'linear' };

/** A pipeline folder of a tiny U-Net with `sampling` as its sampling_config.json and `classes` as classes.json. */
function tinyPipeline(sampling: Record<string, unknown> | null, classes: string[] | null): string {
  const dir = tempDir('pipeline');
  new UNet2DModel(COND).savePretrained(join(dir, 'unet'));
  writeSchedulerConfig(join(dir, 'scheduler'), SCHED);
  writeFileSync(join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'DDPMPipeline', unet: ['diffusers', 'UNet2DModel'], scheduler: ['diffusers', 'DDPMScheduler'] }));
  if (sampling !== null) writeFileSync(join(dir, 'sampling_config.json'), JSON.stringify(sampling));
  if (classes !== null) writeFileSync(join(dir, 'classes.json'), JSON.stringify({ class_names: classes }));
  return dir;
}

function values(t: { toArray(): Float32Array }): number[] {
  return Array.from(t.toArray());
}

describe('DiffusionPipeline', () => {
  it('loads a bundled model by name and the same model by path; the bundled paths are exported', async () => {
    assert.deepEqual([...BUNDLED_MODEL_NAMES].sort(), ['fashion-mnist', 'fashion-mnist-sr2', 'mnist']);
    for (const name of BUNDLED_MODEL_NAMES) {
      assert.equal(bundledModels[name], join(packageRoot(), 'models', name));
      assert.equal(bundledModelPath(name), bundledModels[name]);
      assert.ok(existsSync(join(bundledModels[name], 'unet', 'config.json')), name);
    }
    assert.throws(() => bundledModelPath('fashion-mnst' as never), /did you mean 'fashion-mnist'/);
    const byName = await DiffusionPipeline.fromPretrained('mnist');
    const byPath = await DiffusionPipeline.fromPretrained(bundledModels.mnist);
    assert.equal(byName.path, byPath.path);
    assert.deepEqual(byName.unet.config, byPath.unet.config);
    const [k, w] = [...byName.unet.stateDict()][0]!;
    assert.deepEqual(values(w), values(byPath.unet.stateDict().get(k)!));
    assert.deepEqual(byName.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    await assert.rejects(DiffusionPipeline.fromPretrained('no-such-model'), (e: unknown) => e instanceof ArgumentError && /no such folder, and no bundled model of that name \(the bundled models: fashion-mnist, mnist, fashion-mnist-sr2\)/.test(e.message));
    // UNet2DModel.fromPretrained takes the pipeline folder too (its unet/, as diffusers' subfolder).
    assert.deepEqual(UNet2DModel.fromPretrained(bundledModels.mnist).config, byName.unet.config);
  });

  it('applies the bundled folder\'s sampling_config.json: the settings used are the file\'s, and the images equal generate with them', async () => {
    const pipe = await DiffusionPipeline.fromPretrained('fashion-mnist');
    const file = JSON.parse(readFileSync(join(bundledModels['fashion-mnist'], 'sampling_config.json'), 'utf8')) as { guidance_scale: number; scheduler: string; num_inference_steps: number };
    const expected = { scheduler: file.scheduler, steps: file.num_inference_steps, guidance: file.guidance_scale };
    assert.deepEqual(pipe.resolveSettings({}), { ...expected, seed: null });
    const images = await pipe.generate({ n: 2, classLabels: ['Sneaker', 'ankle boot'], seed: 7 });
    assert.deepEqual(images.settings, { ...expected, seed: 7 });
    assert.deepEqual(images.classLabels, [7, 9]);
    assert.deepEqual(images.at(1).className, 'Ankle boot');
    const ref = generate({ model: pipe.unet, schedulerConfig: pipe.schedulerConfig, scheduler: file.scheduler, steps: file.num_inference_steps, guidanceScale: file.guidance_scale, n: 2, classLabels: [7, 9], seed: 7 });
    assert.deepEqual(values(images.tensor), values(ref.images));
    assert.deepEqual(pipe.classNames, FASHION_MNIST_CLASSES);
    await assert.rejects(pipe.generate({ classLabels: 'sneakers', steps: 1, seed: 0 }), /no class 'sneakers'.*7 'Sneaker'/);
    await assert.rejects(pipe.upscale({ image: zeros([14, 14, 1]) }), /is not a super-resolution model/);
  });

  it('on a folder of its own: the file\'s defaults, a call\'s settings winning (its scheduler brings its own steps), classes.json names', async () => {
    const dir = tinyPipeline({ guidance_scale: 2.5, scheduler: 'euler', num_inference_steps: 3 }, ['circle', 'square', 'triangle']);
    try {
      const pipe = await DiffusionPipeline.fromPretrained(dir);
      assert.deepEqual(pipe.resolveSettings({}), { scheduler: 'euler', steps: 3, guidance: 2.5, seed: null });
      assert.deepEqual(pipe.resolveSettings({ steps: 5, guidance: 1 }), { scheduler: 'euler', steps: 5, guidance: 1, seed: null });
      // Steps tuned for one solver say nothing about another: 'ddim' gets its usual 50.
      assert.deepEqual(pipe.resolveSettings({ scheduler: 'ddim' }), { scheduler: 'ddim', steps: 50, guidance: 2.5, seed: null });
      assert.deepEqual(pipe.classNames, ['circle', 'square', 'triangle']);
      const images = await pipe.generate({ n: 3, classLabels: ['Triangle', 0, 'square'], seed: 1 });
      const ref = generate({ model: pipe.unet, schedulerConfig: SCHED, scheduler: 'euler', steps: 3, guidanceScale: 2.5, n: 3, classLabels: [2, 0, 1], seed: 1 });
      assert.deepEqual(values(images.tensor), values(ref.images));
      // Without a seed one is drawn and reported, so the call can be repeated.
      const random = await pipe.generate({ steps: 2 });
      assert.equal(typeof random.settings.seed, 'number');
      const again = await pipe.generate({ steps: 2, seed: random.settings.seed! });
      assert.deepEqual(values(again.tensor), values(random.tensor));
      // img2img and inpaint on the pipeline take the same defaults.
      const image = zeros([8, 8, 1]);
      const edited = await pipe.img2img({ image, strength: 0.5, seed: 2, classLabels: 'circle' });
      assert.deepEqual(edited.settings, { scheduler: 'euler', steps: 3, guidance: 2.5, seed: 2 });
      const painted = await pipe.inpaint({ image, box: { x: 2, y: 2, w: 4, h: 4 }, seed: 2 });
      assert.deepEqual(painted.tensor.shape, [1, 8, 8, 1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('toPng and save round-trip the images (8-bit quantisation), one image or a grid', async () => {
    const dir = tinyPipeline(null, null);
    try {
      const pipe = await DiffusionPipeline.fromPretrained(dir);
      assert.equal(pipe.classNames, null);
      await assert.rejects(pipe.generate({ classLabels: 'cat', steps: 1, seed: 0 }), (e: unknown) => e instanceof DiffuseError && /records no class names/.test(e.message));
      const images = await pipe.generate({ n: 4, steps: 2, seed: 3 });
      assert.deepEqual(images.settings, { scheduler: 'ddim', steps: 2, guidance: 1, seed: 3 });
      const one = await images.at(2).toPng();
      const back = await decodeImage(one);
      assert.deepEqual([back.height, back.width, back.channels], [8, 8, 1]);
      const want = values(images.at(2).tensor).map((v) => Math.round(((v + 1) / 2) * 255));
      assert.deepEqual(Array.from(back.data, (v) => Math.round(((v + 1) / 2) * 255)), want);
      const path = join(dir, 'out', 'one.png');
      mkdirSync(join(dir, 'out'));
      await images.at(2).save(path);
      assert.deepEqual(readFileSync(path), one);
      assert.deepEqual(values(await readPng(path)), Array.from(back.data));
      // Four images: a 2x2 grid with 2-pixel padding.
      await images.save(join(dir, 'out', 'grid.png'));
      const grid = await decodeImage(join(dir, 'out', 'grid.png'));
      assert.deepEqual([grid.height, grid.width], [2 * 10 + 2, 2 * 10 + 2]);
      assert.equal([...images].length, 4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('upscales with the bundled SR3 model: equal to the sync upscale', async () => {
    const sr = await DiffusionPipeline.fromPretrained('fashion-mnist-sr2');
    const image = zeros([14, 14, 1]);
    const big = await sr.upscale({ image, scheduler: 'ddim', steps: 2, seed: 0 });
    const { model, schedulerConfig, scale } = loadSuperresModel(bundledModels['fashion-mnist-sr2']);
    const ref = upscale({ model, schedulerConfig, scale, image, scheduler: 'ddim', steps: 2, seed: 0 });
    assert.deepEqual(big.tensor.shape, [1, 28, 28, 1]);
    assert.deepEqual(values(big.tensor), values(ref.images));
    await assert.rejects(sr.generate({ steps: 1, seed: 0 }), /is a super-resolution model \(x2\); call pipe.upscale/);
  });
});
