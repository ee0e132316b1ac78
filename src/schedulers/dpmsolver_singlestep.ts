/**
 * DPMSolverSinglestepScheduler: the singlestep DPM-Solver-1/2/3 (Lu et al. 2022, "DPM-Solver",
 * arXiv 2206.00927, Algorithms 1-2, eq. 3.7-3.8) and DPM-Solver++(2S/3S) (Lu et al. 2022,
 * "DPM-Solver++", Algorithm 1), diffusers 0.25.1-compatible (config keys, defaults, order schedule,
 * step arithmetic). The timesteps come in groups of `order` (the order list, e.g. 1,2,3,1,2,3,...):
 * a group starts at x_s, the intermediate timesteps of the group are the solver's intermediate
 * points, and each step of the group restarts from x_s with all the group's model outputs so far,
 * so the step that ends the group is a k-th order singlestep solve from x_s (k model calls).
 * With h = lambda_t - lambda_s, D0 = the model output at s and D1, D2 the divided differences over
 * lambda, the update is the DPM-Solver(++) expansion of the exponential integrator (see
 * dpmsolver_multistep.ts).
 */
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { ArgumentError } from '../tensor/errors.js';
import {
  CLIP_FIELDS,
  SCHEDULE_FIELDS,
  boolField,
  intField,
  parseSchedulerConfig,
  type ConfigOf,
  type DiffusersConfig,
  type SchedulerOutput,
  type StepOptions,
} from './scheduler.js';
import { DPM_SOLVER_TYPES, type DpmSolverType } from './dpmsolver_multistep.js';
import {
  SigmaMultistepScheduler,
  aliasedEnumField,
  convertOutput,
  lambdaMinClippedField,
  nullableVarianceField,
  sigmaSchedule,
  type SigmaSchedule,
} from './sigma_multistep.js';
import { dividedDifference } from './divided_difference.js';
import { linearCombination } from '../ops/linear_combination.js';
import { divScalar } from '../ops/scalar.js';

/** DPM-Solver (noise prediction) or DPM-Solver++ (data prediction); singlestep has no SDE variant. */
export type DpmSinglestepAlgorithmType = 'dpmsolver' | 'dpmsolver++';

/** DPMSolverSinglestepScheduler's config keys in diffusers 0.25.1's order, with its defaults. */
export const DPM_SOLVER_SINGLESTEP_FIELDS = {
  ...SCHEDULE_FIELDS,
  solverOrder: intField('solver_order', 2, 1, 3),
  predictionType: CLIP_FIELDS.predictionType,
  thresholding: CLIP_FIELDS.thresholding,
  dynamicThresholdingRatio: CLIP_FIELDS.dynamicThresholdingRatio,
  sampleMaxValue: CLIP_FIELDS.sampleMaxValue,
  algorithmType: aliasedEnumField<DpmSinglestepAlgorithmType>('algorithm_type', ['dpmsolver', 'dpmsolver++'], 'dpmsolver++', { deis: 'dpmsolver++' }),
  solverType: aliasedEnumField<DpmSolverType>('solver_type', DPM_SOLVER_TYPES, 'midpoint', { logrho: 'midpoint', bh1: 'midpoint', bh2: 'midpoint' }),
  lowerOrderFinal: boolField('lower_order_final', true),
  useKarrasSigmas: boolField('use_karras_sigmas', false),
  lambdaMinClipped: lambdaMinClippedField('lambda_min_clipped'),
  varianceType: nullableVarianceField('variance_type'),
} as const;

/** The parsed config (camelCase). */
export type DPMSolverSinglestepConfig = ConfigOf<typeof DPM_SOLVER_SINGLESTEP_FIELDS> & {
  readonly timestepSpacing: 'linspace';
  readonly stepsOffset: 0;
  readonly rescaleBetasZeroSnr: false;
};

