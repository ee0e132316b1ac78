/**
 * `diffuse train --data DIR` from a user's folder with no --config: the U-Net preset built from the
 * data (size, channels, classes; tiny at 28x28x1 is exactly the reference U-Net), the automatic
 * image size, class names and sampling defaults in the exported folder, sample grids during
 * training that leave the run's steps bit-identical, and the refusals when flags and --config
 * both choose the model.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { train } from '../../src/train/trainer.js';
import { presetUNetConfig, presetResolutions, defaultPreset, UNET_PRESETS } from '../../src/nn/unet_presets.js';
import { UNet2DModel, configFromJSON } from '../../src/nn/unet_2d.js';
import { autoImageSize } from '../../src/data/image_folder.js';
import { readClassNames } from '../../src/io/class_names.js';
import { readSamplingConfig } from '../../src/io/sampling_config.js';
import { referenceUNetConfigPath } from '../../src/train/trainer.js';
import { ArgumentError } from '../../src/tensor/errors.js';
import { zeros } from '../../src/tensor/create.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { tempDir } from './fixtures.js';

/** A folder of 3 classes x 12 RGB images of `size` px: red squares, green discs, blue bars on grey, jittered. */
async function shapesFolder(dir: string, size: number, perClass = 12): Promise<void> {
  const classes = ['bar', 'disc', 'square'];
  for (const [k, cls] of classes.entries()) {
    mkdirSync(join(dir, cls), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const px = Buffer.alloc(size * size * 3, 128);
      const c = size / 2 + ((i % 3) - 1);
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          const inside = k === 0 ? Math.abs(x - c) < size / 8 : k === 1 ? (x - c) ** 2 + (y - c) ** 2 < (size / 4) ** 2 : Math.abs(x - c) < size / 4 && Math.abs(y - c) < size / 4;
          if (inside) px[(y * size + x) * 3 + k] = 230;
        }
      await sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toFile(join(dir, cls, `${i}.png`));
    }
  }
}

const fast = { steps: 4, batchSize: 8, warmup: 1, saveEvery: 100, seed: 3 };

describe('U-Net presets', () => {
  it('tiny at 28x28x1 with 10 classes is exactly configs/unet_reference.json', () => {
    const ref = JSON.parse(readFileSync(referenceUNetConfigPath(), 'utf8')) as Record<string, unknown>;
    const got = presetUNetConfig({ preset: 'tiny', imageSize: 28, inChannels: 1, outChannels: 1, numClasses: 10 });
    for (const k of Object.keys(ref).filter((k) => !k.startsWith('_'))) assert.deepEqual(got[k], ref[k], k);
  });
  it('halves the image down to 6-8 px and puts attention at the lowest level (and at 16 for base)', () => {
    assert.deepEqual(presetResolutions(28), [28, 14, 7]);
    assert.deepEqual(presetResolutions(32), [32, 16, 8]);
    assert.deepEqual(presetResolutions(64), [64, 32, 16, 8]);
    assert.deepEqual(presetResolutions(48), [48, 24, 12, 6]);
    assert.deepEqual(presetResolutions(16), [16, 8]);
    const b = presetUNetConfig({ preset: 'base', imageSize: 64, inChannels: 3, outChannels: 3, numClasses: null });
    assert.deepEqual(b['block_out_channels'], [128, 256, 256, 256]);
    assert.deepEqual(b['down_block_types'], ['DownBlock2D', 'DownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D']);
    assert.deepEqual(b['up_block_types'], ['AttnUpBlock2D', 'AttnUpBlock2D', 'UpBlock2D', 'UpBlock2D']);
    assert.equal(b['num_class_embeds'], null);
    assert.equal(defaultPreset(28), 'tiny');
    assert.equal(defaultPreset(64), 'small');
    assert.equal(defaultPreset(128), 'base');
  });
  it('every preset is a valid config; tiny and small run forward at 16, 32 and 48 px', () => {
    for (const preset of UNET_PRESETS)
      for (const imageSize of [16, 32, 48, 64]) configFromJSON(presetUNetConfig({ preset, imageSize, inChannels: 3, outChannels: 3, numClasses: 4 }));
    for (const preset of ['tiny', 'small'] as const)
      for (const s of [16, 32, 48]) {
        const m = new UNet2DModel(configFromJSON(presetUNetConfig({ preset, imageSize: s, inChannels: 3, outChannels: 3, numClasses: 2 }))).eval();
        const y = noGrad(() => m.forward(zeros([1, s, s, 3]), Float32Array.of(10), Int32Array.of(1)));
        assert.deepEqual(y.shape, [1, s, s, 3]);
      }
  });
});

