/**
 * Noise-level (sigma) ramps, descending, shared by the k-diffusion samplers (each with a final 0
 * appended: k-diffusion's get_sigmas_*) and the diffusers schedulers (`karrasRamp`, without it):
 * - karras: sigma_i = (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho
 *   (Karras et al. 2022, eq. 5; rho = 7),
 * - exponential: log-linear from sigma_max to sigma_min,
 * - polyexponential: log sigma = log sigma_min + ramp^rho (log sigma_max - log sigma_min), ramp 1 -> 0,
 * - vp: the variance-preserving SDE's sigma(t) = sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1),
 *   t from 1 to eps_s (Song et al. 2021, "Score-Based Generative Modeling through SDEs", eq. 33),
 * - the model's own discrete training sigmas, spaced over n steps (DiscreteSchedule.getSigmas in
 *   denoiser.ts).
 * Computed in float64.
 */
import { linspace } from './schedules.js';
import { ArgumentError } from '../tensor/errors.js';

/** The sigma schedules by name (the model's own discrete one lives on DiscreteSchedule). */
export type SigmaScheduleName = 'karras' | 'exponential' | 'polyexponential' | 'vp' | 'discrete';
export const SIGMA_SCHEDULES: readonly SigmaScheduleName[] = ['karras', 'exponential', 'polyexponential', 'vp', 'discrete'];

function checkN(op: string, n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new ArgumentError(`${op}: n (number of steps) must be an integer >= 1, found ${String(n)}`);
}

function checkRange(op: string, sigmaMin: unknown, sigmaMax: unknown): asserts sigmaMin is number {
  if (typeof sigmaMin !== 'number' || !(sigmaMin > 0) || !Number.isFinite(sigmaMin)) throw new ArgumentError(`${op}: sigmaMin must be a finite number > 0, found ${String(sigmaMin)}`);
  if (typeof sigmaMax !== 'number' || !Number.isFinite(sigmaMax) || !(sigmaMax >= sigmaMin)) {
    throw new ArgumentError(`${op}: sigmaMax must be a finite number >= sigmaMin (${sigmaMin}), found ${String(sigmaMax)}`);
  }
}

function checkPositive(op: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) throw new ArgumentError(`${op}: ${name} must be a finite number > 0, found ${String(v)}`);
}

/** Appends the final sigma = 0. */
export function appendZero(sigmas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(sigmas.length + 1);
  out.set(Array.from(sigmas));
  return out;
}

/**
 * Karras et al. 2022 eq. 5: n noise levels from sigmaMax to sigmaMin, spaced evenly in
 * sigma^(1/rho), then 0.
 * @example karrasSigmas(20, 0.002, 80) // 21 values, last 0
 */
export function karrasSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array {
  checkN('karrasSigmas', n);
  checkRange('karrasSigmas', sigmaMin, sigmaMax);
  checkPositive('karrasSigmas', 'rho', rho);
  return appendZero(karrasRamp(n, sigmaMin, sigmaMax, rho));
}

/** Karras et al. 2022 eq. 5 without the final 0 (the schedulers' form); no argument checks. */
export function karrasRamp(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array {
  const maxInv = sigmaMax ** (1 / rho);
  const minInv = sigmaMin ** (1 / rho);
  return linspace(0, 1, n).map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/** n noise levels evenly spaced in log sigma, then 0. @example exponentialSigmas(10, 0.03, 14.6) */
export function exponentialSigmas(n: number, sigmaMin: number, sigmaMax: number): Float64Array {
  checkN('exponentialSigmas', n);
  checkRange('exponentialSigmas', sigmaMin, sigmaMax);
  return appendZero(linspace(Math.log(sigmaMax), Math.log(sigmaMin), n).map(Math.exp));
}

/**
 * log sigma = log sigmaMin + ramp^rho (log sigmaMax - log sigmaMin), ramp from 1 to 0; rho = 1 is
 * the exponential schedule. @example polyexponentialSigmas(10, 0.03, 14.6, 2)
 */
export function polyexponentialSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 1): Float64Array {
  checkN('polyexponentialSigmas', n);
  checkRange('polyexponentialSigmas', sigmaMin, sigmaMax);
  checkPositive('polyexponentialSigmas', 'rho', rho);
  const lo = Math.log(sigmaMin);
  const hi = Math.log(sigmaMax);
  return appendZero(linspace(1, 0, n).map((r) => Math.exp(r ** rho * (hi - lo) + lo)));
}

/**
 * The VP SDE's continuous sigmas, t from 1 down to epsS (Song et al. 2021; beta(t) = beta_min +
 * t beta_d). @example vpSigmas(10) // sigma_max ~ 152 for the defaults
 */
export function vpSigmas(n: number, betaD = 19.9, betaMin = 0.1, epsS = 1e-3): Float64Array {
  checkN('vpSigmas', n);
  checkPositive('vpSigmas', 'betaD', betaD);
  checkPositive('vpSigmas', 'betaMin', betaMin);
  checkPositive('vpSigmas', 'epsS', epsS);
  return appendZero(linspace(1, epsS, n).map((t) => Math.sqrt(Math.expm1((betaD * t * t) / 2 + betaMin * t))));
}