/** The chain's memory: the group's start sample and the converted outputs (newest last). */
interface SinglestepMemory {
  outputs: Tensor[];
  groupStart: Tensor;
}

/**
 * The solver order of each of `steps` steps (diffusers' get_order_list): repeated 1, 2, ..., order
 * groups; with lower_order_final the tail is a shorter group ending in low orders. Without it, a
 * step count that is not a multiple of the order is treated as with it (diffusers switches it on).
 * @example singlestepOrders(8, 3, true) // [1, 2, 3, 1, 2, 3, 1, 2]
 */
export function singlestepOrders(steps: number, order: number, lowerOrderFinal: boolean): number[] {
  const repeat = (k: number): number[] => Array.from({ length: k * order }, (_, i) => (i % order) + 1);
  if (!lowerOrderFinal && steps % order === 0) return repeat(steps / order);
  if (order === 3) {
    if (steps % 3 === 0) return [...repeat(steps / 3 - 1), 1, 2, 1];
    if (steps % 3 === 1) return [...repeat(Math.floor(steps / 3)), 1];
    return [...repeat(Math.floor(steps / 3)), 1, 2];
  }
  if (order === 2) return steps % 2 === 0 ? repeat(steps / 2) : [...repeat(Math.floor(steps / 2)), 1];
  return repeat(steps);
}

/**
 * Singlestep DPM-Solver / DPM-Solver++ with diffusers' `DPMSolverSinglestepScheduler` contract.
 * @example
 * const s = new DPMSolverSinglestepScheduler({ solver_order: 3 });
 * s.setTimesteps(21);
 * for (const t of s.timesteps) x = s.step(model(x, t), t, x).prevSample;
 */
export class DPMSolverSinglestepScheduler extends SigmaMultistepScheduler<DPMSolverSinglestepConfig, SinglestepMemory> {
  #orders: number[] = [];

  /** Builds from a diffusers config object (snake_case keys; missing keys take diffusers' defaults). */
  constructor(config: DiffusersConfig = {}) {
    const parsed = parseSchedulerConfig('DPMSolverSinglestepScheduler', DPM_SOLVER_SINGLESTEP_FIELDS, config);
    super(
      'DPMSolverSinglestepScheduler',
      DPM_SOLVER_SINGLESTEP_FIELDS,
      Object.freeze({ ...parsed, timestepSpacing: 'linspace' as const, stepsOffset: 0 as const, rescaleBetasZeroSnr: false as const }),
    );
  }

  /** The same as `new DPMSolverSinglestepScheduler(config)`, diffusers' spelling. */
  static fromConfig(config: DiffusersConfig): DPMSolverSinglestepScheduler {
    return new DPMSolverSinglestepScheduler(config);
  }

