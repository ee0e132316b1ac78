/**
 * DPM-Solver++(2M) SDE (Lu et al. 2022, "DPM-Solver++", sec. 4 and App. B; k-diffusion's
 * sample_dpmpp_2m_sde; diffusers' sde-dpmsolver++). In lambda-time with h = log(sigma_i /
 * sigma_{i+1}), r = h_{i-1} / h and eta scaling the noise:
 *   x' = (sigma_{i+1} / sigma_i) e^{-eta h} x + (1 - e^{-(1+eta) h}) D_i
 *        + c (D_i - D_{i-1}) / r,    c = (1 - e^{-(1+eta) h}) / 2                   (midpoint)
 *                                     c = (1 - e^{-(1+eta) h}) / ((1+eta) h) - e^{-(1+eta) h}   (heun)
 *        + sigma_{i+1} sqrt(1 - e^{-2 eta h}) s_noise z.
 * The step to sigma = 0 returns D_i. Noise: independent Gaussians per step (k-diffusion defaults
 * to a Brownian tree; both are valid SDE discretisations). Second order; one model call per step.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { checkSamplerArgs, denoise, lin, noiseLike, numberOption, type Denoiser, type SamplerOptions } from './sampler.js';

export interface DpmppSdeOptions extends SamplerOptions {
  /** Noise scale (default 1; 0 gives the ODE solver DPM-Solver++(2M)). */
  eta?: number;
  /** Std of the added noise relative to N(0, 1) (default 1). */
  sNoise?: number;
}

export interface Dpmpp2mSdeOptions extends DpmppSdeOptions {
  /** The second-order correction: 'midpoint' (default) or 'heun'. */
  solverType?: 'midpoint' | 'heun';
}

/** @example const x0 = dpmpp2mSde(denoiser, xT, sigmas, { generator: new Generator(0), solverType: 'heun' }); */
export function dpmpp2mSde(denoiser: Denoiser, x: Tensor, sigmas: ArrayLike<number>, options: Dpmpp2mSdeOptions = {}): Tensor {
  const op = 'dpmpp_2m_sde';
  const s = checkSamplerArgs(op, denoiser, x, sigmas, options);
  const eta = numberOption(op, 'eta', options.eta, 1);
  const sNoise = numberOption(op, 'sNoise', options.sNoise, 1);
  const solverType = options.solverType ?? 'midpoint';
  if (solverType !== 'midpoint' && solverType !== 'heun') throw new ArgumentError(`${op}: option 'solverType' must be 'midpoint' or 'heun', found ${JSON.stringify(solverType)}`);
  let oldDenoised: Tensor | null = null; // D_{i-1}
  let hLast = 0; // h_{i-1}
  for (let i = 0; i + 1 < s.length; i++) {
    const sigma = s[i]!;
    const next = s[i + 1]!;
    const denoised = denoise(op, denoiser, x, sigma, options);
    options.callback?.({ i, sigma, sigmaHat: sigma, x, denoised });
    if (next === 0) {
      x = denoised;
      oldDenoised = denoised;
      continue;
    }
    const h = Math.log(sigma) - Math.log(next);
    const etaH = eta * h;
    const phi = -Math.expm1(-h - etaH); // 1 - e^{-(1+eta) h}
    x = lin([(next / sigma) * Math.exp(-etaH), x], [phi, denoised]);
    if (oldDenoised !== null) {
      const r = hLast / h;
      const c = solverType === 'heun' ? phi / (h + etaH) - Math.exp(-h - etaH) : phi / 2;
      x = lin([1, x], [c / r, denoised], [-c / r, oldDenoised]);
    }
    if (eta > 0) x = lin([1, x], [next * Math.sqrt(-Math.expm1(-2 * etaH)) * sNoise, noiseLike(op, x, options)]);
    oldDenoised = denoised;
    hLast = h;
  }
  return x;
}
