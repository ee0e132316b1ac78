/**
 * HeunDiscreteScheduler: Heun's 2nd-order method on the probability-flow ODE (Karras et al. 2022,
 * "Elucidating the Design Space...", Algorithm 1 with gamma = 0; k-diffusion's `sample_heun`),
 * diffusers-compatible (config keys, defaults, timesteps, sigmas and step arithmetic of diffusers
 * 0.25.1). One Heun step from sigma_i to sigma_{i+1} takes two model calls, so the run's timesteps
 * list every interior timestep twice ([t_0, t_1, t_1, ..., t_{N-1}, t_{N-1}], order = 2):
 *   even index (Euler predictor):  d_i = (x_i - D(x_i; sigma_i)) / sigma_i,  x' = x_i + (sigma_{i+1} - sigma_i) d_i
 *   odd index (trapezoid corrector): d' = (x' - D(x'; sigma_{i+1})) / sigma_{i+1},
 *                                    x_{i+1} = x_i + (sigma_{i+1} - sigma_i) (d_i + d') / 2.
 * The last step (to sigma = 0) is a plain Euler step, as in Algorithm 1. The predictor's d_i and
 * x_i are the only state; setTimesteps, or a step that starts a new run, drops them.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { noGrad } from '../tensor/autograd.js';
import { PREDICTION_TYPES, type PredictionType } from '../diffusion/forward.js';
import { CLIP_FIELDS, SCHEDULE_FIELDS, SPACING_FIELDS, boolField, enumField, numberField, parseSchedulerConfig, type ConfigOf, type DiffusersConfig, type SchedulerOutput, type StepOptions } from './scheduler.js';
import type { TimestepSpacing } from './timesteps.js';
import { SigmaScheduler, sigmaX0Tensor, type SigmaRunSchedule } from './euler_discrete.js';
import { linearCombination } from '../ops/linear_combination.js';
import { dividedDifference } from './divided_difference.js';
import { divScalar } from '../ops/scalar.js';
import { clipX0 } from './thresholding.js';

/** HeunDiscreteScheduler's config keys in diffusers 0.25.1's order, with its defaults (Stable Diffusion's betas). */
export const HEUN_FIELDS = {
  numTrainTimesteps: SCHEDULE_FIELDS.numTrainTimesteps,
  betaStart: numberField('beta_start', 0.00085, 0, 1),
  betaEnd: numberField('beta_end', 0.012, 0, 1),
  betaSchedule: SCHEDULE_FIELDS.betaSchedule,
  trainedBetas: SCHEDULE_FIELDS.trainedBetas,
  predictionType: enumField<PredictionType>('prediction_type', PREDICTION_TYPES, 'epsilon'),
  useKarrasSigmas: boolField('use_karras_sigmas', false),
  clipSample: boolField('clip_sample', false),
  clipSampleRange: CLIP_FIELDS.clipSampleRange,
  timestepSpacing: enumField<TimestepSpacing>('timestep_spacing', ['leading', 'trailing', 'linspace'], 'linspace'),
  stepsOffset: SPACING_FIELDS.stepsOffset,
} as const;

export type HeunDiscreteSchedulerConfig = ConfigOf<typeof HEUN_FIELDS>;

/** The predictor half-step's results, kept for the corrector. */
interface Predictor {
  /** d_i, the ODE slope at (x_i, sigma_i). */
  derivative: Tensor; // float64
  /** sigma_{i+1} - sigma_i. */
  dt: number;
  /** x_i. */
  sample: Tensor;
}

/**
 * Heun's method with diffusers' `HeunDiscreteScheduler` contract (two model calls per step).
 * @example
 * const s = new HeunDiscreteScheduler({ beta_start: 0.0001, beta_end: 0.02 });
 * s.setTimesteps(25); // 49 timesteps: 25 predictors, 24 correctors
 * for (const t of s.timesteps) x = s.step(model(s.scaleModelInput(x, t), t), t, x).prevSample;
 */
export class HeunDiscreteScheduler extends SigmaScheduler<HeunDiscreteSchedulerConfig> {
  override readonly order: number = 2;
  #predictor: Predictor | null = null;

  constructor(config: DiffusersConfig = {}) {
    super('HeunDiscreteScheduler', HEUN_FIELDS, parseSchedulerConfig('HeunDiscreteScheduler', HEUN_FIELDS, config));
    this.setTimesteps(this.config.numTrainTimesteps);
  }

  static fromConfig(config: DiffusersConfig): HeunDiscreteScheduler {
    return new HeunDiscreteScheduler(config);
  }

  /** Whether the next step is a predictor (no corrector pending). */
  get stateInFirstOrder(): boolean {
    return this.#predictor === null;
  }

  protected makeSchedule(n: number): SigmaRunSchedule {
    const { timesteps, sigmas } = this.baseSchedule(n);
    // [t_0, t_1, t_1, ..., t_{N-1}, t_{N-1}] and [s_0, s_1, s_1, ..., s_{N-1}, s_{N-1}, 0].
    const ts: number[] = [timesteps[0]!];
    const sig: number[] = [sigmas[0]!];
    for (let i = 1; i < n; i++) {
      ts.push(timesteps[i]!, timesteps[i]!);
      sig.push(sigmas[i]!, sigmas[i]!);
    }
    sig.push(0);
    return { timesteps: ts, sigmas: Float64Array.from(sig) };
  }

  protected resetRun(): void {
    this.#predictor = null;
  }

  /**
   * A predictor (even index) or corrector (odd index) half-step. The predictor returns the Euler
   * point x' (the next model input); the corrector returns x_{i+1}. No autograd graph.
   */
  step(modelOutput: Tensor, t: number, x: Tensor, _options: StepOptions = {}): SchedulerOutput {
    const op = 'HeunDiscreteScheduler.step';
    this.checkStepInputs(op, modelOutput, x);
    const pos = this.locate(op, t);
    const predictor = pos.continues ? this.#predictor : null;
    const first = pos.index % 2 === 0;
    if (!first && predictor === null) {
      throw new ArgumentError(`${op}: timestep ${t} at index ${pos.index} is a corrector half-step, but no predictor step preceded it in this run; step through scheduler.timesteps in order`);
    }
    const sigmas = this.sigmaArray;
    // The predictor evaluates at sigma_i; the corrector at sigma_{i+1} (where x' sits).
    const sigma = first ? sigmas[pos.index]! : sigmas[pos.index - 1]!;
    const sigmaNext = first ? sigmas[pos.index + 1]! : sigmas[pos.index]!;
    const sigmaInput = first ? sigma : sigmaNext;
    const type = this.config.predictionType;
    const out = noGrad(() => {
      const predicted = sigmaX0Tensor(type, modelOutput, x, sigmaInput);
      const x0 = this.config.clipSample ? clipX0(predicted, this.config.clipSampleRange) : predicted;
      const d = dividedDifference(x, x0, sigmaInput); // float64
      if (first) {
        const dt = sigmaNext - sigma;
        return { prev: linearCombination([[1, x], [dt, d]], x.dtype), x0, next: { derivative: d, dt, sample: x } as Predictor };
      }
      // Trapezoid rule: the average of the slopes at both ends, applied from x_i.
      const p = predictor!;
      const meanSlope = divScalar(linearCombination([[1, p.derivative], [1, d]]), 2);
      return { prev: linearCombination([[1, p.sample], [p.dt, meanSlope]], x.dtype), x0, next: null };
    });
    this.advance(pos);
    this.#predictor = out.next;
    return { prevSample: out.prev, predOriginalSample: out.x0 };
  }
}
