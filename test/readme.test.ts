// The README's library example, run as written (with a tiny random model in place of a trained one).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UNet2DModel, DDIMScheduler, generate, tensor, conv2d, silu, mseLoss, AdamW, Generator, noGrad } from '../src/index.js';

describe('README library example', () => {
  it('samples from a saved model with guidance', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'diffuse-readme-')), 'unet');
    new UNet2DModel({
      sampleSize: 8, inChannels: 1, outChannels: 1, blockOutChannels: [8, 16], downBlockTypes: ['DownBlock2D', 'AttnDownBlock2D'], upBlockTypes: ['AttnUpBlock2D', 'UpBlock2D'],
      layersPerBlock: 1, normNumGroups: 4, attentionHeadDim: 4, numClassEmbeds: 11,
    }).savePretrained(dir);
    const model = UNet2DModel.fromPretrained(dir);
    const scheduler = new DDIMScheduler({ num_train_timesteps: 1000, beta_schedule: 'linear' });
    const { images } = generate({ model, scheduler, n: 2, steps: 3, classLabels: 3, guidanceScale: 2, seed: 0 });
    assert.deepEqual(images.shape, [2, 8, 8, 1]);
  });
  it('the engine part runs: gradients reach w, AdamW steps, noGrad records nothing', () => {
    const gen = new Generator(42);
    const x = gen.normal([8, 16, 16, 1]);
    const w = gen.normal([4, 3, 3, 1]).requireGrad();
    const loss = mseLoss(silu(conv2d(x, w, null, { padding: 1 })), tensor(new Float32Array(8 * 16 * 16 * 4), [8, 16, 16, 4]));
    loss.backward();
    assert.deepEqual(w.grad?.shape, [4, 3, 3, 1]);
    const before = w.toArray();
    new AdamW([w], { lr: 1e-3 }).step();
    assert.notDeepEqual(w.toArray(), before);
    const y = noGrad(() => conv2d(x, w, null, { padding: 1 }));
    assert.equal(y.node, null);
  });
});
