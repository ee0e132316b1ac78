/**
 * The shared machinery of the exponential-integrator schedulers of the DPM-Solver family
 * (DPMSolverMultistep, DPMSolverSinglestep, UniPC, DEIS), diffusers 0.25.1-compatible:
 * - the VP schedule seen through sigma = sqrt((1 - abar) / abar): alpha_t = 1 / sqrt(sigma^2 + 1),
 *   sigma_t = sigma alpha_t and the half log-SNR lambda = log(alpha_t / sigma_t) = -log(sigma)
 *   (Lu et al. 2022, "DPM-Solver", sec. 3.1);
 * - the inference schedule: timesteps spaced as diffusers spaces them for these schedulers
 *   (N + 1 points with the last dropped), lambda_min_clipped, Karras sigmas (Karras et al. 2022,
 *   eq. 5, rho = 7) and uniform-lambda sigmas (Lu et al.), with one sigma per step plus the final one;
 * - the run state: which entry of the schedule a step is at, and the multistep memory (earlier
 *   model outputs). The memory belongs to one chain of consecutive steps: a step at index i
 *   continues the chain only if the previous step was at index i - 1, otherwise it starts a new one
 *   (a new run, a second batch, or img2img starting mid-schedule), and setTimesteps drops it. So a
 *   second run always equals a fresh scheduler; there is no step counter to go stale.
 * - model-output conversions to x_0 or epsilon (with dynamic thresholding) and the divided
 *   differences of the multistep updates, through ops (the updates themselves are linearCombination
 *   calls with float64 coefficients).
 */
import { ZERO_SNR_ALPHA_BAR } from '../diffusion/schedules.js';
import { karrasRamp } from '../diffusion/sigma_ramps.js';
import type { DType, Tensor } from '../tensor/tensor.js';
import { linearCombination } from '../ops/linear_combination.js';
import { divScalar } from '../ops/scalar.js';
import { split } from '../ops/concat.js';
import { thresholdX0 } from './thresholding.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { expectTensor } from '../tensor/check.js';
import type { PredictionType } from '../diffusion/forward.js';
import { DiscreteScheduler, type ConfigField, type DiscreteConfig, type FieldSet, type StepOptions, type TimestepsRequest } from './scheduler.js';
import { checkCustomTimesteps, checkNumInferenceSteps, numpyArange, numpyLinspace, roundHalfEven, type TimestepSpacing } from './timesteps.js';

// ---------------------------------------------------------------------------------------------
// Config fields these schedulers add

/**
 * An enum field that also accepts the values other schedulers of the family write, mapped as
 * diffusers maps them (a DPM-Solver config's solver_type "midpoint" builds UniPC with "bh2"), so one
 * model's scheduler_config.json can build any of them.
 */
export function aliasedEnumField<T extends string>(key: string, values: readonly T[], def: NoInfer<T>, aliases: Readonly<Record<string, NoInfer<T>>>): ConfigField<T> {
  return {
    key,
    default: def,
    allowed: `one of ${values.map((v) => JSON.stringify(v)).join(', ')}` + (Object.keys(aliases).length ? ` (${Object.keys(aliases).map((a) => JSON.stringify(a)).join(', ')} are read as diffusers reads them)` : ''),
    parse: (v) => {
      if (typeof v !== 'string') return undefined;
      if ((values as readonly string[]).includes(v)) return v as T;
      return aliases[v];
    },
    toJson: (v) => v,
  };
}

/** `lambda_min_clipped`: a number, -Infinity allowed (written "-inf", as the reference JSON does). */
export function lambdaMinClippedField(key: string): ConfigField<number> {
  return {
    key,
    default: -Infinity,
    allowed: 'a number, or "-inf" for no clipping',
    parse: (v) => {
      if (v === '-inf' || v === '-Infinity' || v === -Infinity) return -Infinity;
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    },
    toJson: (v) => (v === -Infinity ? '-inf' : v),
  };
}

/** What a DPM-Solver model's output carries besides the prediction (diffusers' `variance_type`). */
export type DpmVarianceType = 'learned' | 'learned_range';

