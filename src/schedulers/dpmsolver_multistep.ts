/**
 * DPMSolverMultistepScheduler: the multistep DPM-Solver (Lu et al. 2022, "DPM-Solver", arXiv
 * 2206.00927) and DPM-Solver++ (Lu et al. 2022, "DPM-Solver++", arXiv 2211.01095, Algorithm 2),
 * with their SDE variants (DPM-Solver++ paper, sec. 5 / appendix; k-diffusion's dpmpp_2m_sde),
 * diffusers 0.25.1-compatible (config keys, defaults, timesteps, sigmas and step arithmetic).
 * With h = lambda_t - lambda_s (lambda = log(alpha / sigma)), the exact solution of the
 * probability-flow ODE is, in data-prediction form (dpmsolver++),
 *   x_t = (sigma_t / sigma_s) x_s + sigma_t * int_{lambda_s}^{lambda_t} e^lambda x0(lambda) dlambda,
 * and in noise-prediction form (dpmsolver)
 *   x_t = (alpha_t / alpha_s) x_s - alpha_t * int e^-lambda eps(lambda) dlambda.
 * Order k approximates x0 (or eps) by a polynomial in lambda through the last k model outputs;
 * `solver_type` picks the second-order coefficient (midpoint: 1/2 (e^-h - 1), heun: the exact
 * integral of the linear term). The SDE variants integrate the reverse SDE the same way and add
 * sigma_t sqrt(1 - e^-2h) z (dpmsolver++) or sigma_t sqrt(e^2h - 1) z (dpmsolver).
 * Notes, measured with the Gaussian oracle (test/schedulers/dpmsolver_multistep.test.ts):
 * - third order (3M) uses diffusers' (and the DPM-Solver reference code's) D2 weight, half the
 *   weight the exact integral of the quadratic through the three outputs would give; it matches
 *   diffusers bit for bit but converges at order 2 (doubling the weight gives order 3).
 * - the SDE variants at solver_order 3 are not in diffusers 0.25.1 (it fails there); here they use
 *   the same exponential-integrator weights for the SDE (twice the ODE's for sde-dpmsolver).
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
import {
  SigmaMultistepScheduler,
  aliasedEnumField,
  convertOutput,
  lambdaMinClippedField,
  nullableVarianceField,
  type SigmaSchedule,
  type VpPoint,
} from './sigma_multistep.js';
import { dividedDifference } from './divided_difference.js';
import { linearCombination, type LinearTerm } from '../ops/linear_combination.js';
import { divScalar } from '../ops/scalar.js';

/** DPM-Solver (noise prediction) or DPM-Solver++ (data prediction), ODE or SDE. */
export type DpmAlgorithmType = 'dpmsolver' | 'dpmsolver++' | 'sde-dpmsolver' | 'sde-dpmsolver++';
export const DPM_ALGORITHM_TYPES: readonly DpmAlgorithmType[] = ['dpmsolver', 'dpmsolver++', 'sde-dpmsolver', 'sde-dpmsolver++'];

/** The second-order coefficient rule. */
export type DpmSolverType = 'midpoint' | 'heun';
export const DPM_SOLVER_TYPES: readonly DpmSolverType[] = ['midpoint', 'heun'];

/** DPMSolverMultistepScheduler's config keys in diffusers 0.25.1's order, with its defaults. */
export const DPM_SOLVER_MULTISTEP_FIELDS = {
  ...SCHEDULE_FIELDS,
  solverOrder: intField('solver_order', 2, 1, 3),
  predictionType: CLIP_FIELDS.predictionType,
  thresholding: CLIP_FIELDS.thresholding,
  dynamicThresholdingRatio: CLIP_FIELDS.dynamicThresholdingRatio,
  sampleMaxValue: CLIP_FIELDS.sampleMaxValue,
  // diffusers reads a DEIS config's "deis" as dpmsolver++ and UniPC/DEIS solver types as midpoint.
  algorithmType: aliasedEnumField<DpmAlgorithmType>('algorithm_type', DPM_ALGORITHM_TYPES, 'dpmsolver++', { deis: 'dpmsolver++' }),
  solverType: aliasedEnumField<DpmSolverType>('solver_type', DPM_SOLVER_TYPES, 'midpoint', { logrho: 'midpoint', bh1: 'midpoint', bh2: 'midpoint' }),
  lowerOrderFinal: boolField('lower_order_final', true),
  eulerAtFinal: boolField('euler_at_final', false),
  useKarrasSigmas: boolField('use_karras_sigmas', false),
  useLuLambdas: boolField('use_lu_lambdas', false),
  lambdaMinClipped: lambdaMinClippedField('lambda_min_clipped'),
  varianceType: nullableVarianceField('variance_type'),
  timestepSpacing: { ...SPACING_FIELDS.timestepSpacing, default: 'linspace' as const },
  stepsOffset: SPACING_FIELDS.stepsOffset,
} as const;

