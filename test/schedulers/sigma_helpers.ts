/**
 * Test helpers for the sigma schedulers (Euler, Euler ancestral, Heun, DPM2, LMS): the diffusers
 * sampling vectors' stand-in model and loop, and the Gaussian-data oracle. For data N(MU, S^2) in
 * the VE form x = x_0 + sigma eps the ideal denoiser is D(x, sigma) = (S^2 x + sigma^2 MU) /
 * (S^2 + sigma^2) (issue 4), affine in x, so a deterministic run maps x_T affinely and the final
 * mean and variance follow exactly from two probe runs (x_T = 0 and 1); each noise injection adds
 * its own variance, read off by a run with unit noise at that step only.
 */
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/create.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import type { PredictionType } from '../../src/diffusion/forward.js';
import type { Scheduler, StepOptions } from '../../src/schedulers/scheduler.js';
import { MU, S } from '../helpers/gaussian_moments.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

/** The vectors are NCHW [2, 1, 8, 8]; with C = 1 the same data is NHWC [2, 8, 8, 1]. */
export const SHAPE = [2, 8, 8, 1];

/** The vectors' stand-in model (see test/fixtures/diffusers/README.md), float32 arithmetic. */
export function standInModel(x: ArrayLike<number>, t: number): Tensor {
  const c = Math.fround(0.3 * Math.cos(((t / 1000) * Math.PI) / 2));
  return tensor(Float32Array.from({ length: x.length }, (_, k) => Math.fround(Math.fround(x[k]! * c) + Math.fround(0.05 * Math.sin(k)))), SHAPE);
}

export interface SamplingStep {
  t: number;
  noise?: number[];
  model_input: number[];
  model_output: number[];
  pred_original_sample: number[];
  prev_sample: number[];
}
export interface SamplingCase {
  name: string;
  scheduler: string;
  config: Record<string, unknown>;
  num_inference_steps: number;
  step_kwargs: Record<string, unknown>;
  timesteps: number[];
  sigmas: number[];
  init_noise_sigma: number;
  initial_sample: number[];
  steps: SamplingStep[];
  final_sample: number[];
}

// The Gaussian data and the order estimate are shared with the multistep schedulers' oracle.
export { MU, S, observedOrders } from '../helpers/gaussian_moments.js';

/** The model output of `type` whose x_0 is the ideal denoiser's D(x, sigma). */
export function idealOutput(x: Tensor, sigma: number, type: PredictionType): Tensor {
  const out = Float64Array.from(hostBuffer(x), (v) => {
    const d = (S * S * v + sigma * sigma * MU) / (S * S + sigma * sigma);
    switch (type) {
      case 'epsilon':
        return (v - d) / sigma;
      case 'sample':
        return d;
      case 'v_prediction':
        // Inverts x_0 = x / (sigma^2 + 1) - sigma v / sqrt(sigma^2 + 1).
        return ((v / (sigma * sigma + 1) - d) * Math.sqrt(sigma * sigma + 1)) / sigma;
    }
  });
  return tensor(out, x.shape, { dtype: 'float64' });
}

/** The sigma a scheduler scales the model input for at t, read off scaleModelInput(1) = 1 / sqrt(sigma^2 + 1). */
export function inputSigma(s: Scheduler, t: number): number {
  const c = hostBuffer(s.scaleModelInput(tensor([1], [1], { dtype: 'float64' }), t))[0]!;
  return Math.sqrt(1 / (c * c) - 1);
}

/**
 * The exact mean and std of the final sample for x_T ~ N(0, initNoiseSigma^2) under the ideal
 * denoiser, after setTimesteps(n). `stochastic`: the steps take { noise } (ancestral).
 */
export function gaussianMoments(s: Scheduler<StepOptions>, n: number, type: PredictionType, stochastic = false): { mean: number; std: number } {
  s.setTimesteps(n);
  const ts = s.timesteps;
  const run = (xT: number, noiseAt: number): number[] => {
    let x = tensor([0, xT], [2, 1], { dtype: 'float64' });
    ts.forEach((t, k) => {
      const out = idealOutput(x, inputSigma(s, t), type);
      const noise = tensor(k === noiseAt ? [1, 1] : [0, 0], [2, 1], { dtype: 'float64' });
      x = s.step(out, t, x, stochastic ? { noise } : {}).prevSample;
    });
    return Array.from(hostBuffer(x));
  };
  const [b, b1] = run(1, -1) as [number, number];
  const a = b1 - b;
  let variance = a * a * s.initNoiseSigma * s.initNoiseSigma;
  if (stochastic) {
    for (let k = 0; k < ts.length; k++) {
      const r = run(0, k)[0]! - b;
      variance += r * r;
    }
  }
  return { mean: b, std: Math.sqrt(variance) };
}


/**
 * Sigmas vs diffusers' float32 ones, element by element relative: diffusers' 1 - abar in float32
 * cancels at small t (sigma_0 = 0.01000133 vs the float64 0.0100005, 8.3e-5 relative), so 2e-4.
 */
export function assertSigmasClose(actual: readonly number[], expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length}, expected ${expected.length}`);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    assert.ok(Math.abs(a - e) <= 2e-4 * Math.abs(e), `${what}[${i}]: ${a} vs diffusers ${e}`);
  });
}

/** The ideal Gaussian denoiser D(x, sigma) as a k-diffusion denoiser (for the pure samplers). */
export function idealDenoiser(x: Tensor, sigma: number): Tensor {
  return idealOutput(x, sigma, 'sample');
}

/**
 * A full scheduler run with the ideal denoiser handed over as an x_0 model output (the scheduler
 * must have prediction_type 'sample') at the sigma the scheduler scales its input for: the scheduler-side twin of sampler(D, x, sigmas).
 */
export function schedulerRun(s: Scheduler<StepOptions>, n: number, xT: Tensor, options: StepOptions = {}): Tensor {
  s.setTimesteps(n);
  let x = xT;
  for (const t of s.timesteps) x = s.step(idealDenoiser(x, inputSigma(s, t)), t, x, options).prevSample;
  return x;
}

/** The distinct sigmas of a run (second-order schedulers list each interior one twice) ending in 0. */
export function distinctSigmas(sigmas: readonly number[]): number[] {
  const out: number[] = [];
  for (const v of sigmas) if (out[out.length - 1] !== v) out.push(v);
  return out;
}
