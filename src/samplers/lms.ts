/**
 * Linear multistep (Adams-Bashforth in sigma with variable steps; k-diffusion's sample_lms, after
 * Karras et al. 2022 sec. 3 and the PLMS idea of Liu et al. 2022): with the last `order`
 * derivatives d_{i-j} = (x - D(x, sigma_{i-j})) / sigma_{i-j},
 *   x_{i+1} = x_i + sum_j c_j d_{i-j},  c_j = integral_{sigma_i}^{sigma_{i+1}} l_j(sigma) dsigma,
 * l_j the Lagrange basis polynomial through sigma_i, ..., sigma_{i-order+1}. The integrand is a
 * polynomial of degree < 4, so 4-point Gauss-Legendre integrates it exactly (k-diffusion uses
 * scipy's quad). Order up to 4 (lower while the history fills); one model call per step.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { checkSamplerArgs, denoise, lin, toD, type Denoiser, type SamplerOptions } from './sampler.js';

export interface LmsOptions extends SamplerOptions {
  /** Number of past derivatives used, 1-4 (default 4). */
  order?: number;
}

/** 4-point Gauss-Legendre nodes and weights on [-1, 1]: exact for polynomials of degree <= 7. */
const GL_NODES = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526] as const;
const GL_WEIGHTS = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538] as const;

/**
 * c_j = integral from sigmas[i] to sigmas[i+1] of the Lagrange basis polynomial of node
 * sigmas[i - j] over the nodes sigmas[i], ..., sigmas[i - order + 1] (k-diffusion's
 * linear_multistep_coeff).
 */
export function linearMultistepCoefficient(order: number, sigmas: ArrayLike<number>, i: number, j: number): number {
  const basis = (tau: number): number => {
    let prod = 1;
    for (let k = 0; k < order; k++) {
      if (k === j) continue;
      prod *= (tau - sigmas[i - k]!) / (sigmas[i - j]! - sigmas[i - k]!);
    }
    return prod;
  };
  const a = sigmas[i]!;
  const b = sigmas[i + 1]!;
  let sum = 0;
  for (let q = 0; q < GL_NODES.length; q++) sum += GL_WEIGHTS[q]! * basis((a + b) / 2 + ((b - a) / 2) * GL_NODES[q]!);
  return ((b - a) / 2) * sum;
}

/** @example const x0 = lms(denoiser, xT, karrasSigmas(20, 0.002, 80), { order: 4 }); */
export function lms(denoiser: Denoiser, x: Tensor, sigmas: ArrayLike<number>, options: LmsOptions = {}): Tensor {
  const s = checkSamplerArgs('lms', denoiser, x, sigmas, options);
  const order = options.order ?? 4;
  if (!Number.isInteger(order) || order < 1 || order > 4) throw new ArgumentError(`lms: option 'order' must be an integer in [1, 4], found ${String(order)}`);
  const ds: Tensor[] = []; // the last `order` derivatives, newest last (multistep memory)
  for (let i = 0; i + 1 < s.length; i++) {
    const denoised = denoise('lms', denoiser, x, s[i]!, options);
    options.callback?.({ i, sigma: s[i]!, sigmaHat: s[i]!, x, denoised });
    ds.push(toD(x, s[i]!, denoised));
    if (ds.length > order) ds.shift();
    const cur = Math.min(i + 1, order);
    const terms: (readonly [number, Tensor])[] = [[1, x]];
    for (let j = 0; j < cur; j++) terms.push([linearMultistepCoefficient(cur, s, i, j), ds[ds.length - 1 - j]!]);
    x = lin(...terms);
  }
  return x;
}