/** The parsed config (camelCase). */
export type DPMSolverMultistepConfig = ConfigOf<typeof DPM_SOLVER_MULTISTEP_FIELDS> & { readonly rescaleBetasZeroSnr: false };

/** lower_order_final applies only below this many steps (diffusers' rule). */
export const LOWER_ORDER_FINAL_MAX_STEPS = 15;

/** The multistep memory: converted outputs (x_0 or eps) of the chain's earlier steps, newest last. */
interface DpmMemory {
  outputs: Tensor[];
}

/**
 * Multistep DPM-Solver / DPM-Solver++ with diffusers' `DPMSolverMultistepScheduler` contract.
 * The SDE variants draw noise from `options.noise` or `options.generator`.
 * @example
 * const s = new DPMSolverMultistepScheduler({ algorithm_type: 'dpmsolver++', solver_order: 2, use_karras_sigmas: true });
 * s.setTimesteps(20);
 * for (const t of s.timesteps) x = s.step(model(x, t), t, x).prevSample;
 */
export class DPMSolverMultistepScheduler extends SigmaMultistepScheduler<DPMSolverMultistepConfig, DpmMemory> {
  /** Builds from a diffusers config object (snake_case keys; missing keys take diffusers' defaults). */
  constructor(config: DiffusersConfig = {}) {
    const parsed = parseSchedulerConfig('DPMSolverMultistepScheduler', DPM_SOLVER_MULTISTEP_FIELDS, config);
    super('DPMSolverMultistepScheduler', DPM_SOLVER_MULTISTEP_FIELDS, Object.freeze({ ...parsed, rescaleBetasZeroSnr: false as const }));
  }

  /** The same as `new DPMSolverMultistepScheduler(config)`, diffusers' spelling. */
  static fromConfig(config: DiffusersConfig): DPMSolverMultistepScheduler {
    return new DPMSolverMultistepScheduler(config);
  }

  protected schedule(n: number): SigmaSchedule {
    const c = this.config;
    return this.spacedSchedule(n, c, { lambdaMinClipped: c.lambdaMinClipped, useLuLambdas: c.useLuLambdas });
  }

  /**
   * One step from timesteps[i] to the next sigma. The order is min(solver_order, steps taken in
   * this chain + 1), lowered at the end with lower_order_final (fewer than 15 steps) or
   * euler_at_final. predOriginalSample is the model's x_0 (after thresholding).
   */
  step(modelOutput: Tensor, t: number, x: Tensor, options: StepOptions = {}): SchedulerOutput {
    const op = 'DPMSolverMultistepScheduler.step';
    const c = this.config;
    const i = this.locate(op, t);
    const out = this.stepInputs(op, modelOutput, x, c.varianceType !== null);
    const memory = this.recall(op, i, x);
    return noGrad(() => {
      const n = this.timesteps.length;
      const dataPrediction = c.algorithmType === 'dpmsolver++' || c.algorithmType === 'sde-dpmsolver++';
      const { converted, x0 } = convertOutput(out, x, this.point(i), c.predictionType, dataPrediction, c);
      const history = [...(memory?.outputs ?? []), converted].slice(-c.solverOrder);
      const sde = c.algorithmType === 'sde-dpmsolver' || c.algorithmType === 'sde-dpmsolver++';
      const noise = sde ? this.stepNoise(op, x, options) : null;

      // Lower orders: at the start of a chain (no earlier outputs), and for stability at the end.
      const short = c.lowerOrderFinal && n < LOWER_ORDER_FINAL_MAX_STEPS;
      const lowerFinal = i === n - 1 && (c.eulerAtFinal || short);
      const lowerSecond = i === n - 2 && short;
      let order = Math.min(c.solverOrder, history.length);
      if (lowerFinal) order = 1;
      else if (lowerSecond) order = Math.min(order, 2);

      const pts = [this.point(i + 1), this.point(i), this.point(i - 1), this.point(i - 2)] as const;
      const prev = this.update(order, history, x, pts, noise);
      this.remember(i, x, { outputs: history });
      return { prevSample: prev, predOriginalSample: x0 };
    });
  }

