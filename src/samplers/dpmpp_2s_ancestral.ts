/**
 * Ancestral DPM-Solver++(2S) (Lu et al. 2022, "DPM-Solver++", Alg. 1 single-step second order in
 * data prediction, with r = 1/2; k-diffusion's sample_dpmpp_2s_ancestral). In lambda-time
 * t = -log sigma, with h = t(sigmaDown) - t(sigma_i) and s = t_i + h / 2:
 *   u   = (sigma_s / sigma_i) x - (e^{-h/2} - 1) D(x, sigma_i),
 *   x'  = (sigmaDown / sigma_i) x - (e^{-h} - 1) D(u, sigma_s),
 * then fresh noise of std sigmaUp (as euler_ancestral). Two model calls per step.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ancestralStep, checkSamplerArgs, denoise, lin, noiseLike, numberOption, toD, type Denoiser } from './sampler.js';
import type { AncestralOptions } from './euler_ancestral.js';

/** @example const x0 = dpmpp2sAncestral(denoiser, xT, sigmas, { generator: new Generator(0) }); */
export function dpmpp2sAncestral(denoiser: Denoiser, x: Tensor, sigmas: ArrayLike<number>, options: AncestralOptions = {}): Tensor {
  const op = 'dpmpp_2s_ancestral';
  const s = checkSamplerArgs(op, denoiser, x, sigmas, options);
  const eta = numberOption(op, 'eta', options.eta, 1);
  const sNoise = numberOption(op, 'sNoise', options.sNoise, 1);
  for (let i = 0; i + 1 < s.length; i++) {
    const sigma = s[i]!;
    const denoised = denoise(op, denoiser, x, sigma, options);
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, s[i + 1]!, eta);
    options.callback?.({ i, sigma, sigmaHat: sigma, x, denoised });
    if (sigmaDown === 0) {
      x = lin([1, x], [sigmaDown - sigma, toD(x, sigma, denoised)]); // Euler to 0: x = D
    } else {
      const h = Math.log(sigma) - Math.log(sigmaDown);
      const sigmaS = sigma * Math.exp(-h / 2);
      const u = lin([sigmaS / sigma, x], [-Math.expm1(-h / 2), denoised]);
      const denoised2 = denoise(op, denoiser, u, sigmaS, options);
      x = lin([sigmaDown / sigma, x], [-Math.expm1(-h), denoised2]);
    }
    if (s[i + 1]! > 0 && sigmaUp > 0) x = lin([1, x], [sigmaUp * sNoise, noiseLike(op, x, options)]);
  }
  return x;
}
