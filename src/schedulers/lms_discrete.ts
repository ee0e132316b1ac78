/**
 * LMSDiscreteScheduler: the linear multistep method (Adams–Bashforth) on the probability-flow ODE
 * dx/dsigma = (x - D(x; sigma)) / sigma (Karras et al. 2022; k-diffusion's `sample_lms`; the
 * multistep idea of Liu et al. 2022's PLMS), diffusers-compatible (config keys, defaults,
 * timesteps, sigmas and step arithmetic of diffusers 0.25.1). With the last k slopes d_{i-j}
 * (j = 0..k-1, k = min(order, steps so far)) at the nonuniform sigmas of the schedule:
 *   x_{i+1} = x_i + sum_j c_j d_{i-j},  c_j = integral_{sigma_i}^{sigma_{i+1}} prod_{m != j} (tau - sigma_{i-m}) / (sigma_{i-j} - sigma_{i-m}) dtau,
 * i.e. the integral of the Lagrange polynomial through the past slopes. As diffusers (which calls
 * scipy's quad), the coefficients come from numerical integration: Gauss–Legendre with 4 nodes,
 * exact for these polynomials of degree <= 3.
 * The past slopes are the only state; setTimesteps, or a step that starts a new run, drops them.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { noGrad } from '../tensor/autograd.js';
import { PREDICTION_TYPES, type PredictionType } from '../diffusion/forward.js';
import { SCHEDULE_FIELDS, SPACING_FIELDS, boolField, enumField, parseSchedulerConfig, type ConfigOf, type DiffusersConfig, type SchedulerOutput, type StepOptions } from './scheduler.js';
import type { TimestepSpacing } from './timesteps.js';
import { SigmaScheduler, sigmaX0Tensor, type SigmaRunSchedule } from './euler_discrete.js';
import { linearCombination } from '../ops/linear_combination.js';
import { dividedDifference } from './divided_difference.js';

/** The highest LMS order diffusers offers (and whose coefficients 4-node Gauss–Legendre integrates exactly). */
export const LMS_MAX_ORDER = 4;

/** 4-node Gauss–Legendre on [-1, 1]: nodes +-sqrt(3/7 -+ 2/7 sqrt(6/5)), exact to degree 7. */
const GL_NODES = [-Math.sqrt(3 / 7 + (2 / 7) * Math.sqrt(6 / 5)), -Math.sqrt(3 / 7 - (2 / 7) * Math.sqrt(6 / 5)), Math.sqrt(3 / 7 - (2 / 7) * Math.sqrt(6 / 5)), Math.sqrt(3 / 7 + (2 / 7) * Math.sqrt(6 / 5))];
const GL_WEIGHTS = [(18 - Math.sqrt(30)) / 36, (18 + Math.sqrt(30)) / 36, (18 + Math.sqrt(30)) / 36, (18 - Math.sqrt(30)) / 36];

/** integral_a^b f(tau) dtau by 4-node Gauss–Legendre. */
function integrate(f: (tau: number) => number, a: number, b: number): number {
  const half = (b - a) / 2;
  const mid = (a + b) / 2;
  let sum = 0;
  for (let k = 0; k < GL_NODES.length; k++) sum += GL_WEIGHTS[k]! * f(mid + half * GL_NODES[k]!);
  return sum * half;
}

/**
 * The LMS coefficient of the slope `j` steps back, for a step of `order` from sigmas[i] to
 * sigmas[i + 1] (diffusers' `get_lms_coefficient(order, i, j)`).
 * @example lmsCoefficient([10, 5, 2], 1, 1, 0) // 1-step Euler: 2 - 5 = -3
 */
export function lmsCoefficient(sigmas: ArrayLike<number>, order: number, i: number, j: number): number {
  const lagrange = (tau: number): number => {
    let prod = 1;
    for (let m = 0; m < order; m++) {
      if (m === j) continue;
      prod *= (tau - sigmas[i - m]!) / (sigmas[i - j]! - sigmas[i - m]!);
    }
    return prod;
  };
  return integrate(lagrange, sigmas[i]!, sigmas[i + 1]!);
}

