/**
 * The predictors of predictor-corrector sampling (Song et al. 2021, sec. 4.2 and appendix G):
 * one step of a numerical solver of the reverse SDE from t to t + dt (dt < 0), each returning the
 * new sample x and its noise-free mean xMean (the last step's xMean is the denoised output).
 *   euler_maruyama:     x <- x + [a x - g^2 s] dt + g sqrt(-dt) z                       (eq. 6, Euler-Maruyama)
 *   reverse_diffusion:  x <- x - f_i(x) + G_i^2 s + G_i z                              (eq. 46-47, the reverse of the discretisation)
 *   ancestral:          VP: x <- (x + beta_i s) / sqrt(1 - beta_i) + sqrt(beta_i) z     (eq. 47, DDPM's sampler)
 *                       VE: x <- x + (sigma_i^2 - sigma_{i-1}^2) s + sqrt(sigma_{i-1}^2 (sigma_i^2 - sigma_{i-1}^2) / sigma_i^2) z   (eq. 47, SMLD's)
 * s = s(x, t) from the score function, z ~ N(0, I) from the injected noise source.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { lin, noiseLike, type NoiseSampler } from '../samplers/sampler.js';
import type { Generator } from '../tensor/random.js';
import type { ScoreFn, Sde } from './sde.js';
import type { VpSde } from './vp.js';
import type { VeSde } from './ve.js';

export type PredictorName = 'euler_maruyama' | 'reverse_diffusion' | 'ancestral' | 'none';
export const PREDICTOR_NAMES: readonly PredictorName[] = ['euler_maruyama', 'reverse_diffusion', 'ancestral', 'none'];

/** A step's result: the sample and its mean before the noise was added. */
export interface PcStep {
  x: Tensor;
  xMean: Tensor;
}

/** Where the noise z comes from (a generator, or a noise source, which takes precedence). */
export interface NoiseOptions {
  generator?: Generator;
  noise?: NoiseSampler;
}

/** Euler-Maruyama on the reverse SDE from t to t + dt (dt < 0; score_sde uses dt = -T / N). */
export function eulerMaruyamaPredictor(sde: Sde, score: ScoreFn, x: Tensor, t: number, dt: number, noise: NoiseOptions): PcStep {
  const { xCoef, scoreCoef } = sde.reverseDriftCoefs(t, false);
  const s = score(x, t);
  const xMean = lin([1 + xCoef * dt, x], [scoreCoef * dt, s]);
  const z = noiseLike('euler_maruyama', x, noise);
  return { x: lin([1, xMean], [sde.reverseDiffusion(t, false) * Math.sqrt(-dt), z]), xMean };
}

/** The reverse of the SDE's own discretisation (the paper's reverse diffusion sampler). */
export function reverseDiffusionPredictor(sde: Sde, score: ScoreFn, x: Tensor, t: number, noise: NoiseOptions): PcStep {
  const { fCoef, scoreCoef, G } = sde.reverseDiscretize(t, false);
  const s = score(x, t);
  // x - f_rev with f_rev = fCoef x + scoreCoef s.
  const xMean = lin([1 - fCoef, x], [-scoreCoef, s]);
  const z = noiseLike('reverse_diffusion', x, noise);
  return { x: lin([1, xMean], [G, z]), xMean };
}

/** Ancestral sampling of the discrete model (DDPM for VP, SMLD for VE); sub-VP has no discrete ancestor. */
export function ancestralPredictor(sde: Sde, score: ScoreFn, x: Tensor, t: number, noise: NoiseOptions): PcStep {
  const i = sde.stepIndex(t);
  switch (sde.name) {
    case 'vp': {
      const beta = (sde as VpSde).discreteBeta(i);
      const s = score(x, t);
      const xMean = lin([1 / Math.sqrt(1 - beta), x], [beta / Math.sqrt(1 - beta), s]);
      return { x: lin([1, xMean], [Math.sqrt(beta), noiseLike('ancestral', x, noise)]), xMean };
    }
    case 've': {
      const sig = (sde as VeSde).discreteSigmas;
      const sigma = sig[i]!;
      const prev = i === 0 ? 0 : sig[i - 1]!;
      const s = score(x, t);
      const xMean = lin([1, x], [sigma * sigma - prev * prev, s]);
      const std = Math.sqrt((prev * prev * (sigma * sigma - prev * prev)) / (sigma * sigma));
      return { x: lin([1, xMean], [std, noiseLike('ancestral', x, noise)]), xMean };
    }
    case 'subvp':
      throw new ArgumentError("ancestral predictor: the sub-VP SDE has no discrete ancestor to sample; use --predictor reverse_diffusion or euler_maruyama");
  }
}

/**
 * One predictor step by name ('none' returns x unchanged).
 * @example const { x, xMean } = predictorStep('reverse_diffusion', sde, score, x, t, -1 / sde.N, { generator });
 */
export function predictorStep(name: PredictorName, sde: Sde, score: ScoreFn, x: Tensor, t: number, dt: number, noise: NoiseOptions): PcStep {
  switch (name) {
    case 'euler_maruyama':
      return eulerMaruyamaPredictor(sde, score, x, t, dt, noise);
    case 'reverse_diffusion':
      return reverseDiffusionPredictor(sde, score, x, t, noise);
    case 'ancestral':
      return ancestralPredictor(sde, score, x, t, noise);
    case 'none':
      return { x, xMean: x };
    default:
      throw new ArgumentError(`predictor must be one of ${PREDICTOR_NAMES.join(', ')}, found ${JSON.stringify(name)}`);
  }
}