  /** The order-k update from x at point s0 to point t, with m0 = newest output (DPM-Solver++ eq. and Lu et al. 2022). */
  private update(order: number, m: Tensor[], x: Tensor, [t, s0, s1, s2]: readonly [VpPoint, VpPoint, VpPoint, VpPoint], noise: Tensor | null): Tensor {
    const c = this.config;
    const h = t.lambda - s0.lambda;
    // A zero-length step (Karras sigmas repeat the last one) is the identity; its formulas are 0/0.
    if (h === 0) return linearCombination([[1, x]]);
    const m0 = m[m.length - 1]!;
    const eh = Math.exp(-h); // e^{-h}
    const noiseTerm = (coef: number): LinearTerm[] => (noise === null ? [] : [[coef, noise]]);

    // D0 = m0; D1 ~ h * dm/dlambda; D2 ~ h^2/2 * d2m/dlambda2 (divided differences over lambda, in float64).
    let D1: Tensor | null = null;
    let D2: Tensor | null = null;
    if (order === 2) {
      D1 = dividedDifference(m0, m[m.length - 2]!, (s0.lambda - s1.lambda) / h);
    } else if (order === 3) {
      const m1 = m[m.length - 2]!;
      const r0 = (s0.lambda - s1.lambda) / h;
      const r1 = (s1.lambda - s2.lambda) / h;
      const d10 = dividedDifference(m0, m1, r0);
      const d11 = dividedDifference(m1, m[m.length - 3]!, r1);
      const d10MinusD11 = linearCombination([[1, d10], [-1, d11]]);
      D1 = linearCombination([[1, d10], [r0 / (r0 + r1), d10MinusD11]]);
      D2 = divScalar(d10MinusD11, r0 + r1);
    }
    // Order 3 always weights D1 as heun does (the exact integral of the linear term); D2's weight
    // is diffusers' (half the exact integral's, see the file comment).
    const heun = c.solverType === 'heun' || order === 3;
    const corrections = (w1: number, w2: number): LinearTerm[] => [...(D1 === null ? [] : [[w1, D1] as const]), ...(D2 === null ? [] : [[w2, D2] as const])];
    switch (c.algorithmType) {
      case 'dpmsolver++': {
        // x_t = (s_t/s_s) x + a_t (1 - e^-h) D0 + w1 D1 + w2 D2.
        const w1 = D1 === null ? 0 : heun ? t.alpha * ((eh - 1) / h + 1) : -0.5 * t.alpha * (eh - 1);
        const w2 = D2 === null ? 0 : -t.alpha * ((eh - 1 + h) / (h * h) - 0.5);
        return linearCombination([[t.sigma / s0.sigma, x], [-t.alpha * (eh - 1), m0], ...corrections(w1, w2)]);
      }
      case 'dpmsolver': {
        // x_t = (a_t/a_s) x - s_t (e^h - 1) D0 - w1 D1 - w2 D2.
        const ep = Math.exp(h);
        const w1 = D1 === null ? 0 : heun ? t.sigma * ((ep - 1) / h - 1) : 0.5 * t.sigma * (ep - 1);
        const w2 = D2 === null ? 0 : t.sigma * ((ep - 1 - h) / (h * h) - 0.5);
        return linearCombination([[t.alpha / s0.alpha, x], [-t.sigma * (ep - 1), m0], ...corrections(-w1, -w2)]);
      }
      case 'sde-dpmsolver++': {
        // SDE-DPM-Solver++: the x term decays twice as fast (e^-2h), noise makes up the variance.
        const e2 = Math.exp(-2 * h);
        const w1 = D1 === null ? 0 : heun ? t.alpha * ((1 - e2) / (-2 * h) + 1) : 0.5 * t.alpha * (1 - e2);
        const w2 = D2 === null ? 0 : t.alpha * (0.5 - 1 / (2 * h) + (1 - e2) / (4 * h * h)); // 2 a_t int_0^h u^2 e^{-2(h-u)} du / (2 h^2), the ODE's convention
        return linearCombination([[(t.sigma / s0.sigma) * eh, x], [t.alpha * (1 - e2), m0], ...corrections(w1, w2), ...noiseTerm(t.sigma * Math.sqrt(1 - e2))]);
      }
      case 'sde-dpmsolver': {
        // SDE-DPM-Solver: twice the ODE's eps weights, noise sigma_t sqrt(e^2h - 1).
        const ep = Math.exp(h);
        const w1 = D1 === null ? 0 : heun ? 2 * t.sigma * ((ep - 1) / h - 1) : t.sigma * (ep - 1);
        const w2 = D2 === null ? 0 : 2 * t.sigma * ((ep - 1 - h) / (h * h) - 0.5);
        return linearCombination([[t.alpha / s0.alpha, x], [-2 * t.sigma * (ep - 1), m0], ...corrections(-w1, -w2), ...noiseTerm(t.sigma * Math.sqrt(Math.exp(2 * h) - 1))]);
      }
    }
  }
}
