/**
 * Training objectives of denoising diffusion: the regression target of each parameterization
 * (Ho et al. 2020 eq. 14 for epsilon; x_0 for sample; v = sqrt(abar) eps - sqrt(1 - abar) x_0 for
 * v_prediction, Salimans & Ho 2022), the signal-to-noise ratio SNR(t) = abar_t / (1 - abar_t), and
 * the Min-SNR-gamma loss weights of Hang et al. 2023 ("Efficient Diffusion Training via Min-SNR
 * Weighting Strategy", eq. 9-10): w = min(SNR, gamma) / SNR for epsilon, min(SNR, gamma) /
 * (SNR + 1) for v, min(SNR, gamma) for x_0; plus the per-sample weighted mean squared error.
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectShape, expectTensor, sameDType, sameDevice } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { addNoise, alphaBarAt, checkPredictionType, getVelocity, type PerSample, type PredictionType, type Timesteps } from './forward.js';

/**
 * What the model should output for (x_0, noise, t): noise, x_0, or the velocity v.
 * @example const target = trainingTarget('v_prediction', x0, noise, acp, t);
 */
export function trainingTarget(predictionType: PredictionType, x0: Tensor, noise: Tensor, alphasCumprod: Float64Array, timesteps: Timesteps): Tensor {
  checkPredictionType('trainingTarget', predictionType);
  expectTensor('trainingTarget', 'x0', x0);
  expectTensor('trainingTarget', 'noise', noise);
  expectShape('trainingTarget', 'noise', noise, x0.shape);
  switch (predictionType) {
    case 'epsilon':
      return noise;
    case 'sample':
      return x0;
    case 'v_prediction':
      return getVelocity(alphasCumprod, x0, noise, timesteps);
  }
}

/**
 * The noisy input x_t and the target for one training step of a model of `predictionType`.
 * @example const { xt, target } = trainingPair('epsilon', x0, gen.normal(x0.shape), acp, t);
 */
export function trainingPair(predictionType: PredictionType, x0: Tensor, noise: Tensor, alphasCumprod: Float64Array, timesteps: Timesteps): { xt: Tensor; target: Tensor } {
  const target = trainingTarget(predictionType, x0, noise, alphasCumprod, timesteps);
  return { xt: addNoise(alphasCumprod, x0, noise, timesteps), target };
}

/**
 * SNR(t) = abar_t / (1 - abar_t) per timestep (Kingma et al. 2021); Infinity where abar_t = 1.
 * @example snr(acp, [0, 999])
 */
export function snr(alphasCumprod: Float64Array, timesteps: Timesteps): Float64Array {
  const n = typeof timesteps === 'number' ? 1 : timesteps.length;
  return alphaBarAt(alphasCumprod, timesteps, n, 'snr').map((a) => a / (1 - a));
}

/**
 * Min-SNR-gamma weights (Hang et al. 2023), one per timestep, for a model of `predictionType`:
 * the x_0-space weight min(SNR, gamma) converted to the model's own loss (divide by SNR for
 * epsilon, by SNR + 1 for v). For epsilon, min(SNR, gamma) / SNR is written as
 * (SNR <= gamma ? 1 : gamma / SNR), so SNR = 0 (zero-terminal-SNR schedules) gives 1, not NaN.
 * gamma = 5 is the paper's recommended value.
 * @example const w = minSnrWeights(acp, t, 5, 'epsilon');
 */
export function minSnrWeights(alphasCumprod: Float64Array, timesteps: Timesteps, gamma: number, predictionType: PredictionType): Float64Array {
  checkPredictionType('minSnrWeights', predictionType);
  if (typeof gamma !== 'number' || !(gamma > 0)) {
    throw new ArgumentError(`minSnrWeights: gamma must be a positive number (the paper uses 5), found ${String(gamma)}`);
  }
  return snr(alphasCumprod, timesteps).map((s) => {
    switch (predictionType) {
      case 'epsilon':
        return s <= gamma ? 1 : gamma / s;
      case 'v_prediction':
        return Math.min(s, gamma) / (s + 1);
      case 'sample':
        return Math.min(s, gamma);
    }
  });
}

/**
 * mean_n w[n] * mean_i (pred[n, i] - target[n, i])^2: the per-sample weighted MSE (weights
 * default to 1, giving the plain MSE of Ho et al. eq. 14). Returns shape []; differentiable in
 * pred and target.
 * @example const loss = weightedMseLoss(model(xt, t), target, minSnrWeights(acp, t, 5, 'epsilon'));
 */
export function weightedMseLoss(pred: Tensor, target: Tensor, weights: PerSample = 1): Tensor {
  const op = 'weightedMseLoss';
  expectTensor(op, 'pred', pred);
  expectTensor(op, 'target', target);
  expectShape(op, 'target', target, pred.shape);
  const dtype = sameDType(op, { pred, target });
  const dev = sameDevice(op, { pred, target });
  if (pred.rank < 1) throw new ShapeError(`${op}: input 'pred' must have a batch axis (rank >= 1), found shape ${fmtShape(pred.shape)}`);
  const batch = pred.shape[0]!;
  if (batch === 0 || pred.size === 0) throw new ShapeError(`${op}: input 'pred' is empty (shape ${fmtShape(pred.shape)}); a mean needs at least one element`);
  let w: Float64Array;
  if (typeof weights === 'number') w = new Float64Array(batch).fill(weights);
  else if (weights.length === batch || weights.length === 1) w = Float64Array.from({ length: batch }, (_, n) => weights[weights.length === 1 ? 0 : n]!);
  else throw new ShapeError(`${op}: 'weights' has ${weights.length} values, expected 1 or one per batch element (${batch})`);
  // Accumulated in double over each sample, weighted, divided by the element count N * per.
  const out = emptyUninit([], dtype, dev);
  dev.kernels.weightedSqDiffSum(pred.storage, target.storage, w, pred.size, out.storage);
  return recordOp(op, out, [pred, target], (gy) => {
    // d/dpred = 2 w[n] (pred - target) / (N * per), times the upstream scalar.
    const grad = (sign: number): Tensor => {
      const gt = emptyUninit(pred.shape, dtype, dev);
      dev.kernels.weightedSqDiffBackward(pred.storage, target.storage, gy.storage, w, sign * 2, pred.size, gt.storage);
      return gt;
    };
    return [pred.requiresGrad ? grad(1) : null, target.requiresGrad ? grad(-1) : null];
  });
}
