/**
 * The scheduler contract shared by every diffusers-compatible scheduler (DESIGN: schedulers/):
 * construct from a diffusers config object (the snake_case keys of scheduler_config.json), read
 * it back camelCase as `config`, write it back with `toConfig()`; `setTimesteps(n | { timesteps })`,
 * `timesteps`, `initNoiseSigma`, `scaleModelInput(x, t)`, `step(modelOutput, t, x, options)` and
 * `addNoise(x0, noise, timesteps)`. A step is a pure function of its arguments and of the state
 * `setTimesteps` sets (never a hidden step counter), so running twice, or after another run, gives
 * the same results. This file also holds the typed config-field machinery (parse with errors that
 * name the key, the value and what is allowed) and `DiscreteScheduler`, the base of the schedulers
 * over T discrete training timesteps (DDPM, DDIM, ...), with dynamic thresholding (Saharia et al.
 * 2022, "Imagen", sec. 2.3) and x_0 clipping.
 */
import { Tensor } from '../tensor/tensor.js';
import { linearCombination } from '../ops/linear_combination.js';
import { clipX0, thresholdX0 } from './thresholding.js';
export { dynamicThreshold, clipInPlace } from './thresholding.js';
import { ArgumentError, DiffuseError, ShapeError, fmtShape } from '../tensor/errors.js';
import { expectTensor } from '../tensor/check.js';
import { Generator } from '../tensor/random.js';
import { SCHEDULE_FIELDS, alphasCumprod as cumprod, betasField, makeBetas } from '../diffusion/schedules.js';
import { PREDICTION_TYPES, addNoise as qSample, getVelocity as velocity, type PredictionType, type Timesteps } from '../diffusion/forward.js';
import { parseConfig, configToJson as fieldsToJson } from '../schema/config.js';
import { boolField, enumField, intField, numberField, showValue, type Field, type FieldSet, type ValuesOf } from '../schema/field.js';
import { TIMESTEP_SPACINGS, checkCustomTimesteps, checkNumInferenceSteps, spacedTimesteps, type TimestepSpacing } from './timesteps.js';
import { DIFFUSERS_VERSION } from '../io/checkpoint.js';

/** A diffusers config object: the snake_case keys of scheduler_config.json. */
export type DiffusersConfig = Readonly<Record<string, unknown>>;

// The diffusers release these classes follow (defined once, with the folder layout).
export { DIFFUSERS_VERSION };

/** Extra arguments of `step`. */
export interface StepOptions {
  /** The exact Gaussian noise to add where the step is stochastic (shape of the sample). */
  noise?: Tensor;
  /** A seeded generator to draw that noise from when `noise` is not given. */
  generator?: Generator;
}

/** What a step returns. */
export interface SchedulerOutput {
  /** x at the previous (less noisy) timestep: the next model input. */
  prevSample: Tensor;
  /** The model's estimate of x_0 at this step (after clipping/thresholding). */
  predOriginalSample: Tensor;
}

/** `setTimesteps`' argument: a step count, or explicit descending timesteps. */
export type TimestepsRequest = number | { timesteps: readonly number[] };

