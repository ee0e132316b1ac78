/**
 * The analytic oracle for the sigma-schedule schedulers (DPM-Solver, UniPC, DEIS): data x_0 ~
 * N(mu, s^2) has the ideal denoiser E[x_0 | x_t] = mu + alpha s^2 / (alpha^2 s^2 + sigma_t^2)
 * (x_t - alpha mu), and the marginal of x_t = alpha x_0 + sigma_t eps is N(alpha mu, alpha^2 s^2 +
 * sigma_t^2). Every scheduler step with this model is affine in x and in the step noise, so one run
 * on a batch of probes gives the exact mean and variance of the final sample: element 0 starts at
 * the mean of the true marginal at the first sigma, element 1 one standard deviation above it, and
 * for stochastic schedulers element 2 + k gets noise 1 at step k only (0 elsewhere). Started on the
 * true marginal, an exact solver (ODE or SDE) ends on the true marginal at the last sigma, so the
 * remaining difference is the solver's discretisation error.
 */
import { tensor } from '../../src/tensor/create.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import type { PredictionType } from '../../src/diffusion/forward.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

export const MU = 0.5;
export const S = 0.3;

/** What the oracle needs of a scheduler. */
export interface SigmaStepper {
  readonly timesteps: number[];
  readonly sigmas: Float64Array;
  step(modelOutput: Tensor, t: number, x: Tensor, options?: { noise?: Tensor }): { prevSample: Tensor };
}

function vp(sigma: number): { alpha: number; sigmaT: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  return { alpha, sigmaT: sigma * alpha };
}

/** The ideal model output at noise-to-signal ratio `sigma` for data N(MU, S^2). */
export function idealOutput(x: ArrayLike<number>, sigma: number, type: PredictionType): Float64Array {
  const { alpha, sigmaT } = vp(sigma);
  const k = (alpha * S * S) / (alpha * alpha * S * S + sigmaT * sigmaT);
  return Float64Array.from({ length: x.length }, (_, i) => {
    const xi = x[i]!;
    const x0 = MU + k * (xi - alpha * MU);
    const eps = (xi - alpha * x0) / sigmaT;
    switch (type) {
      case 'epsilon':
        return eps;
      case 'sample':
        return x0;
      case 'v_prediction':
        return alpha * eps - sigmaT * x0;
    }
  });
}

/** Exact mean and std of the final sample, and the true marginal's at the last sigma. */
export function gaussianRun(s: SigmaStepper, type: PredictionType = 'epsilon', stochastic = false): { mean: number; std: number; targetMean: number; targetStd: number; error: number } {
  const ts = s.timesteps;
  const sig = s.sigmas;
  const n = ts.length;
  const B = 2 + (stochastic ? n : 0);
  const first = vp(sig[0]!);
  const m0 = first.alpha * MU;
  const sd0 = Math.sqrt(first.alpha ** 2 * S * S + first.sigmaT ** 2);
  const start = new Float64Array(B).fill(m0);
  start[1] = m0 + sd0;
  let x = tensor(start, [B, 1], { dtype: 'float64' });
  ts.forEach((t, k) => {
    const out = tensor(idealOutput(hostBuffer(x), sig[k]!, type), [B, 1], { dtype: 'float64' });
    const noise = new Float64Array(B);
    if (stochastic) noise[2 + k] = 1;
    x = s.step(out, t, x, stochastic ? { noise: tensor(noise, [B, 1], { dtype: 'float64' }) } : {}).prevSample;
  });
  const f = hostBuffer(x);
  const mean = f[0]!;
  let variance = (f[1]! - f[0]!) ** 2;
  for (let k = 2; k < B; k++) variance += (f[k]! - f[0]!) ** 2;
  const last = vp(sig[n]!);
  const targetMean = last.alpha * MU;
  const targetStd = Math.sqrt(last.alpha ** 2 * S * S + last.sigmaT ** 2);
  const std = Math.sqrt(variance);
  return { mean, std, targetMean, targetStd, error: Math.abs(mean - targetMean) + Math.abs(std - targetStd) };
}

/** log2 of successive error ratios when the step count doubles: the observed convergence orders. */
export function observedOrders(errors: readonly number[]): number[] {
  return errors.slice(1).map((e, i) => Math.log2(errors[i]! / e));
}

/**
 * The same oracle for schedulers over discrete DDPM timesteps (DDPM, DDIM): the ideal epsilon
 * model is known in closed form (E[x_0 | x_t] = mu + sqrt(abar) s^2 / (abar s^2 + 1 - abar)
 * (x_t - sqrt(abar) mu)). Each step with it is affine, x -> A x + B + sigma z; `discreteExactMoments`
 * reads A, B and sigma off the scheduler (probing x = 0, 1 and noise = 0, 1) and propagates the
 * mean and variance of x_T ~ N(0, 1) exactly, with no sampling error.
 */
export function idealEpsilon(acp: Float64Array, x: Tensor, t: number): Tensor {
  const a = acp[t]!;
  const k = (Math.sqrt(a) * S * S) / (a * S * S + 1 - a);
  const eps = Float64Array.from(hostBuffer(x), (v) => (v - Math.sqrt(a) * (MU + k * (v - Math.sqrt(a) * MU))) / Math.sqrt(1 - a));
  return tensor(eps, x.shape, { dtype: 'float64' });
}

/** What the discrete oracle needs of a scheduler. */
export interface DiscreteStepper {
  readonly timesteps: number[];
  readonly alphasCumprod: Float64Array;
  step(modelOutput: Tensor, t: number, x: Tensor, options?: { noise?: Tensor }): { prevSample: Tensor };
}

export function discreteExactMoments(s: DiscreteStepper): { mean: number; std: number } {
  const probe = tensor([0, 1], [1, 2], { dtype: 'float64' });
  const noise = (v: number): Tensor => tensor([v, v], [1, 2], { dtype: 'float64' });
  let mean = 0;
  let variance = 1;
  for (const t of s.timesteps) {
    const out = idealEpsilon(s.alphasCumprod, probe, t);
    const r0 = hostBuffer(s.step(out, t, probe, { noise: noise(0) }).prevSample);
    const r1 = hostBuffer(s.step(out, t, probe, { noise: noise(1) }).prevSample);
    const A = r0[1]! - r0[0]!;
    const sigma = r1[0]! - r0[0]!;
    mean = A * mean + r0[0]!;
    variance = A * A * variance + sigma * sigma;
  }
  return { mean, std: Math.sqrt(variance) };
}
