/**
 * EulerAncestralDiscreteScheduler: Euler ancestral sampling (k-diffusion's `sample_euler_ancestral`;
 * Karras et al. 2022 sec. 3 / Song et al. 2021's ancestral split of each step), diffusers-compatible
 * (config keys, defaults, timesteps, sigmas and step arithmetic of diffusers 0.25.1). Each step
 * from sigma_i to sigma_{i+1} splits the target level into a deterministic part and fresh noise:
 *   sigma_up = sqrt(sigma_{i+1}^2 (sigma_i^2 - sigma_{i+1}^2) / sigma_i^2),
 *   sigma_down = sqrt(sigma_{i+1}^2 - sigma_up^2),
 *   x_{i+1} = x + (sigma_down - sigma_i) d + sigma_up z,   d = (x - D(x; sigma_i)) / sigma_i,
 * so x_{i+1} has exactly the marginal noise level sigma_{i+1} (the DDPM-like ancestral sample).
 */
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { PREDICTION_TYPES, type PredictionType } from '../diffusion/forward.js';
import { SCHEDULE_FIELDS, SPACING_FIELDS, enumField, parseSchedulerConfig, type ConfigOf, type DiffusersConfig, type SchedulerOutput, type StepOptions } from './scheduler.js';
import type { TimestepSpacing } from './timesteps.js';
import { SigmaScheduler, sigmaX0Tensor, type SigmaRunSchedule } from './euler_discrete.js';
import { linearCombination } from '../ops/linear_combination.js';
import { dividedDifference } from './divided_difference.js';

/** EulerAncestralDiscreteScheduler's config keys in diffusers 0.25.1's order, with its defaults. */
export const EULER_ANCESTRAL_FIELDS = {
  ...SCHEDULE_FIELDS,
  predictionType: enumField<PredictionType>('prediction_type', PREDICTION_TYPES, 'epsilon'),
  timestepSpacing: enumField<TimestepSpacing>('timestep_spacing', ['leading', 'trailing', 'linspace'], 'linspace'),
  stepsOffset: SPACING_FIELDS.stepsOffset,
  rescaleBetasZeroSnr: SPACING_FIELDS.rescaleBetasZeroSnr,
} as const;

export type EulerAncestralDiscreteSchedulerConfig = ConfigOf<typeof EULER_ANCESTRAL_FIELDS>;

/**
 * Euler ancestral with diffusers' `EulerAncestralDiscreteScheduler` contract. Every step but a
 * final one to sigma = 0 adds noise: pass { generator } or { noise }.
 * @example
 * const s = new EulerAncestralDiscreteScheduler();
 * s.setTimesteps(30);
 * for (const t of s.timesteps) x = s.step(model(s.scaleModelInput(x, t), t), t, x, { generator }).prevSample;
 */
export class EulerAncestralDiscreteScheduler extends SigmaScheduler<EulerAncestralDiscreteSchedulerConfig> {
  constructor(config: DiffusersConfig = {}) {
    super('EulerAncestralDiscreteScheduler', EULER_ANCESTRAL_FIELDS, parseSchedulerConfig('EulerAncestralDiscreteScheduler', EULER_ANCESTRAL_FIELDS, config));
    this.setTimesteps(this.config.numTrainTimesteps);
  }

  static fromConfig(config: DiffusersConfig): EulerAncestralDiscreteScheduler {
    return new EulerAncestralDiscreteScheduler(config);
  }

  protected makeSchedule(n: number): SigmaRunSchedule {
    // As Euler: float32 timesteps (diffusers' tensors), sigmas interpolated at them.
    const timesteps = Array.from(this.spacedTimesteps(n), Math.fround);
    const sigmas = new Float64Array(n + 1);
    timesteps.forEach((t, i) => (sigmas[i] = this.sigmaAt(t)));
    return { timesteps, sigmas };
  }

  protected resetRun(): void {
    // No memory between steps.
  }

  /** One ancestral step sigma_i -> sigma_{i+1}; noise from options.noise or options.generator. */
  step(modelOutput: Tensor, t: number, x: Tensor, options: StepOptions = {}): SchedulerOutput {
    const op = 'EulerAncestralDiscreteScheduler.step';
    this.checkStepInputs(op, modelOutput, x);
    const pos = this.locate(op, t);
    const sigma = this.sigmaArray[pos.index]!;
    const sigmaNext = this.sigmaArray[pos.index + 1]!;
    // The split of the target variance sigma_{i+1}^2 into sigma_down^2 (ODE) + sigma_up^2 (noise).
    const sigmaUp = Math.sqrt((sigmaNext * sigmaNext * (sigma * sigma - sigmaNext * sigmaNext)) / (sigma * sigma));
    const sigmaDown = Math.sqrt(sigmaNext * sigmaNext - sigmaUp * sigmaUp);
    // diffusers draws noise at every step (a zero sigma_up adds nothing); we ask for it only when used.
    const z = sigmaUp > 0 ? this.stepNoise(op, x, options) : null;
    const out = noGrad(() => {
      const x0 = sigmaX0Tensor(this.config.predictionType, modelOutput, x, sigma);
      const d = dividedDifference(x, x0, sigma);
      const prev = linearCombination([[1, x], [sigmaDown - sigma, d], ...(z === null ? [] : [[sigmaUp, z] as const])], x.dtype);
      return { prevSample: prev, predOriginalSample: x0 };
    });
    this.advance(pos);
    return out;
  }
}
