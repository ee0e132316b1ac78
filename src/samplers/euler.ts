/**
 * Euler's method on the probability-flow ODE dx/dsigma = (x - D(x, sigma)) / sigma, with EDM's
 * optional stochastic churn (Karras et al. 2022, Alg. 2 without the second-order correction):
 *   sigmaHat = sigma_i (1 + gamma_i),  xHat = x + sqrt(sigmaHat^2 - sigma_i^2) eps,
 *   x_{i+1} = xHat + (sigma_{i+1} - sigmaHat) d,  d = (xHat - D(xHat, sigmaHat)) / sigmaHat.
 * First order; one model call per step.
 */
import type { Tensor } from '../tensor/tensor.js';
import { checkSamplerArgs, churn, denoise, lin, toD, type ChurnOptions, type Denoiser, type SamplerOptions } from './sampler.js';

export type EulerOptions = SamplerOptions & ChurnOptions;

/** @example const x0 = euler(denoiser, xT, karrasSigmas(20, 0.002, 80)); */
export function euler(denoiser: Denoiser, x: Tensor, sigmas: ArrayLike<number>, options: EulerOptions = {}): Tensor {
  const s = checkSamplerArgs('euler', denoiser, x, sigmas, options);
  const steps = s.length - 1;
  for (let i = 0; i < steps; i++) {
    const c = churn('euler', x, s[i]!, steps, options);
    x = c.x;
    const denoised = denoise('euler', denoiser, x, c.sigmaHat, options);
    const d = toD(x, c.sigmaHat, denoised);
    options.callback?.({ i, sigma: s[i]!, sigmaHat: c.sigmaHat, x, denoised });
    x = lin([1, x], [s[i + 1]! - c.sigmaHat, d]);
  }
  return x;
}