/** DDPMScheduler's fixed variances: a DDPM model's config carries one; for DPM-Solver they mean null. */
const FIXED_VARIANCE_TYPES: ReadonlySet<unknown> = new Set(['fixed_small', 'fixed_small_log', 'fixed_large', 'fixed_large_log']);

/**
 * `variance_type`: null, or "learned"/"learned_range" (the model output has 2C channels). A DDPM
 * model's fixed_* value reads as null, as in diffusers (only the learned kinds change the output),
 * so `--scheduler dpmsolver` works on the config a DDPM model was trained with.
 */
export function nullableVarianceField(key: string): ConfigField<DpmVarianceType | null> {
  return {
    key,
    default: null,
    allowed: 'null, "learned" or "learned_range" (or a DDPM fixed_* value, read as null)',
    parse: (v) => (v === null || FIXED_VARIANCE_TYPES.has(v) ? null : v === 'learned' || v === 'learned_range' ? v : undefined),
    toJson: (v) => v,
  };
}

// ---------------------------------------------------------------------------------------------
// Schedules


/**
 * The fractional training timestep of `sigma`: linear interpolation of log sigma between the two
 * neighbouring training sigmas (diffusers' `_sigma_to_t`); `logSigmas` ascending in t.
 */
export function sigmaToT(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  const T = logSigmas.length;
  // low = the last index whose log sigma <= log sigma (0 if none), capped at T - 2.
  let low = 0;
  for (let i = 0; i < T; i++) if (logSigma - logSigmas[i]! >= 0) low = i;
  low = Math.min(low, T - 2);
  const lo = logSigmas[low]!;
  const hi = logSigmas[low + 1]!;
  const w = Math.min(Math.max((lo - logSigma) / (lo - hi), 0), 1);
  return (1 - w) * low + w * (low + 1);
}

/** How the inference sigmas are chosen. */
export interface SigmaScheduleOptions {
  spacing: TimestepSpacing;
  stepsOffset: number;
  /** Clip lambda below this (the last usable timestep is where lambda >= it); -Infinity: none. */
  lambdaMinClipped: number;
  useKarrasSigmas: boolean;
  useLuLambdas: boolean;
}

/** One run's schedule: N timesteps (descending) and N + 1 sigmas (the last is where sampling ends). */
export interface SigmaSchedule {
  timesteps: number[];
  sigmas: Float64Array;
}

/**
 * The N-step schedule of diffusers 0.25.1's DPM-Solver-family schedulers. Spacing takes N + 1 points
 * and drops the last (so linspace ends above 0); timesteps are not de-duplicated (N = T with linspace
 * repeats one, as diffusers does). Karras / uniform-lambda sigmas replace the timesteps by the
 * rounded timesteps of those sigmas, and end by repeating their last sigma; otherwise the final sigma
 * is the training sigma at t = 0.
 */
export function sigmaSchedule(op: string, trainSigmas: Float64Array, n: number, o: SigmaScheduleOptions): SigmaSchedule {
  const T = trainSigmas.length;
  checkNumInferenceSteps(op, n, T);
  // lambda_t = -log sigma_t decreases with t; clipping drops the timesteps where it is below the bound.
  let clippedIdx = 0;
  for (let t = T - 1; t >= 0 && -Math.log(trainSigmas[t]!) < o.lambdaMinClipped; t--) clippedIdx++;
  const lastTimestep = T - clippedIdx;
  let timesteps: number[];
  switch (o.spacing) {
    case 'linspace':
      timesteps = Array.from(numpyLinspace(0, lastTimestep - 1, n + 1), roundHalfEven).reverse().slice(0, n);
      break;
    case 'leading': {
      const ratio = Math.floor(lastTimestep / (n + 1));
      timesteps = Array.from({ length: n }, (_, i) => (n - i) * ratio + o.stepsOffset);
      break;
    }
    case 'trailing':
      timesteps = Array.from(numpyArange(lastTimestep, 0, -(T / n)), (v) => roundHalfEven(v) - 1);
      break;
  }
  const logSigmas = trainSigmas.map(Math.log);
  if (o.useKarrasSigmas || o.useLuLambdas) {
    let sigmas: Float64Array;
    if (o.useKarrasSigmas) sigmas = karrasRamp(n, trainSigmas[0]!, trainSigmas[T - 1]!);
    else {
      // Lu et al. 2022: uniform steps in log sigma (= -lambda) between its extremes.
      const hi = logSigmas[T - 1]!;
      const lo = logSigmas[0]!;
      sigmas = numpyLinspace(0, 1, n).map((r) => Math.exp(hi + r * (lo - hi)));
    }
    timesteps = Array.from(sigmas, (s) => roundHalfEven(sigmaToT(s, logSigmas)));
    const out = new Float64Array(n + 1);
    out.set(sigmas);
    out[n] = sigmas[n - 1]!;
    return { timesteps, sigmas: out };
  }
  return { timesteps, sigmas: withFinalSigma(trainSigmas, timesteps) };
}

