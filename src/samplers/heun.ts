/**
 * Heun's method (EDM, Karras et al. 2022, Alg. 2, with optional churn): an Euler predictor to
 * sigma_{i+1}, then the trapezoidal corrector
 *   x_{i+1} = xHat + (sigma_{i+1} - sigmaHat) (d_i + d'_i) / 2,  d'_i = (x' - D(x', sigma_{i+1})) / sigma_{i+1};
 * the last step to sigma = 0 is plain Euler (d' is undefined there). Second order; two model
 * calls per step (one on the last).
 */
import type { Tensor } from '../tensor/tensor.js';
import { checkSamplerArgs, churn, denoise, lin, toD, type Denoiser } from './sampler.js';
import type { EulerOptions } from './euler.js';

/** @example const x0 = heun(denoiser, xT, karrasSigmas(10, 0.002, 80)); */
export function heun(denoiser: Denoiser, x: Tensor, sigmas: ArrayLike<number>, options: EulerOptions = {}): Tensor {
  const s = checkSamplerArgs('heun', denoiser, x, sigmas, options);
  const steps = s.length - 1;
  for (let i = 0; i < steps; i++) {
    const c = churn('heun', x, s[i]!, steps, options);
    x = c.x;
    const denoised = denoise('heun', denoiser, x, c.sigmaHat, options);
    const d = toD(x, c.sigmaHat, denoised);
    options.callback?.({ i, sigma: s[i]!, sigmaHat: c.sigmaHat, x, denoised });
    const next = s[i + 1]!;
    const dt = next - c.sigmaHat;
    if (next === 0) {
      x = lin([1, x], [dt, d]);
      continue;
    }
    const x2 = lin([1, x], [dt, d]);
    const d2 = toD(x2, next, denoise('heun', denoiser, x2, next, options));
    x = lin([1, x], [dt / 2, d], [dt / 2, d2]);
  }
  return x;
}
