/**
 * The k-diffusion-style samplers: pure functions `(denoiser, x, sigmas, options) => x` over the
 * denoiser contract of denoiser.ts, and SAMPLERS, their registry (k-diffusion's names) with each
 * one's order, model calls per step, whether it is stochastic, and its paper.
 */
import { euler } from './euler.js';
import { eulerAncestral } from './euler_ancestral.js';
import { heun } from './heun.js';
import { dpm2 } from './dpm_2.js';
import { dpm2Ancestral } from './dpm_2_ancestral.js';
import { lms } from './lms.js';
import { dpmpp2sAncestral } from './dpmpp_2s_ancestral.js';
import { dpmpp2m } from './dpmpp_2m.js';
import { dpmpp2mSde } from './dpmpp_2m_sde.js';
import { dpmpp3mSde } from './dpmpp_3m_sde.js';
import { dpmAdaptive } from './dpm_adaptive.js';
import type { Sampler, SamplerOptions } from './sampler.js';

export { euler, type EulerOptions } from './euler.js';
export { eulerAncestral, type AncestralOptions } from './euler_ancestral.js';
export { heun } from './heun.js';
export { dpm2 } from './dpm_2.js';
export { dpm2Ancestral } from './dpm_2_ancestral.js';
export { lms, linearMultistepCoefficient, type LmsOptions } from './lms.js';
export { dpmpp2sAncestral } from './dpmpp_2s_ancestral.js';
export { dpmpp2m } from './dpmpp_2m.js';
export { dpmpp2mSde, type DpmppSdeOptions, type Dpmpp2mSdeOptions } from './dpmpp_2m_sde.js';
export { dpmpp3mSde } from './dpmpp_3m_sde.js';
export { dpmAdaptive, type DpmAdaptiveOptions, type AdaptiveInfo } from './dpm_adaptive.js';
export { karrasSigmas, exponentialSigmas, polyexponentialSigmas, vpSigmas, appendZero, SIGMA_SCHEDULES, type SigmaScheduleName } from '../diffusion/sigma_ramps.js';
export { DiscreteSchedule, denoiserFromModel, type ModelFunction, type ModelDenoiserOptions, type CountingDenoiser } from './denoiser.js';
export { lin, toD, ancestralStep, type Denoiser, type NoiseSampler, type Sampler, type SamplerOptions, type SamplerProgress, type ChurnOptions } from './sampler.js';

/** The k-diffusion sampler names. */
export type SamplerName =
  | 'euler' | 'euler_ancestral' | 'heun' | 'dpm_2' | 'dpm_2_ancestral' | 'lms'
  | 'dpmpp_2s_ancestral' | 'dpmpp_2m' | 'dpmpp_2m_sde' | 'dpmpp_3m_sde' | 'dpm_adaptive';

/** A registry entry. */
export interface SamplerInfo {
  readonly name: SamplerName;
  /** The sampler (options beyond SamplerOptions are each sampler's own). */
  readonly sample: Sampler<SamplerOptions>;
  /** Convergence order of the deterministic solver (weak order for the stochastic ones). */
  readonly order: number;
  /** Model calls per step (the last step to sigma = 0 may take fewer); 0: adaptive. */
  readonly modelCallsPerStep: number;
  /** Whether it draws noise (needs a generator). */
  readonly stochastic: boolean;
  /** The paper of the algorithm. */
  readonly paper: string;
}

const entry = (name: SamplerName, sample: Sampler<never>, order: number, modelCallsPerStep: number, stochastic: boolean, paper: string): SamplerInfo =>
  Object.freeze({ name, sample: sample as Sampler<SamplerOptions>, order, modelCallsPerStep, stochastic, paper });

const EDM = 'Karras et al. 2022, Elucidating the Design Space of Diffusion-Based Generative Models';
const DPM = 'Lu et al. 2022, DPM-Solver: A Fast ODE Solver for Diffusion Probabilistic Model Sampling';
const DPMPP = 'Lu et al. 2022, DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models';

/** Every sampler by its k-diffusion name. */
export const SAMPLERS: Readonly<Record<SamplerName, SamplerInfo>> = Object.freeze({
  euler: entry('euler', euler, 1, 1, false, `${EDM} (Alg. 2, Euler; churn optional)`),
  euler_ancestral: entry('euler_ancestral', eulerAncestral, 1, 1, true, 'Ho et al. 2020, Denoising Diffusion Probabilistic Models (ancestral sampling, k-diffusion form)'),
  heun: entry('heun', heun, 2, 2, false, `${EDM} (Alg. 1/2)`),
  dpm_2: entry('dpm_2', dpm2, 2, 2, false, `${DPM} (DPM-Solver-2, k-diffusion sigma form)`),
  dpm_2_ancestral: entry('dpm_2_ancestral', dpm2Ancestral, 2, 2, true, `${DPM} (DPM-Solver-2 with ancestral noise)`),
  lms: entry('lms', lms, 4, 1, false, 'Linear multistep (Adams-Bashforth in sigma), Karras et al. 2022 / Liu et al. 2022 (PNDM)'),
  dpmpp_2s_ancestral: entry('dpmpp_2s_ancestral', dpmpp2sAncestral, 2, 2, true, `${DPMPP} (2S, ancestral)`),
  dpmpp_2m: entry('dpmpp_2m', dpmpp2m, 2, 1, false, `${DPMPP} (2M, Alg. 2)`),
  dpmpp_2m_sde: entry('dpmpp_2m_sde', dpmpp2mSde, 2, 1, true, `${DPMPP} (2M SDE, midpoint or heun)`),
  dpmpp_3m_sde: entry('dpmpp_3m_sde', dpmpp3mSde, 3, 1, true, `${DPMPP} (3M SDE)`),
  dpm_adaptive: entry('dpm_adaptive', dpmAdaptive, 3, 0, false, `${DPM} (adaptive step size, sec. 3.3)`),
});

/** Whether `name` is a sampler name. */
export function isSamplerName(name: unknown): name is SamplerName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(SAMPLERS, name);
}
