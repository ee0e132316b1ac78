/**
 * The bounds on the U-Net config fields that size memory (issue 14, failures 4 and 7): a config.json
 * asking for 100,000 layers per block, a 65536x65536 sample, a billion channels or classes, or
 * 10,000 levels is refused by field, naming the file, before anything is allocated (these used to
 * take gigabytes and minutes, or end in "Invalid typed array length" / "Maximum call stack size
 * exceeded"); diffusers' real UNet2DModel configs stay well inside the bounds.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UNet2DModel, ConfigError, UNET2D_BOUNDS, configFromJSON } from '../../src/nn/unet_2d.js';
import { packageRoot } from '../../src/io/package_root.js';
import { unetParameterCount } from '../../src/nn/memory_estimate.js';
import { DDPM_256, DDPM_CIFAR10 } from '../helpers/unet_configs.js';
import { NoisyClassifier } from '../../src/nn/noisy_classifier.js';
import { FeatureNet } from '../../src/eval/feature_net.js';

const FM = join(packageRoot(), 'models', 'fashion-mnist', 'unet');

/** A model folder whose config.json is the bundled model's with `change`, and the bundled weights. */
function folderWith(root: string, name: string, change: Record<string, unknown>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const base = JSON.parse(readFileSync(join(FM, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...base, ...change }));
  copyFileSync(join(FM, 'diffusion_pytorch_model.safetensors'), join(dir, 'diffusion_pytorch_model.safetensors'));
  return dir;
}

describe('U-Net config bounds', () => {
  it("diffusers' real configs fit the bounds (and their parameter counts are the published ones)", () => {
    const c256 = configFromJSON(DDPM_256);
    const c32 = configFromJSON(DDPM_CIFAR10);
    // Published sizes of google/ddpm-church-256 and google/ddpm-cifar10-32.
    assert.equal(unetParameterCount(c256), 113_673_219);
    assert.equal(unetParameterCount(c32), 35_746_307);
    // score-SDE's ncsnpp-ffhq-1024 and Stable Diffusion's widths are inside too.
    configFromJSON({ ...DDPM_256, sample_size: 1024, block_out_channels: [320, 640, 1280, 1280, 1280, 1280] });
    assert.ok(UNET2D_BOUNDS.levels >= 6 && UNET2D_BOUNDS.layersPerBlock >= 4 && UNET2D_BOUNDS.sampleSize >= 1024 && UNET2D_BOUNDS.channels >= 1280);
  });

  it('every field that sizes memory is refused past its bound, by name, from fromPretrained naming the file, fast', () => {
    const root = mkdtempSync(join(tmpdir(), 'diffuse-bounds-'));
    try {
      const levels = (n: number): Record<string, unknown> => ({ block_out_channels: new Array(n).fill(32), down_block_types: new Array(n).fill('DownBlock2D'), up_block_types: new Array(n).fill('UpBlock2D') });
      const cases: [string, Record<string, unknown>, RegExp][] = [
        ['layers', { layers_per_block: 100000 }, /'layers_per_block' \(layersPerBlock\) is 100000; expected an integer in \[1, 64\]/],
        ['sample', { sample_size: [65536, 65536] }, /'sample_size' \(sampleSize\) is \[65536,65536\]; expected null, an integer in \[1, 16384\]/],
        ['sample1', { sample_size: 1e9 }, /'sample_size'/],
        ['channels', { block_out_channels: [32, 64, 1e9] }, /'block_out_channels' \(blockOutChannels\) is \[32,64,1000000000\]; expected a list of 1 to 12 integers in \[1, 16384\]/],
        ['levels', levels(10000), /'block_out_channels' \(blockOutChannels\) is a list of 10000 entries \(\[32,32,32,32, \.\.\.\]\); expected a list of 1 to 12/],
        ['levels13', levels(13), /'block_out_channels'.*a list of 1 to 12/],
        ['in', { in_channels: 1e8 }, /'in_channels' \(inChannels\) is 100000000; expected an integer in \[1, 1024\]/],
        ['out', { out_channels: 5000 }, /'out_channels' \(outChannels\) is 5000; expected an integer in \[1, 1024\]/],
        ['classes', { num_class_embeds: 1e9 }, /'num_class_embeds' \(numClassEmbeds\) is 1000000000; expected null or an integer in \[1, 100000\]/],
        ['heads', { attention_head_dim: 1e7 }, /'attention_head_dim' \(attentionHeadDim\) is 10000000; expected null or an integer in \[1, 16384\]/],
        ['groups', { norm_num_groups: 1e7 }, /'norm_num_groups' \(normNumGroups\) is 10000000/],
        ['attn_groups', { attn_norm_num_groups: 1e7 }, /'attn_norm_num_groups'/],
        ['timesteps', { num_train_timesteps: 1e12 }, /'num_train_timesteps'/],
        ['negative', { layers_per_block: -1 }, /'layers_per_block'/],
        ['fraction', { block_out_channels: [32, 64.5, 64] }, /'block_out_channels'/],
        ['string', { in_channels: '1e9' }, /'in_channels'/],
      ];
      const rss0 = process.memoryUsage().rss;
      const t0 = performance.now();
      for (const [name, change, re] of cases) {
        const dir = folderWith(root, name, change);
        assert.throws(
          () => UNet2DModel.fromPretrained(dir),
          (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${dir}/config.json: `) && re.test(e.message) && e.message.length < 400,
          `${name}: ${re.source}`,
        );
      }
      const ms = performance.now() - t0;
      assert.ok(ms < 2000, `${cases.length} refusals took ${ms.toFixed(0)} ms`);
      assert.ok(process.memoryUsage().rss - rss0 < 200 * 2 ** 20, 'nothing large was allocated');
      assert.equal(cases.length, 16);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("the noisy classifier's and the feature net's configs have the same bounds", () => {
    assert.throws(() => new NoisyClassifier({ layersPerBlock: 100000 }), /'layers_per_block' is 100000; expected an integer in \[1, 64\]/);
    assert.throws(() => new NoisyClassifier({ blockOutChannels: new Array(10000).fill(8) }), /'block_out_channels' is .*; expected a list of 1 to 12 integers/);
    assert.throws(() => new NoisyClassifier({ numClasses: 1e9 }), /'num_classes' is 1000000000; expected an integer >= 2 \(at most 100000\)/);
    assert.throws(() => new FeatureNet({ channels: [8, 1e9] }), /FeatureNet: config 'channels\[1\]' must be an integer in \[1, 16384\], found 1000000000/);
    assert.throws(() => new FeatureNet({ channels: new Array(10000).fill(8) }), /'channels' must be a list of 1 to 12 channel counts, found a list of 10000/);
    assert.throws(() => new FeatureNet({ imageSize: 65536 }), /'imageSize' must be an integer in \[1, 16384\]/);
  });

  it('the bounds also hold for configs built in code', () => {
    assert.throws(() => new UNet2DModel({ layersPerBlock: 65 }), /'layers_per_block' \(layersPerBlock\) is 65; expected an integer in \[1, 64\]/);
    assert.throws(() => new UNet2DModel({ numClassEmbeds: 100001 }), /'num_class_embeds'/);
  });
});