/** The training sigmas at `timesteps` (clamped to [0, T - 1] as np.interp does), then sigma at t = 0. */
export function withFinalSigma(trainSigmas: Float64Array, timesteps: readonly number[]): Float64Array {
  const T = trainSigmas.length;
  const out = new Float64Array(timesteps.length + 1);
  timesteps.forEach((t, i) => (out[i] = trainSigmas[Math.min(Math.max(t, 0), T - 1)]!));
  out[timesteps.length] = trainSigmas[0]!;
  return out;
}

/** alpha_t, sigma_t and lambda_t of a VP step at noise-to-signal ratio `sigma`. */
export interface VpPoint {
  alpha: number;
  sigma: number;
  lambda: number;
}

/** alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma alpha_t, lambda_t = log(alpha_t / sigma_t) = -log(sigma). */
export function vpPoint(sigma: number): VpPoint {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  return { alpha, sigma: sigma * alpha, lambda: -Math.log(sigma) };
}

// ---------------------------------------------------------------------------------------------
// Tensor arithmetic (ops; intermediates in float64 where the formulas keep them in double)

/** (a + k b) / q elementwise, evaluated in float64 operation by operation, rounded once into `dtype`. */
function sumOver(a: Tensor, k: number, b: Tensor, q: number, dtype: DType): Tensor {
  const y = divScalar(linearCombination([[1, a], [k, b]], 'float64'), q);
  return dtype === 'float64' ? y : linearCombination([[1, y]], dtype);
}

/** The model's x_0 estimate from its output at a point (alpha_t, sigma_t) of the VP path, in x's dtype. */
export function x0FromOutput(type: PredictionType, out: Tensor, x: Tensor, p: VpPoint): Tensor {
  switch (type) {
    case 'epsilon': // (x - sigma eps) / alpha
      return sumOver(x, -p.sigma, out, p.alpha, x.dtype);
    case 'sample':
      return linearCombination([[1, out]], x.dtype);
    case 'v_prediction': // alpha x - sigma v
      return linearCombination([[p.alpha, x], [-p.sigma, out]], x.dtype);
  }
}

/** The model's epsilon estimate from its output at (alpha_t, sigma_t), in x's dtype. */
export function epsFromOutput(type: PredictionType, out: Tensor, x: Tensor, p: VpPoint): Tensor {
  switch (type) {
    case 'epsilon':
      return linearCombination([[1, out]], x.dtype);
    case 'sample': // (x - alpha x_0) / sigma
      return sumOver(x, -p.alpha, out, p.sigma, x.dtype);
    case 'v_prediction': // alpha v + sigma x
      return linearCombination([[p.alpha, out], [p.sigma, x]], x.dtype);
  }
}

/** The thresholding fields these schedulers share. */
export interface ThresholdConfig {
  readonly thresholding: boolean;
  readonly dynamicThresholdingRatio: number;
  readonly sampleMaxValue: number;
}

/**
 * The converted model output of the DPM-Solver family: x_0 (data prediction, `dataPrediction`)
 * or epsilon (noise prediction), plus x_0 for predOriginalSample. Dynamic thresholding (Saharia et
 * al. 2022) acts on x_0; in noise-prediction mode epsilon is then recomputed from the thresholded x_0.
 */
