/**
 * Ancestral Euler (k-diffusion's sample_euler_ancestral): each step is an Euler step of the ODE
 * down to sigmaDown, then fresh noise of std sigmaUp, where sigmaDown^2 + sigmaUp^2 = sigma_{i+1}^2
 * and eta scales the DDPM posterior noise (Ho et al. 2020 eq. 7 in sigma form):
 *   x <- x + (sigmaDown - sigma_i) (x - D(x, sigma_i)) / sigma_i + sigmaUp * s_noise * z.
 * First order (weak); one model call per step.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ancestralStep, checkSamplerArgs, denoise, lin, noiseLike, numberOption, toD, type Denoiser, type SamplerOptions } from './sampler.js';

export interface AncestralOptions extends SamplerOptions {
  /** Scale of the ancestral noise (default 1; 0 gives the deterministic sampler). */
  eta?: number;
  /** Std of the added noise relative to N(0, 1) (default 1). */
  sNoise?: number;
}

/** @example const x0 = eulerAncestral(denoiser, xT, sigmas, { generator: new Generator(0) }); */
export function eulerAncestral(denoiser: Denoiser, x: Tensor, sigmas: ArrayLike<number>, options: AncestralOptions = {}): Tensor {
  const op = 'euler_ancestral';
  const s = checkSamplerArgs(op, denoiser, x, sigmas, options);
  const eta = numberOption(op, 'eta', options.eta, 1);
  const sNoise = numberOption(op, 'sNoise', options.sNoise, 1);
  for (let i = 0; i + 1 < s.length; i++) {
    const denoised = denoise(op, denoiser, x, s[i]!, options);
    const { sigmaDown, sigmaUp } = ancestralStep(s[i]!, s[i + 1]!, eta);
    options.callback?.({ i, sigma: s[i]!, sigmaHat: s[i]!, x, denoised });
    x = lin([1, x], [sigmaDown - s[i]!, toD(x, s[i]!, denoised)]);
    if (s[i + 1]! > 0 && sigmaUp > 0) x = lin([1, x], [sigmaUp * sNoise, noiseLike(op, x, options)]);
  }
  return x;
}
