/**
 * Ancestral DPM-Solver-2 (k-diffusion's sample_dpm_2_ancestral): the DPM-2 midpoint step
 * (dpm_2.ts) down to sigmaDown, then fresh noise of std sigmaUp (sigmaDown^2 + sigmaUp^2 =
 * sigma_{i+1}^2, as euler_ancestral). Two model calls per step.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ancestralStep, checkSamplerArgs, denoise, lin, noiseLike, numberOption, toD, type Denoiser } from './sampler.js';
import type { AncestralOptions } from './euler_ancestral.js';

/** @example const x0 = dpm2Ancestral(denoiser, xT, sigmas, { generator: new Generator(0) }); */
export function dpm2Ancestral(denoiser: Denoiser, x: Tensor, sigmas: ArrayLike<number>, options: AncestralOptions = {}): Tensor {
  const op = 'dpm_2_ancestral';
  const s = checkSamplerArgs(op, denoiser, x, sigmas, options);
  const eta = numberOption(op, 'eta', options.eta, 1);
  const sNoise = numberOption(op, 'sNoise', options.sNoise, 1);
  for (let i = 0; i + 1 < s.length; i++) {
    const sigma = s[i]!;
    const denoised = denoise(op, denoiser, x, sigma, options);
    const { sigmaDown, sigmaUp } = ancestralStep(sigma, s[i + 1]!, eta);
    const d = toD(x, sigma, denoised);
    options.callback?.({ i, sigma, sigmaHat: sigma, x, denoised });
    if (sigmaDown === 0) {
      x = lin([1, x], [sigmaDown - sigma, d]);
    } else {
      const sigmaMid = Math.sqrt(sigma * sigmaDown);
      const xMid = lin([1, x], [sigmaMid - sigma, d]);
      const dMid = toD(xMid, sigmaMid, denoise(op, denoiser, xMid, sigmaMid, options));
      x = lin([1, x], [sigmaDown - sigma, dMid]);
    }
    if (s[i + 1]! > 0 && sigmaUp > 0) x = lin([1, x], [sigmaUp * sNoise, noiseLike(op, x, options)]);
  }
  return x;
}
