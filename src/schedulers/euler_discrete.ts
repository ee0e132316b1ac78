/**
 * EulerDiscreteScheduler: Euler's method on the probability-flow ODE in the variance-exploding
 * parameterisation x = x_0 + sigma eps (Karras et al. 2022, "Elucidating the Design Space of
 * Diffusion-Based Generative Models", Algorithm 2 with S_churn; k-diffusion's `sample_euler`),
 * diffusers-compatible (config keys, defaults, timesteps, sigmas and step arithmetic of diffusers
 * 0.25.1):
 *   sigma_hat = sigma_i (1 + gamma),  x_hat = x + sqrt(sigma_hat^2 - sigma_i^2) S_noise z,
 *   d = (x_hat - D(x_hat; sigma_hat)) / sigma_hat,  x_{i+1} = x_hat + (sigma_{i+1} - sigma_hat) d.
 *
 * This file also holds `SigmaScheduler`, the base of the k-diffusion-style schedulers over a sigma
 * schedule (Euler, Euler ancestral, Heun, DPM2, LMS): sigma_t = sqrt((1 - abar_t) / abar_t) of
 * the training schedule, interpolated at the (possibly fractional) inference timesteps, optionally
 * respaced as Karras et al.'s eq. 5 (rho = 7, `karrasRamp` of diffusion/sigma_ramps.ts); model inputs
 * scaled by 1 / sqrt(sigma^2 + 1).
 *
 * Run state: a step finds its index in the schedule from its timestep (the next expected index of
 * the current run, or, for a timestep that does not continue the run, the index diffusers' first
 * step picks: the second occurrence of a repeated timestep). A step that does not continue the
 * run starts a new one, dropping any multistep memory, so a second run (or setTimesteps again)
 * gives exactly the results of a fresh scheduler.
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, DiffuseError, ShapeError, fmtShape } from '../tensor/errors.js';
import { expectTensor } from '../tensor/check.js';
import { Generator } from '../tensor/random.js';
import { noGrad } from '../tensor/autograd.js';
import { ZERO_SNR_ALPHA_BAR, alphasCumprod as cumprod, makeBetas } from '../diffusion/schedules.js';
import { combine, PREDICTION_TYPES, type PredictionType, type Timesteps } from '../diffusion/forward.js';
import {
  SCHEDULE_FIELDS,
  SPACING_FIELDS,
  boolField,
  configToJson,
  enumField,
  parseSchedulerConfig,
  type ConfigField,
  type ConfigOf,
  type DiffusersConfig,
  type FieldSet,
  type Scheduler,
  type SchedulerOutput,
  type StepOptions,
  type TimestepsRequest,
} from './scheduler.js';
import { checkNumInferenceSteps, numpyLinspace, spacedTimesteps, type TimestepSpacing } from './timesteps.js';
import { sigmaToT as sigmaToTOf } from './sigma_multistep.js';
import { karrasRamp } from '../diffusion/sigma_ramps.js';
import { linearCombination } from '../ops/linear_combination.js';
import { divScalar } from '../ops/scalar.js';
import { dividedDifference, toFloat64 } from './divided_difference.js';

/** A field holding null or a finite number > 0 (diffusers' `sigma_min: Optional[float]`). */
export function nullablePositiveField(key: string): ConfigField<number | null> {
  return {
    key,
    default: null,
    allowed: 'null or a finite number > 0',
    parse: (v) => (v === null ? null : typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined),
    toJson: (v) => v,
  };
}

/** The config every sigma scheduler has. */
export type SigmaConfig = ConfigOf<typeof SCHEDULE_FIELDS> & {
  readonly predictionType: PredictionType;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  readonly rescaleBetasZeroSnr?: boolean;
  readonly useKarrasSigmas?: boolean;
  readonly sigmaMin?: number | null;
  readonly sigmaMax?: number | null;
};

/** A schedule chosen by setTimesteps: per step index, the timestep and the sigma (plus a final one). */
export interface SigmaRunSchedule {
  /** Descending timesteps handed to the model, one per step index. */
  timesteps: number[];
  /** sigma per step index, with one more entry after the last (the sigma the last step lands on). */
  sigmas: Float64Array;
}

