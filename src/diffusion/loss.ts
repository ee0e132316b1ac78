/**
 * Training objectives of denoising diffusion: the regression target of each parameterization
 * (Ho et al. 2020 eq. 14 for epsilon; x_0 for sample; v = sqrt(abar) eps - sqrt(1 - abar) x_0 for
 * v_prediction, Salimans & Ho 2022), the signal-to-noise ratio SNR(t) = abar_t / (1 - abar_t), and
 * the Min-SNR-gamma loss weights of Hang et al. 2023 ("Efficient Diffusion Training via Min-SNR
 * Weighting Strategy", eq. 9-10): w = min(SNR, gamma) / SNR for epsilon, min(SNR, gamma) /
 * (SNR + 1) for v, min(SNR, gamma) for x_0; plus the per-sample weighted mean squared error.
 */
import { Tensor } from '../tensor/tensor.js';
import { expectShape, expectTensor } from '../tensor/check.js';
import { ArgumentError } from '../tensor/errors.js';
import { weightedMseLoss } from '../ops/loss.js';
import { addNoise, alphaBarAt, checkPredictionType, getVelocity, type PredictionType, type Timesteps } from './forward.js';

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

export { weightedMseLoss };
