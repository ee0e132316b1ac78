/**
 * PNDMScheduler: pseudo numerical methods for diffusion models (Liu et al. 2022, "Pseudo Numerical
 * Methods for Diffusion Models on Manifolds"), diffusers-compatible (config keys, defaults,
 * timesteps and step arithmetic of diffusers 0.25.1). Every step uses the transfer part phi of
 * eq. 9, which moves x_t to x_{t-delta} along a given noise estimate e:
 *   x_{t-delta} = sqrt(abar_{t-delta} / abar_t) x_t
 *                 - (abar_{t-delta} - abar_t) e / (abar_t sqrt(1 - abar_{t-delta}) + sqrt(abar_t (1 - abar_t) abar_{t-delta})),
 * with e from the gradient part:
 * - PRK warm-up (eq. 13, pseudo Runge–Kutta, 4 model calls per step) for the first 3 steps, then
 * - PLMS (eq. 12, pseudo linear multistep): e = (55 e_t - 59 e_{t+d} + 37 e_{t+2d} - 9 e_{t+3d}) / 24,
 *   with the lower-order Adams–Bashforth formulas while fewer past estimates exist.
 * With `skip_prk_steps` (Stable Diffusion's choice, after crowsonkb's PLMS for latent diffusion)
 * the warm-up is replaced by one pseudo-improved-Euler step: timestep t_1 appears twice.
 * The run state (past estimates, the RK accumulator, the step's start sample) is indexed by the
 * position in `timesteps`; setTimesteps, or a step at the first timestep, starts afresh.
 */
import { ZERO_SNR_ALPHA_BAR } from '../diffusion/schedules.js';
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { noGrad } from '../tensor/autograd.js';
import { predictX0 } from '../diffusion/forward.js';
import {
  DiscreteScheduler,
  SCHEDULE_FIELDS,
  SPACING_FIELDS,
  boolField,
  enumField,
  parseSchedulerConfig,
  type ConfigOf,
  type DiffusersConfig,
  type SchedulerOutput,
  type StepOptions,
  type TimestepsRequest,
} from './scheduler.js';
import { spacedTimesteps } from './timesteps.js';
import { linearCombination } from '../ops/linear_combination.js';
import { add } from '../ops/binary.js';
import { divScalar, mulScalar } from '../ops/scalar.js';
import { toFloat64 } from './divided_difference.js';

/** PNDM's order: 4 (F-PNDM: RK4 warm-up, then 4-step linear multistep). */
export const PNDM_ORDER = 4;

/** PNDM's prediction types (diffusers' PNDM converts v to epsilon; it has no x_0 mode). */
export type PNDMPredictionType = 'epsilon' | 'v_prediction';

/** PNDMScheduler's config keys in diffusers 0.25.1's order, with its defaults. */
export const PNDM_FIELDS = {
  ...SCHEDULE_FIELDS,
  skipPrkSteps: boolField('skip_prk_steps', false),
  /** Whether abar before the first training step is 1 (true) or abar_0 (false, diffusers' PNDM default). */
  setAlphaToOne: boolField('set_alpha_to_one', false),
  predictionType: enumField<PNDMPredictionType>('prediction_type', ['epsilon', 'v_prediction'], 'epsilon'),
  timestepSpacing: SPACING_FIELDS.timestepSpacing,
  stepsOffset: SPACING_FIELDS.stepsOffset,
} as const;

/** The parsed PNDMScheduler config (camelCase). PNDM has no zero-terminal-SNR option (fixed false). */
export type PNDMSchedulerConfig = ConfigOf<typeof PNDM_FIELDS> & { readonly rescaleBetasZeroSnr: false };

/**
 * PNDM / PLMS sampling with diffusers' `PNDMScheduler` contract.
 * @example
 * const s = new PNDMScheduler({ skip_prk_steps: true });
 * s.setTimesteps(50); // 51 timesteps: t_1 twice
 * for (const t of s.timesteps) x = s.step(model(x, t), t, x).prevSample;
 */
export class PNDMScheduler extends DiscreteScheduler<PNDMSchedulerConfig> {
  /** abar used "before" timestep 0: 1, or abar_0 when set_alpha_to_one is false. */
  readonly finalAlphaCumprod: number;
  #prkTimesteps: number[] = [];
  #plmsTimesteps: number[] = [];
  // Run state, indexed by position in the run.
  #next = 0;
  /** Past noise estimates e (most recent last). */
  #ets: Tensor[] = [];
  /** The RK4 accumulator e_1/6 + e_2/3 + e_3/3 within a PRK step. */
  #curModelOutput: Tensor | null = null;
  /** The sample a PRK step (or the first PLMS step) starts from. */
  #curSample: Tensor | null = null;