/** The step-wise sampler interface every scheduler implements (diffusers' contract). */
export interface Scheduler<O extends StepOptions = StepOptions> {
  /** diffusers' class name, written as `_class_name`. */
  readonly className: string;
  /** Model evaluations per timestep entry (1 for DDPM/DDIM). */
  readonly order: number;
  /** The parsed config, camelCase (each class narrows its type). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The timesteps of the current run, descending (a copy). */
  readonly timesteps: number[];
  /** Standard deviation of the initial noise x_T. */
  readonly initNoiseSigma: number;
  setTimesteps(request: TimestepsRequest): void;
  scaleModelInput(x: Tensor, t: number): Tensor;
  step(modelOutput: Tensor, t: number, x: Tensor, options?: O): SchedulerOutput;
  addNoise(x0: Tensor, noise: Tensor, timesteps: Timesteps): Tensor;
  /** The diffusers config (snake_case, with `_class_name`), for scheduler_config.json. */
  toConfig(): Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Config fields: the schema module's (src/schema), read with diffusers' rules below.

/** One config key: its JSON name, default, parser and a description of allowed values. */
export type ConfigField<T> = Field<T>;
export type { FieldSet } from '../schema/field.js';
/** The parsed (camelCase) config of a field set. */
export type ConfigOf<F extends FieldSet> = ValuesOf<F>;
export { intField, numberField, boolField, enumField } from '../schema/field.js';

// The noise-schedule fields live with the schedule (diffusion/schedules.ts).
export { betasField, SCHEDULE_FIELDS };

/** x_0 clipping and dynamic thresholding fields (DDPM, DDIM, DPM-Solver, ...). */
export const CLIP_FIELDS = {
  clipSample: boolField('clip_sample', true),
  predictionType: enumField<PredictionType>('prediction_type', PREDICTION_TYPES, 'epsilon'),
  thresholding: boolField('thresholding', false),
  dynamicThresholdingRatio: numberField('dynamic_thresholding_ratio', 0.995, 0, 1),
  clipSampleRange: numberField('clip_sample_range', 1.0, 0, Infinity, true),
  sampleMaxValue: numberField('sample_max_value', 1.0, 0, Infinity, true),
} as const;

/** Timestep spacing fields. */
export const SPACING_FIELDS = {
  timestepSpacing: enumField<TimestepSpacing>('timestep_spacing', TIMESTEP_SPACINGS, 'leading'),
  stepsOffset: intField('steps_offset', 0, 0),
  rescaleBetasZeroSnr: boolField('rescale_betas_zero_snr', false),
} as const;

/**
 * Keys other diffusers schedulers (and older diffusers releases) write to scheduler_config.json.
 * They are accepted and ignored, so one model's config can build any scheduler, as diffusers'
 * `from_config` allows; any other unknown key is an error (usually a typo).
 */
export const FOREIGN_CONFIG_KEYS: ReadonlySet<string> = new Set([
  'variance_type', 'set_alpha_to_one', 'skip_prk_steps', 'steps_offset', 'clip_sample', 'clip_sample_range', 'thresholding',
  'dynamic_thresholding_ratio', 'sample_max_value', 'timestep_spacing', 'rescale_betas_zero_snr', 'prediction_type',
  'use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas', 'sigma_min', 'sigma_max', 'interpolation_type',
  'timestep_type', 'solver_order', 'algorithm_type', 'solver_type', 'lower_order_final', 'euler_at_final',
  'lambda_min_clipped', 'final_sigmas_type', 'disable_corrector', 'solver_p', 'predict_x0', 'use_lu_lambdas',
  'noise_sampler_seed', 'timestep_values', 'tensor_format', 's_noise', 's_churn', 's_tmin', 's_tmax',
  'rho', 'shift', 'use_dynamic_shifting', 'sigma_data', 'beta_schedule', 'trained_betas', 'beta_start', 'beta_end',
  'num_train_timesteps', 'predict_epsilon',
]);

/**
 * Parses a diffusers config object into the camelCase config of `fields`: missing keys take
 * diffusers' defaults, keys starting with '_' (`_class_name`, `_diffusers_version`) and keys of
 * other schedulers are ignored, and a wrong value or an unknown key throws an error naming the
 * key, the value and what is allowed. `predict_epsilon` (diffusers < 0.10) maps to prediction_type.
 * @example const cfg = parseSchedulerConfig('DDPMScheduler', DDPM_FIELDS, { beta_schedule: 'linear' });
 */
export function parseSchedulerConfig<F extends FieldSet>(className: string, fields: F, json: unknown): ConfigOf<F> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ArgumentError(`${className}: config must be an object with diffusers' snake_case keys (scheduler_config.json), found ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`);
  }
  const src = json as Record<string, unknown>;
  const out: Record<string, unknown> = { ...parseConfig(className, fields, src, { ignoreKeys: FOREIGN_CONFIG_KEYS, keyStyleNote: "scheduler configs use diffusers' snake_case keys" }) };
  const byKey = new Map<string, [string, ConfigField<unknown>]>();
  for (const [name, f] of Object.entries(fields)) byKey.set(f.key, [name, f]);

  // Legacy `predict_epsilon: bool` (diffusers < 0.10): true -> 'epsilon', false -> 'sample'.
  const legacy = src['predict_epsilon'];
  if (legacy !== undefined && byKey.has('prediction_type')) {
    if (typeof legacy !== 'boolean') throw new ArgumentError(`${className}: config key "predict_epsilon" has value ${showValue(legacy)}; allowed: true or false`);
    const implied = legacy ? 'epsilon' : 'sample';
    const explicit = src['prediction_type'];
    if (explicit !== undefined && explicit !== implied) {
      throw new ArgumentError(`${className}: config keys disagree: predict_epsilon = ${legacy} means prediction_type "${implied}", but prediction_type is ${showValue(explicit)}; drop predict_epsilon`);
    }
    const name = byKey.get('prediction_type')![0];
    out[name] = implied;
  }
  return Object.freeze(out) as ConfigOf<F>;
}