describe('automatic image size', () => {
  it('takes the most common short side (ties: the smaller), rounded down to a multiple of 4, at most 64', () => {
    const warnings: string[] = [];
    const w = (m: string): number => warnings.push(m);
    assert.equal(autoImageSize([{ width: 32, height: 32 }, { width: 40, height: 32 }, { width: 28, height: 28 }], 'd', w), 32);
    assert.equal(warnings.length, 0);
    assert.equal(autoImageSize([{ width: 30, height: 30 }, { width: 28, height: 28 }], 'd', w), 28);
    assert.equal(autoImageSize([{ width: 30, height: 31 }], 'd', w), 28);
    assert.match(warnings.at(-1)!, /most common short side is 30 px; training at 28x28; pass --image-size/);
    assert.equal(autoImageSize([{ width: 640, height: 480 }], 'd', w), 64);
    assert.match(warnings.at(-1)!, /480 px; training at 64x64 \(the automatic size stops at 64\)/);
    assert.equal(autoImageSize([{ width: 5, height: 5 }], 'd', w), 8);
  });
});

describe('train --data DIR (no --config)', () => {
  let folder: string;
  let root: string;
  before(async () => {
    root = tempDir('folder');
    folder = join(root, 'shapes');
    await shapesFolder(folder, 16);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('infers 16x16x3 and 3 classes, builds the tiny preset, and exports class names, sampling defaults and grids', async () => {
    const out = join(root, 'run');
    const logs: string[] = [];
    const r = await train({ ...fast, data: folder, out, sampleEvery: 2 }, { onLog: (m) => logs.push(m) });
    assert.equal(r.step, 4);
    const saved = JSON.parse(readFileSync(join(out, 'train_config.json'), 'utf8')) as { unet: Record<string, unknown> };
    assert.equal(saved.unet['sample_size'], 16);
    assert.equal(saved.unet['in_channels'], 3);
    assert.equal(saved.unet['num_class_embeds'], 4, '3 classes + the null class');
    assert.deepEqual(saved.unet['block_out_channels'], [32, 64]);
    assert.ok(logs.some((l) => /^U-Net preset tiny: 32\/64 channels at 16x16, 8x8, attention at 8x8$/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /16x16x3, 3 classes \(bar, disc, square\)/.test(l)), logs.join('\n'));
    assert.deepEqual(readClassNames(join(out, 'model', 'unet')), ['bar', 'disc', 'square']);
    assert.deepEqual(readSamplingConfig(join(out, 'model', 'unet')), { guidanceScale: 1.5, scheduler: 'dpmpp_2m', numInferenceSteps: 20 });
    for (const s of ['step-0000002', 'step-0000004']) {
      const meta = await sharp(join(out, 'samples', `${s}.png`)).metadata();
      // 8 columns x 3 rows (a row per class) of 16 px tiles with 2 px padding.
      assert.equal(meta.width, 8 * 18 + 2);
      assert.equal(meta.height, 3 * 18 + 2);
    }
  });

  it('grids leave the run bit-identical to a run without them', async () => {
    const a = join(root, 'run'); // the run above: grids at steps 2 and 4
    const b = join(root, 'without');
    await train({ ...fast, data: folder, out: b });
    const w = (d: string): Buffer => readFileSync(join(d, 'model', 'unet', 'diffusion_pytorch_model.safetensors'));
    assert.ok(w(a).equals(w(b)));
    assert.ok(!existsSync(join(b, 'samples')));
  });

  it('--unconditional, --image-size and --preset', async () => {
    const out = join(root, 'uncond');
    await train({ ...fast, steps: 1, data: folder, out, unconditional: true, imageSize: 24, preset: 'small' });
    const saved = JSON.parse(readFileSync(join(out, 'train_config.json'), 'utf8')) as { unet: Record<string, unknown> };
    assert.equal(saved.unet['num_class_embeds'], null);
    assert.equal(saved.unet['sample_size'], 24);
    assert.deepEqual(saved.unet['block_out_channels'], [64, 128, 128]);
    assert.equal(readClassNames(join(out, 'model', 'unet')), null);
    assert.equal(readSamplingConfig(join(out, 'model', 'unet')).guidanceScale, 1);
  });

  it('refuses flags that contradict --config, and grids for SDE runs, by name', async () => {
    const unet = presetUNetConfig({ preset: 'tiny', imageSize: 16, inChannels: 3, outChannels: 3, numClasses: 3 });
    await assert.rejects(train({ ...fast, data: folder, out: join(root, 'e1'), unet, preset: 'small' }), (e: Error) => e instanceof ArgumentError && /--preset small and --config both choose the U-Net/.test(e.message));
    await assert.rejects(train({ ...fast, data: folder, out: join(root, 'e2'), unet, imageSize: 32 }), /--image-size 32 differs from the --config's sample_size 16/);
    await assert.rejects(train({ ...fast, data: folder, out: join(root, 'e3'), unet, unconditional: true }), /--unconditional with a class-conditional --config/);
    await assert.rejects(train({ ...fast, data: folder, out: join(root, 'e4'), sde: 'vp', sampleEvery: 2 }), /--sample-every draws DDPM samples; this run \(--sde vp\)/);
  });
});