export function convertOutput(out: Tensor, x: Tensor, p: VpPoint, type: PredictionType, dataPrediction: boolean, cfg: ThresholdConfig): { converted: Tensor; x0: Tensor } {
  let x0 = x0FromOutput(type, out, x, p);
  if (cfg.thresholding) x0 = thresholdX0(x0, cfg.dynamicThresholdingRatio, cfg.sampleMaxValue);
  if (dataPrediction) return { converted: x0, x0 };
  const eps = cfg.thresholding ? epsFromOutput('sample', x0, x, p) : epsFromOutput(type, out, x, p);
  return { converted: eps, x0 };
}

/** The first C of 2C channels (last axis): the prediction part of a learned-variance model output. */
export function predictionChannels(op: string, out: Tensor, x: Tensor): Tensor {
  const C = x.shape[x.rank - 1] ?? 0;
  const want = [...x.shape.slice(0, -1), 2 * C];
  if (out.rank !== want.length || out.shape.some((d, i) => d !== want[i])) {
    throw new ShapeError(`${op}: with variance_type learned/learned_range input 'modelOutput' must have shape ${fmtShape(want)} (prediction and variance channels), found ${fmtShape(out.shape)}`);
  }
  return split(out, [C, C], -1)[0]!;
}

// ---------------------------------------------------------------------------------------------
// The base class

/**
 * A discrete-time scheduler stepping along a sigma schedule with multistep memory `M`. Subclasses
 * give the schedule (`schedule(n)`) and the step. Run state (timesteps, sigmas, memory) is set by
 * setTimesteps and by the chain of steps (see the file comment).
 */
export abstract class SigmaMultistepScheduler<C extends DiscreteConfig, M, O extends StepOptions = StepOptions> extends DiscreteScheduler<C, O> {
  /** sqrt((1 - abar_t) / abar_t) for every training timestep (float64). */
  readonly trainSigmas: Float64Array;
  #timesteps: number[];
  #sigmas: Float64Array;
  #numInferenceSteps: number | null = null;
  #custom = false;
  #memory: M | null = null;
  #lastIndex: number | null = null;
  #lastShape: readonly number[] | null = null;

  protected constructor(className: string, fields: FieldSet, config: C) {
    super(className, fields, config);
    // A schedule ending at abar = 0 (zero terminal SNR, e.g. trained_betas ending in 1) would give
    // sigma = Inf there (NaN samples): diffusers' finite stand-in, as the other schedulers use.
    this.trainSigmas = this.alphasCumprod.map((a) => (a === 0 ? Math.sqrt((1 - ZERO_SNR_ALPHA_BAR) / ZERO_SNR_ALPHA_BAR) : Math.sqrt((1 - a) / a)));
    this.#timesteps = super.timesteps;
    this.#sigmas = Float64Array.from(this.#timesteps, (t) => this.trainSigmas[t]!);
  }

  /** The N-step schedule (timesteps and N + 1 sigmas) of this scheduler's config. */
  protected abstract schedule(n: number): SigmaSchedule;

  /** `sigmaSchedule` from the usual spacing/offset/Karras config keys; the rest as given. */
  protected spacedSchedule(
    n: number,
    c: { timestepSpacing: TimestepSpacing; stepsOffset: number; useKarrasSigmas: boolean },
    { lambdaMinClipped = -Infinity, useLuLambdas = false }: { lambdaMinClipped?: number; useLuLambdas?: boolean } = {},
  ): SigmaSchedule {
    return sigmaSchedule(`${this.className}.setTimesteps`, this.trainSigmas, n, {
      spacing: c.timestepSpacing,
      stepsOffset: c.stepsOffset,
      lambdaMinClipped,
      useKarrasSigmas: c.useKarrasSigmas,
      useLuLambdas,
    });
  }

