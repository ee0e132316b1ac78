/**
 * DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Alg. 2, variable step sizes as in
 * k-diffusion's sample_dpmpp_2m). In lambda-time t = -log sigma with h_i = t_{i+1} - t_i and
 * r_i = h_{i-1} / h_i, the data prediction is extrapolated from the last two model calls,
 *   D' = (1 + 1 / (2 r_i)) D_i - (1 / (2 r_i)) D_{i-1},
 *   x_{i+1} = (sigma_{i+1} / sigma_i) x_i - (e^{-h_i} - 1) D',
 * with first-order D' = D_i on the first step and on the step to sigma = 0. Second order; one
 * model call per step.
 */
import type { Tensor } from '../tensor/tensor.js';
import { checkSamplerArgs, denoise, lin, type Denoiser, type SamplerOptions } from './sampler.js';

/** @example const x0 = dpmpp2m(denoiser, xT, karrasSigmas(20, 0.002, 80)); */
export function dpmpp2m(denoiser: Denoiser, x: Tensor, sigmas: ArrayLike<number>, options: SamplerOptions = {}): Tensor {
  const s = checkSamplerArgs('dpmpp_2m', denoiser, x, sigmas, options);
  let oldDenoised: Tensor | null = null; // D_{i-1} (multistep memory)
  for (let i = 0; i + 1 < s.length; i++) {
    const sigma = s[i]!;
    const next = s[i + 1]!;
    const denoised = denoise('dpmpp_2m', denoiser, x, sigma, options);
    options.callback?.({ i, sigma, sigmaHat: sigma, x, denoised });
    if (next === 0) {
      x = denoised; // sigma_{i+1} / sigma_i = 0 and e^{-h} - 1 = -1
    } else {
      const h = Math.log(sigma) - Math.log(next);
      let dPrime = denoised;
      if (oldDenoised !== null) {
        const r = (Math.log(s[i - 1]!) - Math.log(sigma)) / h;
        dPrime = lin([1 + 1 / (2 * r), denoised], [-1 / (2 * r), oldDenoised]);
      }
      x = lin([next / sigma, x], [-Math.expm1(-h), dPrime]);
    }
    oldDenoised = denoised;
  }
  return x;
}
