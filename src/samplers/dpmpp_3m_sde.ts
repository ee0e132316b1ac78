/**
 * DPM-Solver++(3M) SDE (Lu et al. 2022, "DPM-Solver++", third-order multistep in data prediction
 * with the SDE noise of sec. 4; k-diffusion's sample_dpmpp_3m_sde). With h = log(sigma_i /
 * sigma_{i+1}), hEta = (1 + eta) h, the first-order update
 *   x' = e^{-hEta} x + (1 - e^{-hEta}) D_i
 * gains phi_2 D1 - phi_3 D2 from the divided differences of the last three data predictions
 * (phi_2 = (1 - e^{-hEta}) / hEta ... the exponential-integrator weights), then noise of std
 * sigma_{i+1} sqrt(1 - e^{-2 eta h}). Lower order while the history fills; the step to 0 returns D_i.
 * Third order; one model call per step.
 */
import type { Tensor } from '../tensor/tensor.js';
import { checkSamplerArgs, denoise, lin, noiseLike, numberOption, type Denoiser } from './sampler.js';
import type { DpmppSdeOptions } from './dpmpp_2m_sde.js';

/** @example const x0 = dpmpp3mSde(denoiser, xT, sigmas, { generator: new Generator(0) }); */
export function dpmpp3mSde(denoiser: Denoiser, x: Tensor, sigmas: ArrayLike<number>, options: DpmppSdeOptions = {}): Tensor {
  const op = 'dpmpp_3m_sde';
  const s = checkSamplerArgs(op, denoiser, x, sigmas, options);
  const eta = numberOption(op, 'eta', options.eta, 1);
  const sNoise = numberOption(op, 'sNoise', options.sNoise, 1);
  // Multistep memory: D_{i-1}, D_{i-2} and the step sizes h_{i-1}, h_{i-2}.
  let d1: Tensor | null = null;
  let d2: Tensor | null = null;
  let h1 = 0;
  let h2 = 0;
  for (let i = 0; i + 1 < s.length; i++) {
    const sigma = s[i]!;
    const next = s[i + 1]!;
    const denoised = denoise(op, denoiser, x, sigma, options);
    options.callback?.({ i, sigma, sigmaHat: sigma, x, denoised });
    let h = 0;
    if (next === 0) {
      x = denoised;
    } else {
      h = Math.log(sigma) - Math.log(next);
      const hEta = h * (eta + 1);
      x = lin([Math.exp(-hEta), x], [-Math.expm1(-hEta), denoised]);
      const phi2 = Math.expm1(-hEta) / hEta + 1;
      if (d1 !== null && d2 !== null) {
        const r0 = h1 / h;
        const r1 = h2 / h;
        // Divided differences of D over lambda, scaled by h.
        const d10 = lin([1 / r0, denoised], [-1 / r0, d1]);
        const d11 = lin([1 / r1, d1], [-1 / r1, d2]);
        const dFirst = lin([1 + r0 / (r0 + r1), d10], [-r0 / (r0 + r1), d11]);
        const dSecond = lin([1 / (r0 + r1), d10], [-1 / (r0 + r1), d11]);
        const phi3 = phi2 / hEta - 0.5;
        x = lin([1, x], [phi2, dFirst], [-phi3, dSecond]);
      } else if (d1 !== null) {
        const r = h1 / h;
        x = lin([1, x], [phi2 / r, denoised], [-phi2 / r, d1]);
      }
      if (eta > 0) x = lin([1, x], [next * Math.sqrt(-Math.expm1(-2 * h * eta)) * sNoise, noiseLike(op, x, options)]);
    }
    d2 = d1;
    d1 = denoised;
    h2 = h1;
    h1 = h;
  }
  return x;
}