/** Where a step sits in the current run. */
export interface RunPosition {
  /** The index into timesteps/sigmas. */
  index: number;
  /** True when the step continues the current run (its multistep memory applies). */
  continues: boolean;
}

/** x_0 predicted from a model output at noise level sigma (diffusers' c_skip / c_out per type). */
export function sigmaX0(type: PredictionType, out: number, x: number, sigma: number): number {
  switch (type) {
    case 'epsilon':
      return x - sigma * out;
    case 'v_prediction':
      // v = (eps - sigma x_0) / sqrt(sigma^2 + 1) in the VE scaling: x_0 = x / (sigma^2 + 1) - sigma v / sqrt(sigma^2 + 1).
      return out * (-sigma / Math.sqrt(sigma * sigma + 1)) + x / (sigma * sigma + 1);
    case 'sample':
      return out;
    default:
      throw new ArgumentError(`prediction_type ${JSON.stringify(type as unknown)} is not one of ${PREDICTION_TYPES.join(', ')}`);
  }
}

/**
 * sigmaX0 over tensors: x_0 from a model output at noise level sigma, in x's dtype (each element
 * as sigmaX0 computes it, rounded once).
 * @example const x0 = sigmaX0Tensor('epsilon', modelOutput, x, sigma); // x - sigma eps
 */
export function sigmaX0Tensor(type: PredictionType, out: Tensor, x: Tensor, sigma: number): Tensor {
  switch (type) {
    case 'epsilon':
      return linearCombination([[1, x], [-sigma, out]]);
    case 'v_prediction':
      return linearCombination([[-sigma / Math.sqrt(sigma * sigma + 1), out], [1, divScalar(toFloat64(x), sigma * sigma + 1)]], x.dtype);
    case 'sample':
      return linearCombination([[1, out]], x.dtype);
    default:
      throw new ArgumentError(`prediction_type ${JSON.stringify(type as unknown)} is not one of ${PREDICTION_TYPES.join(', ')}`);
  }
}

/**
 * The base of the diffusers schedulers over a sigma schedule (k-diffusion's samplers with
 * diffusers' contract): the float64 training schedule and its sigmas, timestep spacing, sigma
 * interpolation, Karras respacing, input scaling, addNoise, config round trip, step bookkeeping.
 */
export abstract class SigmaScheduler<C extends SigmaConfig, O extends StepOptions = StepOptions> implements Scheduler<O> {
  readonly className: string;
  readonly order: number = 1;
  readonly config: C;
  /** beta_t, float64, length T. */
  readonly betas: Float64Array;
  readonly alphas: Float64Array;
  readonly alphasCumprod: Float64Array;
  /** sigma_t = sqrt((1 - abar_t) / abar_t) at each training timestep t = 0..T-1 (ascending). */
  readonly trainSigmas: Float64Array;
  /** log sigma_t, for mapping sigmas back to fractional timesteps. */
  readonly logSigmas: Float64Array;
  // Run state: the schedule set by setTimesteps, and the index the next step of the run is expected at.
  #timesteps: number[] = [];
  #sigmas: Float64Array = new Float64Array(1);
  #numInferenceSteps: number | null = null;
  #next = 0;
  readonly #fields: FieldSet;

  protected constructor(className: string, fields: FieldSet, config: C) {
    this.className = className;
    this.#fields = fields;
    this.config = config;
    try {
      this.betas = makeBetas({
        numTrainTimesteps: config.numTrainTimesteps,
        betaStart: config.betaStart,
        betaEnd: config.betaEnd,
        betaSchedule: config.betaSchedule,
        trainedBetas: config.trainedBetas,
        rescaleBetasZeroSnr: config.rescaleBetasZeroSnr ?? false,
      });
    } catch (e) {
      throw e instanceof DiffuseError ? new ArgumentError(`${className}: ${e.message}`) : e;
    }
    this.alphas = this.betas.map((b) => 1 - b);
    this.alphasCumprod = cumprod(this.betas);
    // Zero terminal SNR (rescale_betas_zero_snr, or trained_betas ending in 1) makes abar_{T-1} = 0
    // and sigma infinite (NaN samples); diffusers keeps it finite.
    const last = this.alphasCumprod.length - 1;
    if (config.rescaleBetasZeroSnr === true || this.alphasCumprod[last] === 0) this.alphasCumprod[last] = ZERO_SNR_ALPHA_BAR;
    this.trainSigmas = this.alphasCumprod.map((a) => Math.sqrt((1 - a) / a));
    this.logSigmas = this.trainSigmas.map(Math.log);
  }

