/**
 * KDPM2DiscreteScheduler: DPM-Solver-2 in Karras et al. 2022's form (their Algorithm 1 with the
 * midpoint rule; k-diffusion's `sample_dpm_2`, after Lu et al. 2022, "DPM-Solver", Algorithm 1 with
 * r = 1/2), diffusers-compatible (config keys, defaults, timesteps, sigmas and step arithmetic of
 * diffusers 0.25.1). Each step from sigma_i to sigma_{i+1} evaluates the model at the log-midpoint
 * sigma_mid = sqrt(sigma_i sigma_{i+1}):
 *   even index:  d_i = (x_i - D(x_i; sigma_i)) / sigma_i,  x_mid = x_i + (sigma_mid - sigma_i) d_i
 *   odd index:   d_mid = (x_mid - D(x_mid; sigma_mid)) / sigma_mid,  x_{i+1} = x_i + (sigma_{i+1} - sigma_i) d_mid.
 * The timesteps interleave the midpoints' fractional timesteps: [t_0, t_mid1, t_1, t_mid2, t_2, ...]
 * (order = 2); the last step (to sigma = 0) is a plain Euler step. x_i is the only state between
 * the half-steps; setTimesteps, or a step that starts a new run, drops it.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { noGrad } from '../tensor/autograd.js';
import { PREDICTION_TYPES, type PredictionType } from '../diffusion/forward.js';
import { SCHEDULE_FIELDS, SPACING_FIELDS, boolField, enumField, numberField, parseSchedulerConfig, type ConfigOf, type DiffusersConfig, type SchedulerOutput, type StepOptions } from './scheduler.js';
import { roundHalfEven, type TimestepSpacing } from './timesteps.js';
import { SigmaScheduler, sigmaX0Tensor, type SigmaRunSchedule } from './euler_discrete.js';
import { linearCombination } from '../ops/linear_combination.js';
import { dividedDifference } from './divided_difference.js';

/** KDPM2DiscreteScheduler's config keys in diffusers 0.25.1's order, with its defaults (Stable Diffusion's betas). */
export const KDPM2_FIELDS = {
  numTrainTimesteps: SCHEDULE_FIELDS.numTrainTimesteps,
  betaStart: numberField('beta_start', 0.00085, 0, 1),
  betaEnd: numberField('beta_end', 0.012, 0, 1),
  betaSchedule: SCHEDULE_FIELDS.betaSchedule,
  trainedBetas: SCHEDULE_FIELDS.trainedBetas,
  useKarrasSigmas: boolField('use_karras_sigmas', false),
  predictionType: enumField<PredictionType>('prediction_type', PREDICTION_TYPES, 'epsilon'),
  timestepSpacing: enumField<TimestepSpacing>('timestep_spacing', ['leading', 'trailing', 'linspace'], 'linspace'),
  stepsOffset: SPACING_FIELDS.stepsOffset,
} as const;

export type KDPM2DiscreteSchedulerConfig = ConfigOf<typeof KDPM2_FIELDS>;

/**
 * DPM2 with diffusers' `KDPM2DiscreteScheduler` contract (two model calls per step).
 * @example
 * const s = new KDPM2DiscreteScheduler({ beta_start: 0.0001, beta_end: 0.02 });
 * s.setTimesteps(25); // 49 timesteps: 25 full-step points, 24 midpoints
 * for (const t of s.timesteps) x = s.step(model(s.scaleModelInput(x, t), t), t, x).prevSample;
 */
export class KDPM2DiscreteScheduler extends SigmaScheduler<KDPM2DiscreteSchedulerConfig> {
  override readonly order: number = 2;
  /** sigma_mid per step index (the midpoint a half-step heads to or evaluates at). */
  #sigmasInterpol: Float64Array = new Float64Array(1);
  /** x_i, kept between the two half-steps. */
  #sample: Tensor | null = null;

