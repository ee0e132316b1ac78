/**
 * The denoising score matching objective against a hand computation with a stand-in model (it
 * records the U-Net's inputs and returns a fixed output): the perturbed batch m(t) x0 + std(t) z,
 * the timestep input t (N - 1), the target (z for VP/sub-VP, -z for VE) and the weights (1, or
 * g^2 / std^2 with likelihood weighting); and `train --sde` end to end on tiny data, exporting
 * the SDE in scheduler_config.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sdeObjective, sdeOfTrainConfig, SDE_TRAIN_EPS } from '../../src/sde/objective.js';
import { makeSde, sdeFromConfig } from '../../src/sde/config.js';
import type { SdeName } from '../../src/sde/sde.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { UNet2DModel } from '../../src/nn/unet_2d.js';
import { train } from '../../src/train/trainer.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { TINY_UNET, TinyFashion, tempDir } from '../train/fixtures.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

for (const name of ['vp', 'subvp', 've'] as SdeName[]) {
  for (const likelihoodWeighting of [false, true]) {
    test(`${name}${likelihoodWeighting ? ' likelihood-weighted' : ''}: the loss is the hand-computed score matching loss`, () => {
      const sde = makeSde(name);
      const obj = sdeObjective(sde, { likelihoodWeighting });
      const x0 = new Generator(1).normal([3, 2, 2, 1]);
      const draw = obj.draw(x0, new Generator(2));
      assert.ok(draw.t.every((t) => t >= SDE_TRAIN_EPS && t < 1));
      const F = new Generator(3).normal([3, 2, 2, 1]);
      let seen: { x: Tensor; t: number[] } | null = null;
      const model = { forward: (x: Tensor, t: Float32Array) => ((seen = { x, t: Array.from(t) }), F) } as unknown as UNet2DModel;
      const loss = obj.loss(model, draw, null).item();
      let expected = 0;
      for (let b = 0; b < 3; b++) {
        const t = draw.t[b]!;
        const { mean, std } = sde.marginal(t);
        assert.ok(Math.abs(seen!.t[b]! - t * 999) < 1e-3);
        const w = likelihoodWeighting ? sde.diffusion(t) ** 2 / std ** 2 : 1;
        for (let i = b * 4; i < b * 4 + 4; i++) {
          assert.ok(Math.abs(hostBuffer(seen!.x)[i]! - (mean * hostBuffer(x0)[i]! + std * hostBuffer(draw.noise)[i]!)) < 1e-5);
          // || std s + z ||^2 with s = -F/std (VP, sub-VP) or F/std (VE).
          const r = name === 've' ? hostBuffer(F)[i]! + hostBuffer(draw.noise)[i]! : hostBuffer(draw.noise)[i]! - hostBuffer(F)[i]!;
          expected += (w * r * r) / 12;
        }
      }
      assert.ok(Math.abs(loss - expected) <= 1e-5 * Math.max(1, expected), `loss ${loss} vs ${expected}`);
    });
  }
}

test('sdeOfTrainConfig: VP/sub-VP continue the DDPM schedule (beta_min = N beta_start), VE takes sigma range', () => {
  const cfg = resolveTrainConfig({ data: 'fashion-mnist', out: '/tmp/x', sde: 'vp' });
  const vp = sdeOfTrainConfig(cfg, 'vp').toConfig();
  assert.ok(Math.abs((vp['beta_min'] as number) - 0.1) < 1e-12 && Math.abs((vp['beta_max'] as number) - 20) < 1e-12);
  assert.equal(sdeOfTrainConfig({ ...cfg, sigmaMax: 30 }, 've').toConfig()['sigma_max'], 30);
  assert.throws(() => resolveTrainConfig({ data: 'fashion-mnist', out: '/tmp/x', likelihoodWeighting: true }), /likelihoodWeighting/);
  assert.throws(() => resolveTrainConfig({ data: 'fashion-mnist', out: '/tmp/x', sde: 'vp', predictionType: 'v_prediction' }), /'predictionType' is "v_prediction", but the run trains the score_sde objective/);
  assert.throws(() => resolveTrainConfig({ data: 'fashion-mnist', out: '/tmp/x', sde: 'xx' as SdeName }), /'sde' must be null or one of vp, subvp, ve/);
});

test('train --sde ve: trains on tiny data and exports the SDE in scheduler_config.json', async () => {
  const out = join(tempDir('sde'), 'run');
  try {
    const r = await train({ data: 'tiny', dataset: new TinyFashion(8), out, unet: TINY_UNET, steps: 2, batchSize: 4, warmup: 1, sde: 've', likelihoodWeighting: true, saveEvery: 2 });
    assert.equal(r.step, 2);
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss: number });
    assert.ok(metrics.every((m) => Number.isFinite(m.loss)));
    const sched = JSON.parse(readFileSync(join(r.modelDir!, 'scheduler', 'scheduler_config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(sched['_class_name'], 'ScoreSdeVeScheduler');
    assert.equal(sdeFromConfig(sched).name, 've');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