/** LMSDiscreteScheduler's config keys in diffusers 0.25.1's order, with its defaults. */
export const LMS_FIELDS = {
  ...SCHEDULE_FIELDS,
  useKarrasSigmas: boolField('use_karras_sigmas', false),
  predictionType: enumField<PredictionType>('prediction_type', PREDICTION_TYPES, 'epsilon'),
  timestepSpacing: enumField<TimestepSpacing>('timestep_spacing', ['leading', 'trailing', 'linspace'], 'linspace'),
  stepsOffset: SPACING_FIELDS.stepsOffset,
} as const;

export type LMSDiscreteSchedulerConfig = ConfigOf<typeof LMS_FIELDS>;

/** LMS's extra step argument. */
export interface LMSStepOptions extends StepOptions {
  /** The multistep order, 1 to 4 (1 is Euler). Default 4. The first steps use fewer slopes. */
  order?: number;
}

/**
 * Linear multistep sampling with diffusers' `LMSDiscreteScheduler` contract.
 * @example
 * const s = new LMSDiscreteScheduler();
 * s.setTimesteps(30);
 * for (const t of s.timesteps) x = s.step(model(s.scaleModelInput(x, t), t), t, x, { order: 4 }).prevSample;
 */
export class LMSDiscreteScheduler extends SigmaScheduler<LMSDiscreteSchedulerConfig, LMSStepOptions> {
  /** The past slopes d, most recent last (at most LMS_MAX_ORDER). */
  #derivatives: Tensor[] = []; // float64

  constructor(config: DiffusersConfig = {}) {
    super('LMSDiscreteScheduler', LMS_FIELDS, parseSchedulerConfig('LMSDiscreteScheduler', LMS_FIELDS, config));
    this.setTimesteps(this.config.numTrainTimesteps);
  }

  static fromConfig(config: DiffusersConfig): LMSDiscreteScheduler {
    return new LMSDiscreteScheduler(config);
  }

  protected makeSchedule(n: number): SigmaRunSchedule {
    const { timesteps, sigmas } = this.baseSchedule(n);
    const all = new Float64Array(n + 1);
    all.set(sigmas);
    return { timesteps: Array.from(timesteps), sigmas: all };
  }

  protected resetRun(): void {
    this.#derivatives = [];
  }

  /** One LMS step sigma_i -> sigma_{i+1} with up to `order` past slopes. No autograd graph. */
  step(modelOutput: Tensor, t: number, x: Tensor, options: LMSStepOptions = {}): SchedulerOutput {
    const op = 'LMSDiscreteScheduler.step';
    this.checkStepInputs(op, modelOutput, x);
    const { order = LMS_MAX_ORDER } = options;
    if (typeof order !== 'number' || !Number.isInteger(order) || order < 1 || order > LMS_MAX_ORDER) {
      throw new ArgumentError(`${op}: 'order' must be an integer in [1, ${LMS_MAX_ORDER}], found ${String(order)}`);
    }
    const pos = this.locate(op, t);
    const history = pos.continues ? this.#derivatives : [];
    const sigmas = this.sigmaArray;
    const sigma = sigmas[pos.index]!;
    const out = noGrad(() => {
      const x0 = sigmaX0Tensor(this.config.predictionType, modelOutput, x, sigma);
      const d = dividedDifference(x, x0, sigma); // float64
      const slopes = [...history, d].slice(-LMS_MAX_ORDER);
      // The first steps have fewer past slopes (diffusers: min(step_index + 1, order)).
      const k = Math.min(order, slopes.length, pos.index + 1);
      const terms = Array.from({ length: k }, (_, j) => [lmsCoefficient(sigmas, k, pos.index, j), slopes[slopes.length - 1 - j]!] as const);
      const prev = linearCombination([[1, x], ...terms], x.dtype);
      return { prev, x0, slopes };
    });
    this.advance(pos);
    this.#derivatives = out.slopes;
    return { prevSample: out.prev, predOriginalSample: out.x0 };
  }
}