  constructor(config: DiffusersConfig = {}) {
    const parsed = parseSchedulerConfig('PNDMScheduler', PNDM_FIELDS, config);
    super('PNDMScheduler', PNDM_FIELDS, Object.freeze({ ...parsed, rescaleBetasZeroSnr: false as const }));
    this.finalAlphaCumprod = this.config.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
  }

  static fromConfig(config: DiffusersConfig): PNDMScheduler {
    return new PNDMScheduler(config);
  }

  override get timesteps(): number[] {
    return this.#prkTimesteps.length + this.#plmsTimesteps.length === 0 ? super.timesteps : [...this.#prkTimesteps, ...this.#plmsTimesteps];
  }

  /** The PRK warm-up part of the timesteps (empty with skip_prk_steps). */
  get prkTimesteps(): number[] {
    return [...this.#prkTimesteps];
  }

  /** The PLMS part of the timesteps. */
  get plmsTimesteps(): number[] {
    return [...this.#plmsTimesteps];
  }

  /**
   * Chooses this run's timesteps: the N spaced ones, expanded for the PRK warm-up (each of the
   * first 3 steps visited at its start, twice at its midpoint and at its end) or, with
   * skip_prk_steps, with t_1 repeated. Resets all run state.
   * @example s.setTimesteps(10); s.timesteps // [900, 850, 850, 800, 800, 750, ...] (PRK)
   */
  override setTimesteps(request: TimestepsRequest): void {
    const op = 'PNDMScheduler.setTimesteps';
    if (typeof request === 'object' && request !== null) {
      throw new ArgumentError(`${op}: custom timesteps are not supported by PNDMScheduler (its warm-up is laid out per step count); pass a number of inference steps`);
    }
    const n = request;
    if (!this.config.skipPrkSteps && typeof n === 'number' && Number.isInteger(n) && n < PNDM_ORDER) {
      throw new ArgumentError(`${op}: the PRK warm-up needs num_inference_steps >= ${PNDM_ORDER}, found ${n}; use more steps or skip_prk_steps: true`);
    }
    super.setTimesteps(n);
    const T = this.config.numTrainTimesteps;
    const asc = spacedTimesteps(this.config.timestepSpacing, T, n, this.config.stepsOffset).reverse();
    if (this.config.skipPrkSteps) {
      // [t_0 .. t_{N-2}, t_{N-2}, t_{N-1}] reversed: the first PLMS step is taken twice.
      this.#prkTimesteps = [];
      this.#plmsTimesteps = [...asc.slice(0, -1), ...asc.slice(-2, -1), ...asc.slice(-1)].reverse();
    } else {
      // The last 4 timesteps and their midpoints (+ T / N / 2): each RK4 step visits start, mid, mid, end.
      const half = Math.floor(Math.floor(T / n) / 2);
      const pts = asc.slice(-PNDM_ORDER).flatMap((t) => [t, t + half]);
      const doubled = pts.slice(0, -1).flatMap((t) => [t, t]).slice(1, -1);
      this.#prkTimesteps = doubled.reverse();
      this.#plmsTimesteps = asc.slice(0, -3).reverse();
    }
    this.#next = 0;
    this.#resetRun();
  }

  #resetRun(): void {
    this.#ets = [];
    this.#curModelOutput = null;
    this.#curSample = null;
  }

  /** The transfer part phi of eq. 9: x_t -> x_{prevT} along noise estimate e (v converted to e). */
  #prevSample(sample: Tensor, t: number, prevT: number, e: Tensor, like: Tensor): Tensor {
    // A zero-terminal-SNR schedule's abar_T = 0 would divide by 0 (NaN): diffusers' finite stand-in.
    const abarT = this.alphasCumprod[t] === 0 ? ZERO_SNR_ALPHA_BAR : this.alphasCumprod[t]!;
    const abarPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : this.finalAlphaCumprod;
    const isV = this.config.predictionType === 'v_prediction';
    const sampleCoeff = Math.sqrt(abarPrev / abarT);
    const denom = abarT * Math.sqrt(1 - abarPrev) + Math.sqrt(abarT * (1 - abarT) * abarPrev);
    // eps = sqrt(abar) v + sqrt(1 - abar) x for a v-prediction (as diffusers, at the step's start).
    const eps = isV ? linearCombination([[Math.sqrt(abarT), e], [Math.sqrt(1 - abarT), sample]], 'float64') : e;
    // sampleCoeff x - (abar_prev - abar_t) eps / denom, the quotient in float64, rounded once.
    const epsTerm = divScalar(mulScalar(eps, abarPrev - abarT), denom);
    return linearCombination([[sampleCoeff, sample], [-1, epsTerm]], like.dtype);
  }

