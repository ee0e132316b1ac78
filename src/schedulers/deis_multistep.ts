/**
 * DEISMultistepScheduler: diffusion exponential integrator sampling (Zhang & Chen 2023, "Fast
 * Sampling of Diffusion Models with Exponential Integrator", arXiv 2204.13902, eq. 14-15, the
 * "log-rho" AB-DEIS), diffusers 0.25.1-compatible (config keys, defaults, timesteps, sigmas, step
 * arithmetic). In y = x / alpha and rho = sigma_t / alpha_t (the scheduler's sigma), the
 * probability-flow ODE is dy/drho = eps(rho), so
 *   x_t = alpha_t (x_s / alpha_s + int_{rho_s}^{rho_t} eps(rho) drho),
 * and order k integrates exactly the polynomial in log rho through the last k eps outputs (Lagrange
 * basis l_j, integrated in closed form: int l_j(log rho) drho). Order 1 is DDIM.
 */
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import {
  CLIP_FIELDS,
  SCHEDULE_FIELDS,
  SPACING_FIELDS,
  boolField,
  intField,
  parseSchedulerConfig,
  type ConfigOf,
  type DiffusersConfig,
  type SchedulerOutput,
  type StepOptions,
} from './scheduler.js';
import { LOWER_ORDER_FINAL_MAX_STEPS } from './dpmsolver_multistep.js';
import { SigmaMultistepScheduler, aliasedEnumField, convertOutput, type SigmaSchedule } from './sigma_multistep.js';
import { linearCombination } from '../ops/linear_combination.js';

/** DEIS's algorithm (diffusers implements only "deis"). */
export type DeisAlgorithmType = 'deis';
/** DEIS's polynomial variable (diffusers implements only "logrho"). */
export type DeisSolverType = 'logrho';

/** DEISMultistepScheduler's config keys in diffusers 0.25.1's order, with its defaults. */
export const DEIS_MULTISTEP_FIELDS = {
  ...SCHEDULE_FIELDS,
  solverOrder: intField('solver_order', 2, 1, 3),
  predictionType: CLIP_FIELDS.predictionType,
  thresholding: CLIP_FIELDS.thresholding,
  dynamicThresholdingRatio: CLIP_FIELDS.dynamicThresholdingRatio,
  sampleMaxValue: CLIP_FIELDS.sampleMaxValue,
  // diffusers reads DPM-Solver / UniPC algorithm and solver types as deis / logrho.
  algorithmType: aliasedEnumField<DeisAlgorithmType>('algorithm_type', ['deis'], 'deis', { dpmsolver: 'deis', 'dpmsolver++': 'deis' }),
  solverType: aliasedEnumField<DeisSolverType>('solver_type', ['logrho'], 'logrho', { midpoint: 'logrho', heun: 'logrho', bh1: 'logrho', bh2: 'logrho' }),
  lowerOrderFinal: boolField('lower_order_final', true),
  useKarrasSigmas: boolField('use_karras_sigmas', false),
  timestepSpacing: { ...SPACING_FIELDS.timestepSpacing, default: 'linspace' as const },
  stepsOffset: SPACING_FIELDS.stepsOffset,
} as const;

/** The parsed config (camelCase). */
export type DEISMultistepConfig = ConfigOf<typeof DEIS_MULTISTEP_FIELDS> & { readonly rescaleBetasZeroSnr: false };

/** The chain's memory: eps outputs of the earlier steps, newest last. */
interface DeisMemory {
  outputs: Tensor[];
}

/** int (log r - log c) / (log b - log c) dr (antiderivative; diffusers' ind_fn). */
function ind2(r: number, b: number, c: number): number {
  const L = Math.log(r);
  return (r * (L - Math.log(c) - 1)) / (Math.log(b) - Math.log(c));
}

/** int (log r - log c)(log r - log d) / ((log b - log c)(log b - log d)) dr (antiderivative). */
function ind3(r: number, b: number, c: number, d: number): number {
  const L = Math.log(r);
  const lc = Math.log(c);
  const ld = Math.log(d);
  // int L^2 = r (L^2 - 2L + 2), int L = r (L - 1), int 1 = r.
  const num = r * (L * L - 2 * L + 2) - (lc + ld) * r * (L - 1) + lc * ld * r;
  return num / ((Math.log(b) - lc) * (Math.log(b) - ld));
}