  override get timesteps(): number[] {
    return [...this.#timesteps];
  }

  /** The sigmas of this run: one per timestep, then the final one (a copy). */
  get sigmas(): Float64Array {
    return this.#sigmas.slice();
  }

  override get numInferenceSteps(): number | null {
    return this.#numInferenceSteps;
  }

  override get customTimesteps(): boolean {
    return this.#custom;
  }

  /**
   * Chooses this run's timesteps and sigmas (`n` steps by the config, or explicit descending
   * integer timesteps, whose sigmas are the training sigmas, ending at sigma(t = 0)) and clears the
   * multistep memory.
   * @example s.setTimesteps(20); s.setTimesteps({ timesteps: [999, 600, 300, 100] });
   */
  override setTimesteps(request: TimestepsRequest): void {
    const op = `${this.className}.setTimesteps`;
    if (typeof request === 'object' && request !== null) {
      const ts = checkCustomTimesteps(op, request.timesteps, this.config.numTrainTimesteps);
      this.#timesteps = ts;
      this.#sigmas = withFinalSigma(this.trainSigmas, ts);
      this.#numInferenceSteps = ts.length;
      this.#custom = true;
    } else {
      const s = this.schedule(request);
      this.#timesteps = s.timesteps;
      this.#sigmas = s.sigmas;
      this.#numInferenceSteps = request;
      this.#custom = false;
    }
    this.#memory = null;
    this.#lastIndex = null;
    this.#lastShape = null;
  }

  /** These schedulers take x_t unscaled: returns x itself. */
  override scaleModelInput(x: Tensor, t: number): Tensor {
    expectTensor(`${this.className}.scaleModelInput`, 'x', x);
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new ArgumentError(`${this.className}.scaleModelInput: timestep must be a number, found ${typeof t}`);
    return x;
  }

  /** The VP point of sigma index i of this run. */
  protected point(i: number): VpPoint {
    return vpPoint(this.#sigmas[i]!);
  }

  /**
   * The schedule index of a step at timestep t: the entry after the previous step's if that one is
   * t (so repeated timesteps are walked in order), else the first entry equal to t.
   */
  protected locate(op: string, t: number): number {
    if (this.#numInferenceSteps === null) {
      throw new ArgumentError(`${op}: call setTimesteps(numInferenceSteps) before step (the solver steps between the run's sigmas)`);
    }
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new ArgumentError(`${op}: timestep must be a number, found ${typeof t}`);
    const ts = this.#timesteps;
    if (this.#lastIndex !== null && ts[this.#lastIndex + 1] === t) return this.#lastIndex + 1;
    const i = ts.indexOf(t);
    if (i < 0) {
      const list = ts.length > 12 ? `[${ts.slice(0, 6).join(', ')}, ..., ${ts.slice(-3).join(', ')}]` : `[${ts.join(', ')}]`;
      throw new ArgumentError(`${op}: timestep ${t} is not one of this run's timesteps ${list}; step through scheduler.timesteps`);
    }
    return i;
  }

  /** The memory of the chain a step at index i continues, or null if it starts a new chain. */
  protected recall(op: string, index: number, x: Tensor): M | null {
    if (this.#lastIndex === null || this.#lastIndex !== index - 1 || this.#memory === null) return null;
    const prev = this.#lastShape!;
    if (prev.length !== x.rank || prev.some((d, i) => d !== x.shape[i])) {
      throw new ShapeError(`${op}: input 'x' has shape ${fmtShape(x.shape)} but the previous step of this run had ${fmtShape(prev)}; start a new run at timesteps[0] (or call setTimesteps) to change the batch`);
    }
    return this.#memory;
  }

  /** Records the step at index i and the memory the next step of the chain reads. */
  protected remember(index: number, x: Tensor, memory: M): void {
    this.#lastIndex = index;
    this.#lastShape = [...x.shape];
    this.#memory = memory;
  }

  /** Checks the step's tensors; with learned variance returns the prediction channels. */
  protected stepInputs(op: string, modelOutput: Tensor, x: Tensor, learnedVariance: boolean): Tensor {
    expectTensor(op, 'x', x);
    expectTensor(op, 'modelOutput', modelOutput);
    if (learnedVariance) {
      this.checkStepInputs(op, modelOutput, x, [...x.shape.slice(0, -1), 2 * (x.shape[x.rank - 1] ?? 0)]);
      return predictionChannels(op, modelOutput, x);
    }
    this.checkStepInputs(op, modelOutput, x);
    return modelOutput;
  }
}