  /** The timesteps of the current run, descending (a copy). */
  get timesteps(): number[] {
    return [...this.#timesteps];
  }

  /** The sigma of each step index, plus the final one (a copy). */
  get sigmas(): number[] {
    return Array.from(this.#sigmas);
  }

  get numInferenceSteps(): number | null {
    return this.#numInferenceSteps;
  }

  get numTrainTimesteps(): number {
    return this.config.numTrainTimesteps;
  }

  /**
   * The initial noise's std: the largest sigma, or sqrt(sigma_max^2 + 1) with leading spacing
   * (diffusers' rule: there x_T is taken as the model's VP input scaled up, not pure VE noise).
   */
  get initNoiseSigma(): number {
    let max = 0;
    for (const s of this.#sigmas) if (s > max) max = s;
    return this.config.timestepSpacing === 'leading' ? Math.sqrt(max * max + 1) : max;
  }

  /** The schedule's sigma array (no copy), for subclasses. */
  protected get sigmaArray(): Float64Array {
    return this.#sigmas;
  }

  /** Builds the run schedule for n steps (subclasses expand it for their half-steps). */
  protected abstract makeSchedule(n: number): SigmaRunSchedule;

  /** Drops multistep memory (called when a new run starts). */
  protected abstract resetRun(): void;

  /**
   * Chooses this run's timesteps and sigmas (n steps, spaced by `timestep_spacing`) and resets
   * all run state. Custom timestep lists are not supported by these schedulers (diffusers 0.25.1).
   * @example s.setTimesteps(25);
   */
  setTimesteps(request: TimestepsRequest): void {
    const op = `${this.className}.setTimesteps`;
    if (typeof request === 'object' && request !== null) {
      throw new ArgumentError(`${op}: custom timesteps are not supported by ${this.className} (its sigmas are interpolated per step count); pass a number of inference steps`);
    }
    checkNumInferenceSteps(op, request, this.config.numTrainTimesteps);
    const { timesteps, sigmas } = this.makeSchedule(request);
    this.#timesteps = timesteps;
    this.#sigmas = sigmas;
    this.#numInferenceSteps = request;
    this.#next = 0;
    this.resetRun();
  }

  /**
   * The N descending timesteps of `timestep_spacing`, in float64: linspace is fractional
   * (np.linspace(0, T - 1, N) reversed), leading and trailing are integers as for DDPM/DDIM.
   */
  protected spacedTimesteps(n: number): Float64Array {
    const T = this.config.numTrainTimesteps;
    if (this.config.timestepSpacing === 'linspace') return numpyLinspace(0, T - 1, n).reverse();
    return Float64Array.from(spacedTimesteps(this.config.timestepSpacing, T, n, this.config.stepsOffset));
  }

  /** sigma at a fractional timestep: linear interpolation of trainSigmas (np.interp, clamped). */
  sigmaAt(t: number): number {
    const s = this.trainSigmas;
    const last = s.length - 1;
    if (!(t > 0)) return s[0]!;
    if (t >= last) return s[last]!;
    const i = Math.floor(t);
    return s[i]! + (s[i + 1]! - s[i]!) * (t - i);
  }

  /**
   * The fractional timestep of a sigma: linear interpolation in log sigma between the two
   * training timesteps around it (diffusers' `_sigma_to_t`, k-diffusion's `sigma_to_t`).
   */
  sigmaToT(sigma: number): number {
    return sigmaToTOf(sigma, this.logSigmas);
  }

  /**
   * The N sigmas and timesteps shared by every sigma scheduler: spaced timesteps, interpolated
   * sigmas, and with `use_karras_sigmas` the Karras schedule between the same end points (or
   * sigma_min/sigma_max) with timesteps mapped back from it.
   */
  protected baseSchedule(n: number): { timesteps: Float64Array; sigmas: Float64Array } {
    let timesteps: Float64Array = this.spacedTimesteps(n);
    let sigmas: Float64Array = timesteps.map((t) => this.sigmaAt(t));
    if (this.config.useKarrasSigmas === true) {
      sigmas = karrasRamp(n, this.config.sigmaMin ?? sigmas[sigmas.length - 1]!, this.config.sigmaMax ?? sigmas[0]!);
      timesteps = sigmas.map((s) => this.sigmaToT(s));
    }
    return { timesteps, sigmas };
  }

  /** The index diffusers' first step picks for t: its second occurrence if repeated; -1 if absent. */
  protected firstIndexOf(t: number): number {
    const first = this.#timesteps.indexOf(t);
    if (first < 0) return -1;
    const second = this.#timesteps.indexOf(t, first + 1);
    return second >= 0 ? second : first;
  }

  /** Where a step at t sits: the run's next index if t is its timestep, else a new run's start. Pure. */
  protected locate(op: string, t: unknown): RunPosition {
    if (typeof t !== 'number' || !Number.isFinite(t)) {
      throw new ArgumentError(`${op}: timestep must be one of scheduler.timesteps (a finite number), found ${typeof t === 'number' ? t : typeof t}`);
    }
    if (this.#next < this.#timesteps.length && this.#timesteps[this.#next] === t) return { index: this.#next, continues: true };
    const index = this.firstIndexOf(t);
    if (index < 0) {
      const ts = this.#timesteps;
      const shown = ts.length > 8 ? `${ts.slice(0, 4).join(', ')}, ..., ${ts.slice(-2).join(', ')}` : ts.join(', ');
      throw new ArgumentError(`${op}: timestep ${t} is not one of this run's timesteps (${shown}); pass the values of scheduler.timesteps after setTimesteps`);
    }
    return { index, continues: false };
  }

  /** Records that the step at `pos` was taken: a new run drops old memory; the next step follows. */
  protected advance(pos: RunPosition): void {
    if (!pos.continues) this.resetRun();
    this.#next = pos.index + 1;
  }

  /** The sigma the model input at step index i is scaled for (DPM2 overrides it for its midpoints). */
  protected inputSigma(index: number): number {
    return this.#sigmas[index]!;
  }

  /**
   * The model's input at t: x / sqrt(sigma^2 + 1), so a VP-trained model sees unit-variance-ish
   * data (x = x_0 + sigma eps is sqrt(abar) times larger than the VP x_t).
   */
  scaleModelInput(x: Tensor, t: number): Tensor {
    const op = `${this.className}.scaleModelInput`;
    expectTensor(op, 'x', x);
    const sigma = this.inputSigma(this.locate(op, t).index);
    const c = 1 / Math.sqrt(sigma * sigma + 1);
    return noGrad(() => linearCombination([[c, x]]));
  }

  /**
   * The forward process in VE form: x = x_0 + sigma(t) noise, per sample, with t from this run's
   * timesteps (a repeated one takes its second occurrence, as diffusers).
   * @example const xt = s.addNoise(x0, noise, [s.timesteps[3]!]);
   */
  addNoise(x0: Tensor, noise: Tensor, timesteps: Timesteps): Tensor {
    const op = `${this.className}.addNoise`;
    expectTensor(op, 'x0', x0);
    const ts = typeof timesteps === 'number' ? [timesteps] : Array.from(timesteps);
    const sigmas = ts.map((t) => {
      const i = this.firstIndexOf(t);
      if (i < 0) throw new ArgumentError(`${op}: timestep ${t} is not one of this run's timesteps; pass values of scheduler.timesteps`);
      return this.#sigmas[i]!;
    });
    return combine(op, 1, x0, sigmas, noise, ['x0', 'noise']);
  }

  toConfig(): Record<string, unknown> {
    return configToJson(this.className, this.#fields, this.config as ConfigOf<FieldSet>);
  }

  /** Checks step's tensors: model output shaped and typed like x, x with a batch axis. */
  protected checkStepInputs(op: string, modelOutput: unknown, x: unknown): asserts modelOutput is Tensor {
    expectTensor(op, 'modelOutput', modelOutput);
    expectTensor(op, 'x', x);
    const xt = x as Tensor;
    if (xt.rank < 1) throw new ShapeError(`${op}: input 'x' must have a batch axis (e.g. (N, H, W, C)), found shape ${fmtShape(xt.shape)}`);
    if (modelOutput.rank !== xt.rank || modelOutput.shape.some((d, i) => d !== xt.shape[i])) {
      throw new ShapeError(`${op}: input 'modelOutput' has shape ${fmtShape(modelOutput.shape)}, expected the shape of x ${fmtShape(xt.shape)}`);
    }
    if (modelOutput.dtype !== xt.dtype) {
      throw new ArgumentError(`${op}: input 'modelOutput' is ${modelOutput.dtype} but 'x' is ${xt.dtype}; they must share one dtype`);
    }
  }

  /** The Gaussian noise of a stochastic step: options.noise, or drawn from options.generator. */
  protected stepNoise(op: string, x: Tensor, options: StepOptions): Tensor {
    const { noise, generator } = options;
    if (noise !== undefined && generator !== undefined) throw new ArgumentError(`${op}: pass either 'noise' or 'generator', not both`);
    if (noise !== undefined) {
      expectTensor(op, 'noise', noise);
      if (noise.rank !== x.rank || noise.shape.some((d, i) => d !== x.shape[i])) {
        throw new ShapeError(`${op}: input 'noise' has shape ${fmtShape(noise.shape)}, expected the shape of x ${fmtShape(x.shape)}`);
      }
      return noise;
    }
    if (generator !== undefined) {
      if (!(generator instanceof Generator)) throw new ArgumentError(`${op}: 'generator' must be a Generator, found ${typeof generator}`);
      return generator.normal(x.shape);
    }
    throw new ArgumentError(`${op}: this step adds Gaussian noise; pass { generator } (a seeded Generator) or { noise } (a tensor shaped like x ${fmtShape(x.shape)})`);
  }

  abstract step(modelOutput: Tensor, t: number, x: Tensor, options?: O): SchedulerOutput;
}

/** Checks an optional finite-number step option. */
export function numberOption(op: string, name: string, v: unknown, def: number, min = -Infinity, allowInf = false): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || Number.isNaN(v) || (!allowInf && !Number.isFinite(v)) || v < min) {
    throw new ArgumentError(`${op}: '${name}' must be a ${allowInf ? '' : 'finite '}number${min > -Infinity ? ` >= ${min}` : ''}, found ${String(v)}`);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------

/** `timestep_type`: 'continuous' with v_prediction hands the model 0.25 log sigma (EDM's c_noise). */
export type TimestepType = 'discrete' | 'continuous';

/** EulerDiscreteScheduler's config keys in diffusers 0.25.1's order, with its defaults. */
export const EULER_FIELDS = {
  ...SCHEDULE_FIELDS,
  predictionType: enumField<PredictionType>('prediction_type', PREDICTION_TYPES, 'epsilon'),
  /** How sigmas are read between training timesteps; diffusers' 'log_linear' is not supported. */
  interpolationType: enumField<'linear'>('interpolation_type', ['linear'], 'linear'),
  useKarrasSigmas: boolField('use_karras_sigmas', false),
  sigmaMin: nullablePositiveField('sigma_min'),
  sigmaMax: nullablePositiveField('sigma_max'),
  timestepSpacing: enumField<TimestepSpacing>('timestep_spacing', ['leading', 'trailing', 'linspace'], 'linspace'),
  timestepType: enumField<TimestepType>('timestep_type', ['discrete', 'continuous'], 'discrete'),
  stepsOffset: SPACING_FIELDS.stepsOffset,
  rescaleBetasZeroSnr: SPACING_FIELDS.rescaleBetasZeroSnr,
} as const;

export type EulerDiscreteSchedulerConfig = ConfigOf<typeof EULER_FIELDS>;

/** Euler's extra step arguments: Karras et al.'s stochastic churn (Algorithm 2). */
export interface EulerStepOptions extends StepOptions {
  /** S_churn >= 0: total noise injected over the run; gamma = min(S_churn / N, sqrt(2) - 1). Default 0. */
  sChurn?: number;
  /** Churn only where S_tmin <= sigma <= S_tmax. Defaults 0 and Infinity. */
  sTmin?: number;
  sTmax?: number;
  /** S_noise: the std of the churn noise (slightly > 1 offsets detail loss). Default 1. */
  sNoise?: number;
}

/** Round each value to float32, as diffusers' float32 timestep tensors. */
const toFloat32 = (v: ArrayLike<number>): number[] => Array.from(v, Math.fround);

/**
 * Euler (Karras et al. 2022, Algorithm 2) with diffusers' `EulerDiscreteScheduler` contract.
 * @example
 * const s = new EulerDiscreteScheduler({ use_karras_sigmas: true });
 * s.setTimesteps(30);
 * let x = noise.mul(s.initNoiseSigma);
 * for (const t of s.timesteps) x = s.step(model(s.scaleModelInput(x, t), t), t, x).prevSample;
 */
export class EulerDiscreteScheduler extends SigmaScheduler<EulerDiscreteSchedulerConfig, EulerStepOptions> {
  constructor(config: DiffusersConfig = {}) {
    super('EulerDiscreteScheduler', EULER_FIELDS, parseSchedulerConfig('EulerDiscreteScheduler', EULER_FIELDS, config));
    this.setTimesteps(this.config.numTrainTimesteps);
  }

  static fromConfig(config: DiffusersConfig): EulerDiscreteScheduler {
    return new EulerDiscreteScheduler(config);
  }

  protected makeSchedule(n: number): SigmaRunSchedule {
    // diffusers builds Euler's timesteps as float32 before interpolating sigmas at them.
    const { timesteps, sigmas } = this.baseSchedule(n);
    const ts = toFloat32(timesteps);
    const sig = this.config.useKarrasSigmas ? sigmas : Float64Array.from(ts, (t) => this.sigmaAt(t));
    const model = this.config.timestepType === 'continuous' && this.config.predictionType === 'v_prediction' ? toFloat32(Array.from(sig, (s) => 0.25 * Math.log(s))) : ts;
    const all = new Float64Array(n + 1);
    all.set(sig);
    return { timesteps: model, sigmas: all };
  }

  protected resetRun(): void {
    // Euler keeps no memory between steps.
  }

  /**
   * One Euler step from sigma_i to sigma_{i+1} (with churn when sChurn > 0, drawing noise from
   * options.noise or options.generator). The output carries no autograd graph.
   */
  step(modelOutput: Tensor, t: number, x: Tensor, options: EulerStepOptions = {}): SchedulerOutput {
    const op = 'EulerDiscreteScheduler.step';
    this.checkStepInputs(op, modelOutput, x);
    const sChurn = numberOption(op, 'sChurn', options.sChurn, 0, 0);
    const sTmin = numberOption(op, 'sTmin', options.sTmin, 0, -Infinity, true);
    const sTmax = numberOption(op, 'sTmax', options.sTmax, Infinity, -Infinity, true);
    const sNoise = numberOption(op, 'sNoise', options.sNoise, 1);
    const pos = this.locate(op, t);
    const sigmas = this.sigmaArray;
    const sigma = sigmas[pos.index]!;
    const sigmaNext = sigmas[pos.index + 1]!;
    // gamma: how far to raise the noise level before the step (Algorithm 2, line 4).
    const gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (sigmas.length - 1), Math.SQRT2 - 1) : 0;
    const sigmaHat = sigma * (gamma + 1);
    const churn = gamma > 0 ? this.stepNoise(op, x, options) : null;
    const out = noGrad(() => {
      const churnStd = Math.sqrt(sigmaHat * sigmaHat - sigma * sigma) * sNoise;
      const xHat = churn === null ? x : linearCombination([[1, x], [churnStd, churn]]);
      // epsilon uses sigma_hat (the level x_hat is at); diffusers' v_prediction uses sigma.
      const type = this.config.predictionType;
      const x0 = sigmaX0Tensor(type, modelOutput, xHat, type === 'epsilon' ? sigmaHat : sigma);
      const dPrime = dividedDifference(xHat, x0, sigmaHat); // the ODE's dx/dsigma
      const prev = linearCombination([[1, xHat], [sigmaNext - sigmaHat, dPrime]], x.dtype);
      return { prevSample: prev, predOriginalSample: x0 };
    });
    this.advance(pos);
    return out;
  }
}