  /** The solver order of each step of this run. */
  get orderList(): number[] {
    return [...this.#orders];
  }

  protected schedule(n: number): SigmaSchedule {
    const c = this.config;
    return sigmaSchedule(`${this.className}.setTimesteps`, this.trainSigmas, n, {
      spacing: 'linspace',
      stepsOffset: 0,
      lambdaMinClipped: c.lambdaMinClipped,
      useKarrasSigmas: c.useKarrasSigmas,
      useLuLambdas: false,
    });
  }

  override setTimesteps(request: Parameters<SigmaMultistepScheduler<DPMSolverSinglestepConfig, SinglestepMemory>['setTimesteps']>[0]): void {
    super.setTimesteps(request);
    this.#orders = singlestepOrders(this.timesteps.length, this.config.solverOrder, this.config.lowerOrderFinal);
  }

  /**
   * One step at timesteps[i] with the order the order list gives (lowered when the chain has fewer
   * outputs, e.g. img2img starting mid-group). Order 1 starts a group at x.
   */
  step(modelOutput: Tensor, t: number, x: Tensor, _options: StepOptions = {}): SchedulerOutput {
    const op = 'DPMSolverSinglestepScheduler.step';
    const c = this.config;
    const i = this.locate(op, t);
    const out = this.stepInputs(op, modelOutput, x, c.varianceType !== null);
    const memory = this.recall(op, i, x);
    return noGrad(() => {
      const dataPrediction = c.algorithmType === 'dpmsolver++';
      const { converted, x0 } = convertOutput(out, x, this.point(i), c.predictionType, dataPrediction, c);
      const m = [...(memory?.outputs ?? []), converted].slice(-c.solverOrder);
      const listed = this.#orders[i];
      if (listed === undefined) throw new ArgumentError(`${op}: no solver order for step ${i}`);
      const order = Math.min(listed, m.length);
      const groupStart = order === 1 || memory === null ? x : memory.groupStart;
      const prev = this.update(order, i, m, groupStart);
      this.remember(i, x, { outputs: m, groupStart });
      return { prevSample: prev, predOriginalSample: x0 };
    });
  }

  /** The order-k singlestep update from the group start x (at sigma index i - k + 1) to index i + 1. */
  private update(k: number, i: number, m: readonly Tensor[], x: Tensor): Tensor {
    const c = this.config;
    const pt = this.point(i + 1);
    const ps = this.point(i - k + 1); // the group's start
    const h = pt.lambda - ps.lambda;
    // A zero-length step (Karras sigmas repeat the last one) is the identity; its weights are 0/0.
    if (h === 0) return linearCombination([[1, x]]);
    const pp = c.algorithmType === 'dpmsolver++';
    const eh = pp ? Math.expm1(-h) : Math.expm1(h); // e^{-h} - 1 (data) or e^{h} - 1 (noise)
    // Data prediction: x_t = (s_t/s_s) x - a_t (e^-h - 1) D0 + ...; noise: (a_t/a_s) x - s_t (e^h - 1) D0 - ...
    const xCoef = pp ? pt.sigma / ps.sigma : pt.alpha / ps.alpha;
    const w = pp ? -pt.alpha : -pt.sigma;
    const phi2 = pp ? pt.alpha * (eh / h + 1) : -pt.sigma * (eh / h - 1); // weight of h x0' (exact integral)
    const phi3 = pp ? -pt.alpha * ((eh + h) / (h * h) - 0.5) : -pt.sigma * ((eh - h) / (h * h) - 0.5);
    if (k === 1) return linearCombination([[xCoef, x], [w * eh, m[m.length - 1]!]]);
    if (k === 2) {
      // Points s1 (start) and s0 = i: D0 = m(s1), D1 = (m0 - m1) / r0 (in float64).
      const m1 = m[m.length - 2]!;
      const r0 = (this.point(i).lambda - ps.lambda) / h;
      const D1 = dividedDifference(m[m.length - 1]!, m1, r0);
      const w1 = c.solverType === 'midpoint' ? 0.5 * w * eh : phi2;
      return linearCombination([[xCoef, x], [w * eh, m1], [w1, D1]]);
    }
    // k = 3: start s2, intermediate s1, s0 = i.
    const m2 = m[m.length - 3]!;
    const r0 = (this.point(i).lambda - ps.lambda) / h;
    const r1 = (this.point(i - 1).lambda - ps.lambda) / h;
    const D10 = dividedDifference(m[m.length - 2]!, m2, r1);
    const D11 = dividedDifference(m[m.length - 1]!, m2, r0);
    if (c.solverType === 'midpoint') return linearCombination([[xCoef, x], [w * eh, m2], [phi2, D11]]);
    const D1 = divScalar(linearCombination([[r0, D10], [-r1, D11]]), r0 - r1); // (r0 D10 - r1 D11) / (r0 - r1)
    const D2 = divScalar(linearCombination([[2, D11], [-2, D10]]), r0 - r1); // 2 (D11 - D10) / (r0 - r1)
    return linearCombination([[xCoef, x], [w * eh, m2], [phi2, D1], [phi3, D2]]);
  }
}