/**
 * DEIS with diffusers' `DEISMultistepScheduler` contract (deterministic).
 * @example
 * const s = new DEISMultistepScheduler({ solver_order: 3 });
 * s.setTimesteps(20);
 * for (const t of s.timesteps) x = s.step(model(x, t), t, x).prevSample;
 */
export class DEISMultistepScheduler extends SigmaMultistepScheduler<DEISMultistepConfig, DeisMemory> {
  /** Builds from a diffusers config object (snake_case keys; missing keys take diffusers' defaults). */
  constructor(config: DiffusersConfig = {}) {
    const parsed = parseSchedulerConfig('DEISMultistepScheduler', DEIS_MULTISTEP_FIELDS, config);
    super('DEISMultistepScheduler', DEIS_MULTISTEP_FIELDS, Object.freeze({ ...parsed, rescaleBetasZeroSnr: false as const }));
  }

  /** The same as `new DEISMultistepScheduler(config)`, diffusers' spelling. */
  static fromConfig(config: DiffusersConfig): DEISMultistepScheduler {
    return new DEISMultistepScheduler(config);
  }

  protected schedule(n: number): SigmaSchedule {
    return this.spacedSchedule(n, this.config);
  }

  /**
   * One AB-DEIS step from timesteps[i] to the next sigma, of order min(solver_order, steps taken
   * in this chain + 1), lowered at the end with lower_order_final (fewer than 15 steps).
   * predOriginalSample is the model's x_0 (after thresholding).
   */
  step(modelOutput: Tensor, t: number, x: Tensor, _options: StepOptions = {}): SchedulerOutput {
    const op = 'DEISMultistepScheduler.step';
    const c = this.config;
    const i = this.locate(op, t);
    this.stepInputs(op, modelOutput, x, false);
    const memory = this.recall(op, i, x);
    return noGrad(() => {
      const n = this.timesteps.length;
      const { converted, x0 } = convertOutput(modelOutput, x, this.point(i), c.predictionType, false, c);
      const m = [...(memory?.outputs ?? []), converted].slice(-c.solverOrder);
      const short = c.lowerOrderFinal && n < LOWER_ORDER_FINAL_MAX_STEPS;
      let order = Math.min(c.solverOrder, m.length);
      if (i === n - 1 && short) order = 1;
      else if (i === n - 2 && short) order = Math.min(order, 2);

      const sig = this.sigmas;
      const pt = this.point(i + 1);
      const ps = this.point(i);
      const m0 = m[m.length - 1]!;
      let prev: Tensor;
      if (order === 1) {
        // DDIM: x_t = (alpha_t / alpha_s) x - sigma_t (e^h - 1) eps.
        const h = pt.lambda - ps.lambda;
        prev = linearCombination([[pt.alpha / ps.alpha, x], [-pt.sigma * Math.expm1(h), m0]]);
      } else if (order === 2) {
        const [rt, r0, r1] = [sig[i + 1]!, sig[i]!, sig[i - 1]!];
        const c0 = ind2(rt, r0, r1) - ind2(r0, r0, r1);
        const c1 = ind2(rt, r1, r0) - ind2(r0, r1, r0);
        prev = linearCombination([[pt.alpha / ps.alpha, x], [pt.alpha * c0, m0], [pt.alpha * c1, m[m.length - 2]!]]);
      } else {
        const [rt, r0, r1, r2] = [sig[i + 1]!, sig[i]!, sig[i - 1]!, sig[i - 2]!];
        const c0 = ind3(rt, r0, r1, r2) - ind3(r0, r0, r1, r2);
        const c1 = ind3(rt, r1, r2, r0) - ind3(r0, r1, r2, r0);
        const c2 = ind3(rt, r2, r0, r1) - ind3(r0, r2, r0, r1);
        prev = linearCombination([[pt.alpha / ps.alpha, x], [pt.alpha * c0, m0], [pt.alpha * c1, m[m.length - 2]!], [pt.alpha * c2, m[m.length - 3]!]]);
      }
      this.remember(i, x, { outputs: m });
      return { prevSample: prev, predOriginalSample: x0 };
    });
  }
}