/** The diffusers JSON of a parsed config: `_class_name`, `_diffusers_version`, then every field. */
export function configToJson<F extends FieldSet>(className: string, fields: F, config: ConfigOf<F>): Record<string, unknown> {
  return { _class_name: className, _diffusers_version: DIFFUSERS_VERSION, ...fieldsToJson(fields, config) };
}

// ---------------------------------------------------------------------------------------------
// The base of discrete-time schedulers

/** The config fields every DiscreteScheduler has. */
export type DiscreteConfig = ConfigOf<typeof SCHEDULE_FIELDS> & ConfigOf<typeof SPACING_FIELDS> & { readonly predictionType: PredictionType };

/**
 * Shared machinery of schedulers over T discrete training timesteps: the float64 schedule
 * (betas, alphas, alphasCumprod), timestep spacing, `addNoise`/`getVelocity`, config round trip
 * and argument checks. Subclasses implement `step`.
 */
export abstract class DiscreteScheduler<C extends DiscreteConfig, O extends StepOptions = StepOptions> implements Scheduler<O> {
  readonly className: string;
  readonly order: number = 1;
  /** The parsed config (camelCase; frozen). */
  readonly config: C;
  /** beta_t, float64, length T. */
  readonly betas: Float64Array;
  /** alpha_t = 1 - beta_t. */
  readonly alphas: Float64Array;
  /** abar_t = prod_{s<=t} alpha_s. */
  readonly alphasCumprod: Float64Array;
  readonly initNoiseSigma: number = 1;
  // Run state: set only by setTimesteps, read by step (never advanced by it).
  #numInferenceSteps: number | null = null;
  #customTimesteps = false;
  #timesteps: number[];
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
        rescaleBetasZeroSnr: config.rescaleBetasZeroSnr,
      });
    } catch (e) {
      throw e instanceof DiffuseError ? new ArgumentError(`${className}: ${e.message}`) : e;
    }
    this.alphas = this.betas.map((b) => 1 - b);
    this.alphasCumprod = cumprod(this.betas);
    // Before setTimesteps, diffusers lists every training timestep, descending.
    this.#timesteps = Array.from({ length: config.numTrainTimesteps }, (_, i) => config.numTrainTimesteps - 1 - i);
  }

  get timesteps(): number[] {
    return [...this.#timesteps];
  }

  /** The step count of the last setTimesteps(n), or null (before it, or with custom timesteps). */
  get numInferenceSteps(): number | null {
    return this.#numInferenceSteps;
  }

  /** Whether the timesteps came from setTimesteps({ timesteps }). */
  get customTimesteps(): boolean {
    return this.#customTimesteps;
  }

  /** Number of training timesteps T. */
  get numTrainTimesteps(): number {
    return this.config.numTrainTimesteps;
  }

  /**
   * Chooses this run's timesteps: `n` spaced by `timestep_spacing`, or explicit descending
   * integer timesteps. Replaces all run state, so a second call starts a fresh run.
   * @example s.setTimesteps(50); s.setTimesteps({ timesteps: [999, 500, 0] });
   */
  setTimesteps(request: TimestepsRequest): void {
    const op = `${this.className}.setTimesteps`;
    const T = this.config.numTrainTimesteps;
    if (typeof request === 'object' && request !== null) {
      this.#timesteps = checkCustomTimesteps(op, request.timesteps, T);
      this.#numInferenceSteps = null;
      this.#customTimesteps = true;
      return;
    }
    checkNumInferenceSteps(op, request, T);
    this.#timesteps = spacedTimesteps(this.config.timestepSpacing, T, request, this.config.stepsOffset);
    this.#numInferenceSteps = request;
    this.#customTimesteps = false;
  }

  /**
   * The timestep the step from t lands on (-1: past the end, i.e. x_0). With custom timesteps it
   * is the next listed one; otherwise diffusers' rule t - floor(T / N) (for trailing or linspace
   * spacing with N not dividing T this differs from the next listed timestep, as in diffusers).
   */
  previousTimestep(t: number): number {
    if (this.#customTimesteps) {
      const i = this.#timesteps.indexOf(t);
      if (i < 0) {
        throw new ArgumentError(`${this.className}.step: timestep ${t} is not one of the custom timesteps set by setTimesteps (${showValue(this.#timesteps)})`);
      }
      return this.#timesteps[i + 1] ?? -1;
    }
    const n = this.#numInferenceSteps ?? this.config.numTrainTimesteps;
    return t - Math.floor(this.config.numTrainTimesteps / n);
  }

  /** DDPM and DDIM models take x_t unscaled: returns x itself. */
  scaleModelInput(x: Tensor, t: number): Tensor {
    expectTensor(`${this.className}.scaleModelInput`, 'x', x);
    this.checkTimestep(`${this.className}.scaleModelInput`, t);
    return x;
  }

  abstract step(modelOutput: Tensor, t: number, x: Tensor, options?: O): SchedulerOutput;

  /**
   * q(x_t | x_0) at per-sample timesteps (see diffusion/forward.ts `addNoise`).
   * @example const xt = s.addNoise(x0, noise, [999, 10]);
   */
  addNoise(x0: Tensor, noise: Tensor, timesteps: Timesteps): Tensor {
    return qSample(this.alphasCumprod, x0, noise, timesteps);
  }

  /** The v-prediction target at per-sample timesteps (see diffusion/forward.ts `getVelocity`). */
  getVelocity(x0: Tensor, noise: Tensor, timesteps: Timesteps): Tensor {
    return velocity(this.alphasCumprod, x0, noise, timesteps);
  }

  toConfig(): Record<string, unknown> {
    return configToJson(this.className, this.#fields, this.config as ConfigOf<FieldSet>);
  }

  /** Throws unless t is an integer training timestep. */
  protected checkTimestep(op: string, t: unknown): asserts t is number {
    const T = this.config.numTrainTimesteps;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= T) {
      throw new ArgumentError(`${op}: timestep must be an integer in [0, num_train_timesteps = ${T}), found ${typeof t === 'number' ? t : typeof t}`);
    }
  }

  /** Checks step's tensors: same dtype, rank >= 1, model output shaped like x (or `outShape`). */
  protected checkStepInputs(op: string, modelOutput: unknown, x: unknown, outShape?: readonly number[]): asserts modelOutput is Tensor {
    expectTensor(op, 'modelOutput', modelOutput);
    expectTensor(op, 'x', x);
    const xt = x as Tensor;
    if (xt.rank < 1) throw new ShapeError(`${op}: input 'x' must have a batch axis (e.g. (N, H, W, C)), found shape ${fmtShape(xt.shape)}`);
    const want = outShape ?? xt.shape;
    if (modelOutput.rank !== want.length || modelOutput.shape.some((d, i) => d !== want[i])) {
      throw new ShapeError(`${op}: input 'modelOutput' has shape ${fmtShape(modelOutput.shape)}, expected ${fmtShape(want)} (the shape of x ${fmtShape(xt.shape)})`);
    }
    if (modelOutput.dtype !== xt.dtype) {
      throw new ArgumentError(`${op}: input 'modelOutput' is ${modelOutput.dtype} but 'x' is ${xt.dtype}; they must share one dtype`);
    }
  }

  /** The noise of a stochastic step, in x's dtype: options.noise, or drawn from options.generator. */
  protected stepNoise(op: string, x: Tensor, options: StepOptions): Tensor {
    const { noise, generator } = options;
    if (noise !== undefined && generator !== undefined) {
      throw new ArgumentError(`${op}: pass either 'noise' or 'generator', not both`);
    }
    let z: Tensor;
    if (noise !== undefined) {
      expectTensor(op, 'noise', noise);
      if (noise.rank !== x.rank || noise.shape.some((d, i) => d !== x.shape[i])) {
        throw new ShapeError(`${op}: input 'noise' has shape ${fmtShape(noise.shape)}, expected the shape of x ${fmtShape(x.shape)}`);
      }
      z = noise;
    } else if (generator !== undefined) {
      if (!(generator instanceof Generator)) throw new ArgumentError(`${op}: 'generator' must be a Generator, found ${typeof generator}`);
      z = generator.normal(x.shape);
    } else {
      throw new ArgumentError(`${op}: this step adds Gaussian noise; pass { generator } (a seeded Generator) or { noise } (a tensor shaped like x ${fmtShape(x.shape)})`);
    }
    return z.dtype === x.dtype ? z : linearCombination([[1, z]], x.dtype);
  }

  /** x_0 clipped or thresholded as the config asks (thresholding wins); x0 itself when neither. */
  protected clipOrThreshold(x0: Tensor, cfg: { thresholding: boolean; clipSample: boolean; clipSampleRange: number; dynamicThresholdingRatio: number; sampleMaxValue: number }): Tensor {
    if (cfg.thresholding) return thresholdX0(x0, cfg.dynamicThresholdingRatio, cfg.sampleMaxValue);
    if (cfg.clipSample) return clipX0(x0, cfg.clipSampleRange);
    return x0;
  }
}