  constructor(config: DiffusersConfig = {}) {
    super('KDPM2DiscreteScheduler', KDPM2_FIELDS, parseSchedulerConfig('KDPM2DiscreteScheduler', KDPM2_FIELDS, config));
    this.setTimesteps(this.config.numTrainTimesteps);
  }

  static fromConfig(config: DiffusersConfig): KDPM2DiscreteScheduler {
    return new KDPM2DiscreteScheduler(config);
  }

  /** The log-midpoint sigmas per step index (a copy). */
  get sigmasInterpol(): number[] {
    return Array.from(this.#sigmasInterpol);
  }

  /** Whether the next step is a first half-step (no midpoint pending). */
  get stateInFirstOrder(): boolean {
    return this.#sample === null;
  }

  protected makeSchedule(n: number): SigmaRunSchedule {
    const base = this.baseSchedule(n);
    // diffusers rounds the Karras schedule's timesteps to integers for DPM2.
    const timesteps = this.config.useKarrasSigmas ? base.timesteps.map(roundHalfEven) : base.timesteps;
    const s = [...base.sigmas, 0]; // s_0 .. s_{N-1}, 0
    // sigma_mid_i = exp((log s_i + log s_{i-1}) / 2) = sqrt(s_i s_{i-1}) for i = 1..N.
    const mid = (i: number): number => Math.sqrt(s[i]! * s[i - 1]!);
    const sig: number[] = [s[0]!];
    const interp: number[] = [NaN]; // index 0 never reads its midpoint
    const ts: number[] = [timesteps[0]!];
    for (let i = 1; i <= n; i++) {
      sig.push(s[i]!, s[i]!);
      interp.push(mid(i), mid(i));
      if (i < n) ts.push(this.sigmaToT(mid(i)), timesteps[i]!);
    }
    sig.push(0);
    interp.push(0);
    this.#sigmasInterpol = Float64Array.from(interp);
    return { timesteps: ts, sigmas: Float64Array.from(sig) };
  }

  protected resetRun(): void {
    this.#sample = null;
  }

  protected override inputSigma(index: number): number {
    // Odd indices evaluate the model at the midpoint.
    return index % 2 === 0 ? this.sigmaArray[index]! : this.#sigmasInterpol[index]!;
  }

  /**
   * A first half-step to the midpoint (even index) or the full step using the midpoint's slope
   * (odd index). No autograd graph.
   */
  step(modelOutput: Tensor, t: number, x: Tensor, _options: StepOptions = {}): SchedulerOutput {
    const op = 'KDPM2DiscreteScheduler.step';
    this.checkStepInputs(op, modelOutput, x);
    const pos = this.locate(op, t);
    const saved = pos.continues ? this.#sample : null;
    const first = pos.index % 2 === 0;
    if (!first && saved === null) {
      throw new ArgumentError(`${op}: timestep ${t} at index ${pos.index} is a midpoint half-step, but no first half-step preceded it in this run; step through scheduler.timesteps in order`);
    }
    const sigmas = this.sigmaArray;
    const sigma = first ? sigmas[pos.index]! : sigmas[pos.index - 1]!;
    const sigmaMid = first ? this.#sigmasInterpol[pos.index + 1]! : this.#sigmasInterpol[pos.index]!;
    const sigmaNext = first ? sigmas[pos.index + 1]! : sigmas[pos.index]!;
    const sigmaInput = first ? sigma : sigmaMid;
    const type = this.config.predictionType;
    const out = noGrad(() => {
      const x0 = sigmaX0Tensor(type, modelOutput, x, sigmaInput);
      const d = dividedDifference(x, x0, sigmaInput); // float64
      if (first) return { prev: linearCombination([[1, x], [sigmaMid - sigma, d]], x.dtype), x0, next: x as Tensor | null };
      return { prev: linearCombination([[1, saved!], [sigmaNext - sigma, d]], x.dtype), x0, next: null };
    });
    this.advance(pos);
    this.#sample = out.next;
    return { prevSample: out.prev, predOriginalSample: out.x0 };
  }
}
