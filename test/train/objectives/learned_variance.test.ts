/**
 * The learned-variance objective: 2C output channels and a learned_range scheduler config; in the
 * hybrid loss the prediction channels' gradient is exactly L_simple's (the L_vlb term reaches
 * only the variance channels), while the 'vlb' loss trains both; invalid combinations fail with
 * the options named; the importance sampler's history is in getState and restores.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../../src/tensor/tensor.js';
import { tensor } from '../../../src/tensor/create.js';
import { Generator } from '../../../src/tensor/random.js';
import type { UNet2DModel } from '../../../src/nn/unet_2d.js';
import { split } from '../../../src/ops/concat.js';
import { weightedMseLoss } from '../../../src/diffusion/loss.js';
import { learnedVarianceObjective, type LearnedVarianceState } from '../../../src/train/objectives/learned_variance.js';
import { resolveTrainConfig, TRAIN_DEFAULTS } from '../../../src/train/config.js';
import { DDPMScheduler } from '../../../src/schedulers/ddpm.js';
import { hostBuffer } from '../../../src/tensor/tensor.js';

const cfg = { ...TRAIN_DEFAULTS, numTrainTimesteps: 20, varianceType: 'learned_range' as const, loss: 'hybrid' as const };

/** A "model" whose output is a leaf tensor: its gradient is dLoss/dOutput. */
function leafModel(out: Tensor): UNet2DModel {
  return { forward: () => out } as unknown as UNet2DModel;
}

function batch(gen: Generator): Tensor {
  return tensor(Array.from(hostBuffer(gen.uniform([3 * 4 * 5])), (u) => (2 * Math.floor(u * 256)) / 255 - 1), [3, 4, 5, 1]);
}

describe('learnedVarianceObjective', () => {
  it('has 2C outputs and exports a learned_range DDPMScheduler config', () => {
    const obj = learnedVarianceObjective(cfg);
    assert.deepEqual(obj.modelChannels(3), { in: 3, out: 6 });
    const sc = obj.schedulerConfig();
    assert.equal(sc.variance_type, 'learned_range');
    assert.equal(new DDPMScheduler(sc).config.varianceType, 'learned_range');
  });

  it('hybrid: the prediction channels get exactly L_simple\'s gradient, the variance channels L_vlb\'s', () => {
    const gen = new Generator(5);
    const obj = learnedVarianceObjective(cfg);
    const x0 = batch(gen);
    const draw = obj.draw(x0, gen);
    assert.ok(draw.timesteps.every((t) => Number.isInteger(t) && t >= 0 && t < 20));
    const outData = hostBuffer(gen.normal([3, 4, 5, 2]));
    const out = new Tensor(Float32Array.from(outData), [3, 4, 5, 2]);
    out.requiresGrad = true;
    obj.loss(leafModel(out), draw, null).backward();
    // L_simple alone on the prediction channels.
    const out2 = new Tensor(Float32Array.from(outData), [3, 4, 5, 2]);
    out2.requiresGrad = true;
    weightedMseLoss(split(out2, [1, 1], -1)[0]!, draw.noise).backward();
    let varianceGrad = 0;
    for (let i = 0; i < out.size; i++) {
      if (i % 2 === 0) assert.equal(hostBuffer(out.grad!)[i]! + 0, hostBuffer(out2.grad!)[i]! + 0, `prediction element ${i}`);
      else varianceGrad += Math.abs(hostBuffer(out.grad!)[i]!);
    }
    assert.ok(varianceGrad > 0, 'the variance channels got no gradient');
  });

  it("'vlb' trains the prediction channels through the bound too", () => {
    const gen = new Generator(6);
    const obj = learnedVarianceObjective({ ...cfg, loss: 'vlb' });
    const x0 = batch(gen);
    const draw = obj.draw(x0, gen);
    const out = new Tensor(Float32Array.from(hostBuffer(gen.normal([3, 4, 5, 2]))), [3, 4, 5, 2]);
    out.requiresGrad = true;
    const loss = obj.loss(leafModel(out), draw, null);
    assert.ok(Number.isFinite(loss.item()) && loss.item() > 0);
    loss.backward();
    let meanGrad = 0;
    for (let i = 0; i < out.size; i += 2) meanGrad += Math.abs(hostBuffer(out.grad!)[i]!);
    assert.ok(meanGrad > 0);
    // The loss is a function of the draw: evaluating it again gives the same value.
    assert.equal(obj.loss(leafModel(out), draw, null).item(), loss.item());
  });

  it('importance sampling keeps its history in getState and restores it', () => {
    const gen = new Generator(8);
    const obj = learnedVarianceObjective({ ...cfg, loss: 'vlb', timestepSampler: 'importance' });
    const out = new Tensor(Float32Array.from(hostBuffer(gen.normal([3, 4, 5, 2]))), [3, 4, 5, 2]);
    for (let k = 0; k < 5; k++) obj.loss(leafModel(out), obj.draw(batch(gen), gen), null);
    const state = obj.getState!() as LearnedVarianceState;
    assert.equal(state.importance!.history.reduce((s, h) => s + h.length, 0), 15);
    const other = learnedVarianceObjective({ ...cfg, loss: 'vlb', timestepSampler: 'importance' });
    other.setState!(JSON.parse(JSON.stringify(state)));
    assert.deepEqual(other.getState!(), state);
    assert.throws(() => other.setState!({ importance: null }), /no importance-sampler history/);
  });

  it('rejects combinations that cannot train, naming the options', () => {
    const base = { data: 'fashion-mnist', out: 'runs/x' };
    assert.throws(() => resolveTrainConfig({ ...base, varianceType: 'learned_range' }), /varianceType 'learned_range' needs loss 'hybrid' or 'vlb'.*found loss 'simple'/);
    assert.throws(() => resolveTrainConfig({ ...base, loss: 'hybrid' }), /loss 'hybrid' .* needs varianceType 'learned_range', found 'fixed_small'/);
    assert.throws(() => resolveTrainConfig({ ...base, varianceType: 'learned_range', loss: 'hybrid', timestepSampler: 'importance' }), /timestepSampler 'importance' is for loss 'vlb'.*found loss 'hybrid'/);
    assert.throws(() => resolveTrainConfig({ ...base, loss: 'kl' as 'vlb' }), /'loss' must be one of simple, hybrid, vlb, found "kl"/);
    assert.throws(() => resolveTrainConfig({ ...base, varianceType: 'learned_range', loss: 'hybrid', vlbWeight: 0 }), /'vlbWeight' must be a number > 0/);
    assert.equal(resolveTrainConfig({ ...base, loss: 'vlb', timestepSampler: 'importance' }).loss, 'vlb');
  });
});