  /**
   * One PRK or PLMS model call's step. Steps must follow `timesteps` in order (a step at the first
   * timestep starts a new run). predOriginalSample is x_0 predicted from this call's model output
   * at (x, t). No autograd graph.
   */
  step(modelOutput: Tensor, t: number, x: Tensor, _options: StepOptions = {}): SchedulerOutput {
    const op = 'PNDMScheduler.step';
    if (this.numInferenceSteps === null) throw new ArgumentError(`${op}: call setTimesteps(numInferenceSteps) before step (PNDM's step sizes depend on it)`);
    this.checkTimestep(op, t);
    this.checkStepInputs(op, modelOutput, x);
    const ts = this.timesteps;
    let c = this.#next;
    let continues = true;
    if (ts[c] !== t) {
      if (t !== ts[0]) {
        throw new ArgumentError(`${op}: expected timestep ${ts[c] ?? ts[0]} (position ${c < ts.length ? c : 0} of scheduler.timesteps), found ${t}; PNDM steps must follow scheduler.timesteps in order (restart from ${ts[0]})`);
      }
      c = 0;
      continues = false;
    }
    if (!continues) this.#resetRun();
    const n = this.numInferenceSteps;
    const T = this.config.numTrainTimesteps;
    const out = noGrad(() => {
      const m = toFloat64(modelOutput);
      const x0 = predictX0(modelOutput, x, this.alphasCumprod[t] === 0 ? ZERO_SNR_ALPHA_BAR : this.alphasCumprod[t]!, this.config.predictionType);
      if (c < this.#prkTimesteps.length) return { prev: this.#stepPrk(m, c, t, x, T, n), x0 };
      return { prev: this.#stepPlms(m, c, t, x, T, n), x0 };
    });
    this.#next = c + 1;
    return { prevSample: out.prev, predOriginalSample: out.x0 };
  }

  /** Pseudo RK4 (eq. 13): call c % 4 = 0..3 evaluates at start, mid, mid, end of one step. */
  #stepPrk(e: Tensor, c: number, t: number, x: Tensor, T: number, n: number): Tensor {
    const diffToPrev = c % 2 === 1 ? 0 : Math.floor(Math.floor(T / n) / 2);
    const prevT = t - diffToPrev;
    const tStart = this.#prkTimesteps[Math.floor(c / 4) * 4]!;
    let eStep = e;
    switch (c % 4) {
      case 0:
        this.#curModelOutput = divScalar(e, 6);
        this.#ets.push(e);
        this.#curSample = x;
        break;
      case 1:
      case 2:
        this.#curModelOutput = add(this.#curModelOutput!, divScalar(e, 3));
        break;
      case 3:
        eStep = add(this.#curModelOutput!, divScalar(e, 6));
        this.#curModelOutput = null;
        break;
    }
    return this.#prevSample(this.#curSample ?? x, tStart, prevT, eStep, x);
  }

  /** Pseudo linear multistep (eq. 12) with Adams–Bashforth orders 1 to 4. */
  #stepPlms(e: Tensor, c: number, t: number, x: Tensor, T: number, n: number): Tensor {
    if (!this.config.skipPrkSteps && this.#ets.length < PNDM_ORDER - 1) {
      throw new ArgumentError(`PNDMScheduler.step: the PLMS steps need the 3 PRK warm-up steps first; step through scheduler.timesteps from the start`);
    }
    let prevT = t - Math.floor(T / n);
    let tFrom = t;
    if (c !== 1) {
      this.#ets = [...this.#ets.slice(-3), e];
    } else {
      // skip_prk's second call re-takes the first step from t_0 (its start) with the averaged estimate.
      prevT = t;
      tFrom = t + Math.floor(T / n);
    }
    const ets = this.#ets;
    const last = (k: number): Tensor => ets[ets.length - k]!;
    let sample = x;
    let eStep: Tensor; // float64, as the model outputs it combines
    if (ets.length === 1 && c === 0) {
      eStep = e;
      this.#curSample = x;
    } else if (ets.length === 1 && c === 1) {
      eStep = divScalar(add(e, last(1)), 2);
      sample = this.#curSample!;
      this.#curSample = null;
    } else if (ets.length === 2) {
      eStep = divScalar(linearCombination([[3, last(1)], [-1, last(2)]]), 2);
    } else if (ets.length === 3) {
      eStep = divScalar(linearCombination([[23, last(1)], [-16, last(2)], [5, last(3)]]), 12);
    } else {
      eStep = divScalar(linearCombination([[55, last(1)], [-59, last(2)], [37, last(3)], [-9, last(4)]]), 24);
    }
    return this.#prevSample(sample, tFrom, prevT, eStep, x);
  }
}
