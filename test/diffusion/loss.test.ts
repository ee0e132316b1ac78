/**
 * Training objectives: targets per prediction type, SNR, Min-SNR-gamma weights (Hang et al. 2023)
 * in closed form, the weighted MSE (value, equality with mseLoss, gradients), errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import { makeBetas, alphasCumprod } from '../../src/diffusion/schedules.js';
import { addNoise, getVelocity, predictX0, alphaBarAt } from '../../src/diffusion/forward.js';
import { minSnrWeights, snr, trainingPair, trainingTarget, weightedMseLoss } from '../../src/diffusion/loss.js';
import { mseLoss } from '../../src/ops/loss.js';
import { assertClose } from '../helpers/closeness.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { randTensor } from '../helpers/data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

const acp = alphasCumprod(makeBetas({ numTrainTimesteps: 1000, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear' }));
const zeroSnrAcp = alphasCumprod(makeBetas({ numTrainTimesteps: 1000, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: 'linear', rescaleBetasZeroSnr: true }));

describe('training targets', () => {
  const shape = [2, 3, 4, 1];
  const x0 = randTensor(shape, 1, { dtype: 'float64' });
  const noise = randTensor(shape, 2, { dtype: 'float64' });
  const t = [17, 870];
  it('epsilon -> noise, sample -> x0, v_prediction -> velocity; each target gives back x0', () => {
    assert.equal(trainingTarget('epsilon', x0, noise, acp, t), noise);
    assert.equal(trainingTarget('sample', x0, noise, acp, t), x0);
    assert.deepEqual(hostBuffer(trainingTarget('v_prediction', x0, noise, acp, t)), hostBuffer(getVelocity(acp, x0, noise, t)));
    for (const type of ['epsilon', 'sample', 'v_prediction'] as const) {
      const { xt, target } = trainingPair(type, x0, noise, acp, t);
      assert.deepEqual(hostBuffer(xt), hostBuffer(addNoise(acp, x0, noise, t)));
      assertClose(hostBuffer(predictX0(target, xt, alphaBarAt(acp, t, 2), type)), hostBuffer(x0), { nmseTol: 1e-24, absTol: 1e-11, what: type });
    }
  });
});

describe('SNR and Min-SNR-gamma weights', () => {
  it('SNR = abar / (1 - abar); zero-terminal-SNR schedules end at SNR 0', () => {
    const s = snr(acp, [0, 500, 999]);
    [0, 500, 999].forEach((t, i) => assert.equal(s[i], acp[t]! / (1 - acp[t]!)));
    assert.equal(snr(zeroSnrAcp, 999)[0], 0);
    assert.ok(snr(acp, 0)[0]! > 9000, 'SNR at t = 0 is ~1e4');
  });

  it('epsilon: min(SNR, gamma) / SNR; v: min(SNR, gamma) / (SNR + 1); sample: min(SNR, gamma)', () => {
    const ts = [0, 100, 300, 600, 999];
    const s = snr(acp, ts);
    const gamma = 5;
    const eps = minSnrWeights(acp, ts, gamma, 'epsilon');
    const v = minSnrWeights(acp, ts, gamma, 'v_prediction');
    const x0 = minSnrWeights(acp, ts, gamma, 'sample');
    ts.forEach((_, i) => {
      const si = s[i]!;
      const m = Math.min(si, gamma);
      assert.ok(Math.abs(eps[i]! - m / si) < 1e-15, `eps weight ${eps[i]} vs ${m / si}`);
      assert.ok(Math.abs(v[i]! - m / (si + 1)) < 1e-15, `v weight ${v[i]} vs ${m / (si + 1)}`);
      assert.equal(x0[i], m);
    });
    // High-noise timesteps (SNR < gamma) keep epsilon weight 1; low-noise ones are down-weighted.
    assert.equal(eps[4], 1);
    assert.ok(eps[0]! < 1e-3, `t = 0 weight ${eps[0]}`);
    // SNR = 0 (zero terminal SNR): the epsilon weight's limit is 1, not 0/0; v's is 0.
    assert.equal(minSnrWeights(zeroSnrAcp, 999, gamma, 'epsilon')[0], 1);
    assert.equal(minSnrWeights(zeroSnrAcp, 999, gamma, 'v_prediction')[0], 0);
  });
});

describe('weightedMseLoss', () => {
  const shape = [3, 2, 3, 2];
  it('is mean_n w[n] mean_i (p - t)^2, and equals mseLoss with unit weights', () => {
    const p = tensor([1, 2, 3, 4], [2, 2]);
    const t = tensor([0, 0, 0, 0], [2, 2]);
    // per-sample means: 2.5 and 12.5; weights 2 and 0.5 -> (5 + 6.25) / 2 = 5.625
    assert.equal(weightedMseLoss(p, t, [2, 0.5]).item(), 5.625);
    assert.equal(weightedMseLoss(p, t, [2]).item(), 15);
    const a = randTensor(shape, 1);
    const b = randTensor(shape, 2);
    assert.ok(Math.abs(weightedMseLoss(a, b).item() - mseLoss(a, b).item()) < 1e-6, 'unit weights = mseLoss');
    assert.deepEqual(weightedMseLoss(a, b).shape, []);
  });
  it('gradients match finite differences in pred and target', () => {
    gradcheck((p, t) => weightedMseLoss(p, t, [0.3, 1, 2.5]), [randTensor(shape, 3), randTensor(shape, 4)]);
  });
  it('propagates NaN', () => {
    assert.ok(Number.isNaN(weightedMseLoss(tensor([NaN, 1], [2, 1]), tensor([0, 0], [2, 1])).item()));
  });
});

describe('loss errors', () => {
  const x = randTensor([2, 3], 1);
  it('names the function, the argument, expected and found', () => {
    assert.throws(() => trainingTarget('x0' as never, x, x, acp, 1), /trainingTarget: prediction type must be one of epsilon, sample, v_prediction, found "x0"/);
    assert.throws(() => trainingTarget('epsilon', x, randTensor([2, 4], 2), acp, 1), /trainingTarget: input 'noise' has shape \[2, 4\], expected \[2, 3\]/);
    assert.throws(() => minSnrWeights(acp, 1, 0, 'epsilon'), /minSnrWeights: gamma must be a positive number \(the paper uses 5\), found 0/);
    assert.throws(() => snr(acp, [1000]), /snr: timesteps\[0\] = 1000 must be an integer in \[0, num_train_timesteps = 1000\)/);
    assert.throws(() => weightedMseLoss(x, randTensor([3, 2], 3)), /weightedMseLoss: input 'target' has shape \[3, 2\], expected \[2, 3\]/);
    assert.throws(() => weightedMseLoss(x, x, [1, 2, 3]), /weightedMseLoss: 'weights' has 3 values, expected 1 or one per batch element \(2\)/);
    assert.throws(() => weightedMseLoss(tensor([], [0, 3]), tensor([], [0, 3])), /weightedMseLoss: input 'pred' is empty/);
  });
});
