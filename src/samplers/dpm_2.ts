/**
 * DPM-Solver-2 in k-diffusion's sigma form (Lu et al. 2022, "DPM-Solver", Alg. 1 with r = 1/2;
 * Karras et al. 2022, Alg. 2 variant): a half step to the log-midpoint
 * sigma_mid = exp((log sigmaHat + log sigma_{i+1}) / 2), then the full step with the midpoint slope:
 *   x_{i+1} = xHat + (sigma_{i+1} - sigmaHat) d(x_mid, sigma_mid).
 * The last step to sigma = 0 is Euler. Second order; two model calls per step.
 */
import type { Tensor } from '../tensor/tensor.js';
import { checkSamplerArgs, churn, denoise, lin, toD, type Denoiser } from './sampler.js';
import type { EulerOptions } from './euler.js';

/** @example const x0 = dpm2(denoiser, xT, karrasSigmas(10, 0.002, 80)); */
export function dpm2(denoiser: Denoiser, x: Tensor, sigmas: ArrayLike<number>, options: EulerOptions = {}): Tensor {
  const s = checkSamplerArgs('dpm_2', denoiser, x, sigmas, options);
  const steps = s.length - 1;
  for (let i = 0; i < steps; i++) {
    const c = churn('dpm_2', x, s[i]!, steps, options);
    x = c.x;
    const denoised = denoise('dpm_2', denoiser, x, c.sigmaHat, options);
    const d = toD(x, c.sigmaHat, denoised);
    options.callback?.({ i, sigma: s[i]!, sigmaHat: c.sigmaHat, x, denoised });
    const next = s[i + 1]!;
    if (next === 0) {
      x = lin([1, x], [next - c.sigmaHat, d]);
      continue;
    }
    const sigmaMid = Math.sqrt(c.sigmaHat * next); // exp of the mean of the logs
    const xMid = lin([1, x], [sigmaMid - c.sigmaHat, d]);
    const dMid = toD(xMid, sigmaMid, denoise('dpm_2', denoiser, xMid, sigmaMid, options));
    x = lin([1, x], [next - c.sigmaHat, dMid]);
  }
  return x;
}
