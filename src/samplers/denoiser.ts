/**
 * The one denoiser contract every sampler sees (Karras et al. 2022, "EDM", sec. 2 and Table 1):
 * x = x_0 + sigma n, D(x, sigma) ~ E[x_0 | x]. This file adapts a model trained on T discrete
 * DDPM timesteps (Ho et al. 2020) to it, for any parameterization:
 *   x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) n  <=>  x = x_t / sqrt(abar_t),  sigma_t = sqrt((1 - abar_t) / abar_t),
 * so the model sees c_in x with c_in = 1 / sqrt(sigma^2 + 1), at the (fractional) timestep t whose
 * log-sigma interpolates the training log-sigmas (k-diffusion's DiscreteSchedule: sigma_to_t,
 * t_to_sigma), and its output F becomes
 *   epsilon:      D = x - sigma F                                         (DiscreteEpsDDPMDenoiser)
 *   v_prediction: D = x / (sigma^2 + 1) - sigma / sqrt(sigma^2 + 1) F     (DiscreteVDDPMDenoiser)
 *   sample:       D = F.
 * Class labels and classifier-free guidance (diffusion/classifier_free_guidance.ts: conditional
 * and unconditional halves in one forward of 2N, null class = num_class_embeds - 1) pass through
 * to the model; pipelines compose them once in sampling/conditioned_model.ts instead.
 */
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { expectTensor } from '../tensor/check.js';
import { UNet2DModel } from '../nn/unet_2d.js';
import { makeBetas, alphasCumprod as cumprod, ZERO_SNR_ALPHA_BAR as MIN_ALPHA_BAR } from '../diffusion/schedules.js';
import { PREDICTION_TYPES, type PredictionType } from '../diffusion/forward.js';
import { parseSchedulerConfig, SCHEDULE_FIELDS, SPACING_FIELDS, CLIP_FIELDS, type DiffusersConfig } from '../schedulers/scheduler.js';
import { appendZero } from '../diffusion/sigma_ramps.js';
import { concat } from '../ops/concat.js';
import { linearCombination } from '../ops/linear_combination.js';
import { classifierFreeGuidance } from '../diffusion/classifier_free_guidance.js';
import type { Denoiser } from './sampler.js';

/**
 * The training noise levels sigma_t = sqrt((1 - abar_t) / abar_t), t = 0..T-1 (ascending), and the
 * maps between continuous sigma and fractional timestep t, linear in log sigma.
 * @example
 * const sched = DiscreteSchedule.fromConfig(readSchedulerConfig('models/fashion-mnist/scheduler'));
 * sched.sigmaToT(sched.tToSigma(123.5)); // 123.5
 */
export class DiscreteSchedule {
  /** sigma_t for t = 0..T-1, float64, ascending. */
  readonly sigmas: Float64Array;
  readonly logSigmas: Float64Array;
  /** The nearest training timestep instead of interpolating (k-diffusion's quantize). */
  readonly quantize: boolean;
  /** The parameterization of the model trained on it (from the config; default 'epsilon'). */
  readonly predictionType: PredictionType;

  constructor(alphasCumprod: ArrayLike<number>, options: { quantize?: boolean; predictionType?: PredictionType } = {}) {
    const op = 'DiscreteSchedule';
    if (alphasCumprod === null || typeof alphasCumprod !== 'object' || alphasCumprod.length < 2) {
      throw new ArgumentError(`${op}: alphasCumprod must be an array of at least 2 values in (0, 1], found ${alphasCumprod === null ? 'null' : typeof alphasCumprod === 'object' ? `length ${alphasCumprod.length}` : typeof alphasCumprod}`);
    }
    const acp = Float64Array.from(alphasCumprod);
    acp.forEach((a, t) => {
      if (!(a >= 0 && a <= 1)) throw new ArgumentError(`${op}: alphasCumprod[${t}] = ${a} must be in [0, 1]`);
    });
    // A zero-terminal-SNR schedule ends at abar = 0: diffusers' finite stand-in keeps sigma finite.
    const floor = Math.min(MIN_ALPHA_BAR, ...Array.from(acp).filter((a) => a > 0).map((a) => a / 2));
    this.sigmas = acp.map((a) => (a === 0 ? Math.sqrt((1 - floor) / floor) : Math.sqrt((1 - a) / a)));
    this.sigmas.forEach((s, t) => {
      if (t > 0 && !(s >= this.sigmas[t - 1]!)) throw new ArgumentError(`${op}: sigmas must not decrease with t, but sigma[${t}] = ${s} < sigma[${t - 1}] = ${this.sigmas[t - 1]}`);
    });
    if (!(this.sigmas[0]! > 0)) throw new ArgumentError(`${op}: alphasCumprod[0] = 1 gives sigma 0 at t = 0; every training sigma must be > 0`);
    this.logSigmas = this.sigmas.map(Math.log);
    this.quantize = options.quantize ?? false;
    const p = options.predictionType ?? 'epsilon';
    if (!PREDICTION_TYPES.includes(p)) throw new ArgumentError(`${op}: predictionType must be one of ${PREDICTION_TYPES.join(', ')}, found ${String(p)}`);
    this.predictionType = p;
  }

  /**
   * The schedule of a diffusers scheduler_config.json (num_train_timesteps, beta_schedule,
   * beta_start, beta_end, trained_betas, rescale_betas_zero_snr, prediction_type).
   */
  static fromConfig(config: DiffusersConfig, options: { quantize?: boolean } = {}): DiscreteSchedule {
    const fields = { ...SCHEDULE_FIELDS, rescaleBetasZeroSnr: SPACING_FIELDS.rescaleBetasZeroSnr, predictionType: CLIP_FIELDS.predictionType };
    const c = parseSchedulerConfig('DiscreteSchedule', fields, config);
    const betas = makeBetas({
      numTrainTimesteps: c.numTrainTimesteps, betaStart: c.betaStart, betaEnd: c.betaEnd, betaSchedule: c.betaSchedule,
      trainedBetas: c.trainedBetas, rescaleBetasZeroSnr: c.rescaleBetasZeroSnr,
    });
    return new DiscreteSchedule(cumprod(betas), { ...options, predictionType: c.predictionType });
  }

  /** Number of training timesteps T. */
  get numTrainTimesteps(): number {
    return this.sigmas.length;
  }

  get sigmaMin(): number {
    return this.sigmas[0]!;
  }

  get sigmaMax(): number {
    return this.sigmas[this.sigmas.length - 1]!;
  }

  /**
   * The fractional timestep of a noise level: linear interpolation of log sigma between the two
   * neighbouring training sigmas, clamped to [0, T - 1] (or the nearest timestep when quantizing).
   */
  sigmaToT(sigma: number): number {
    if (typeof sigma !== 'number' || !(sigma > 0)) throw new ArgumentError(`DiscreteSchedule.sigmaToT: sigma must be a number > 0, found ${String(sigma)}`);
    const ls = Math.log(sigma);
    const L = this.logSigmas;
    // low = the last index with L[low] <= log sigma, in [0, T - 2] (binary search; L ascends).
    let lo = 0;
    let hi = L.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (L[mid]! <= ls) lo = mid;
      else hi = mid - 1;
    }
    const low = Math.min(lo, L.length - 2);
    if (this.quantize) return Math.abs(ls - L[low]!) <= Math.abs(ls - L[low + 1]!) ? low : low + 1;
    const gap = L[low]! - L[low + 1]!;
    const w = gap === 0 ? 0 : Math.min(1, Math.max(0, (L[low]! - ls) / gap));
    return (1 - w) * low + w * (low + 1);
  }

  /** The noise level of a fractional timestep t in [0, T - 1] (log sigma interpolated). */
  tToSigma(t: number): number {
    const T = this.sigmas.length;
    if (typeof t !== 'number' || !(t >= 0 && t <= T - 1)) throw new ArgumentError(`DiscreteSchedule.tToSigma: t must be a number in [0, ${T - 1}], found ${String(t)}`);
    const low = Math.floor(t);
    const high = Math.ceil(t);
    const w = t - low;
    return Math.exp((1 - w) * this.logSigmas[low]! + w * this.logSigmas[high]!);
  }

  /**
   * The model's own sigmas spaced over n steps: t = linspace(T - 1, 0, n) mapped by tToSigma,
   * then 0 (k-diffusion's DiscreteSchedule.get_sigmas); without n, every training sigma.
   * @example sched.getSigmas(20) // 21 values from sigma_max down to sigma_min, then 0
   */
  getSigmas(n?: number): Float64Array {
    const T = this.sigmas.length;
    if (n === undefined) return appendZero(this.sigmas.slice().reverse());
    if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`DiscreteSchedule.getSigmas: n must be an integer >= 1, found ${String(n)}`);
    return appendZero(Float64Array.from({ length: n }, (_, i) => this.tToSigma(n === 1 ? T - 1 : (T - 1) * (1 - i / (n - 1)))));
  }
}

/** A model over discrete timesteps: output (eps, v or x_0) for input x_t at timestep t. */
export type ModelFunction = (x: Tensor, t: number, classLabels: readonly number[] | null) => Tensor;

/** Options of `denoiserFromModel`. */
export interface ModelDenoiserOptions {
  /** The training schedule (DiscreteSchedule.fromConfig(scheduler_config.json)). */
  schedule: DiscreteSchedule;
  /** What the model predicts (default: the schedule's predictionType). */
  predictionType?: PredictionType;
  /** One class per sample of x (class-conditional models). */
  classLabels?: readonly number[] | null;
  /** Classifier-free guidance weight w (default 1: the conditional model alone). */
  guidanceScale?: number;
  /** The null class for guidance (default for a UNet2DModel: num_class_embeds - 1). */
  nullClass?: number;
}

/** A denoiser that also tells how many model forwards it ran. */
export interface CountingDenoiser extends Denoiser {
  readonly calls: () => number;
}

/**
 * D(x, sigma) for a model trained on discrete DDPM timesteps (a UNet2DModel, run without
 * gradients, or any ModelFunction), with optional class labels and classifier-free guidance.
 * @example
 * const schedule = DiscreteSchedule.fromConfig(schedulerConfig);
 * const D = denoiserFromModel(unet, { schedule, classLabels: [3, 3], guidanceScale: 2 });
 * const x0 = dpmpp2m(D, xT, karrasSigmas(20, schedule.sigmaMin, schedule.sigmaMax));
 */
export function denoiserFromModel(model: UNet2DModel | ModelFunction, options: ModelDenoiserOptions): CountingDenoiser {
  const op = 'denoiserFromModel';
  if (options === null || typeof options !== 'object' || !(options.schedule instanceof DiscreteSchedule)) {
    throw new ArgumentError(`${op}: options.schedule must be a DiscreteSchedule (DiscreteSchedule.fromConfig(scheduler_config))`);
  }
  const { schedule } = options;
  const type = options.predictionType ?? schedule.predictionType;
  if (!PREDICTION_TYPES.includes(type)) throw new ArgumentError(`${op}: predictionType must be one of ${PREDICTION_TYPES.join(', ')}, found ${String(type)}`);
  const w = options.guidanceScale ?? 1;
  if (typeof w !== 'number' || !Number.isFinite(w)) throw new ArgumentError(`${op}: guidanceScale must be a finite number, found ${String(w)}`);
  const labels = options.classLabels ?? null;
  let fn: ModelFunction;
  let nullClass = options.nullClass;
  if (model instanceof UNet2DModel) {
    const k = model.config.numClassEmbeds;
    if (nullClass === undefined && k !== null) nullClass = k - 1;
    fn = (x, t, c) => noGrad(() => model.forward(x, t, c));
  } else if (typeof model === 'function') {
    fn = model;
  } else {
    throw new ArgumentError(`${op}: model must be a UNet2DModel or a function (x, t, classLabels) => output, found ${model === null ? 'null' : typeof model}`);
  }
  const guided = w !== 1;
  if (guided && (labels === null || nullClass === undefined)) {
    throw new ArgumentError(`${op}: guidanceScale ${w} needs classLabels and a null class (nullClass, or a UNet2DModel with num_class_embeds)`);
  }
  let calls = 0;
  const denoiser = (x: Tensor, sigma: number): Tensor => {
    expectTensor('denoiser', 'x', x);
    const b = x.shape[0] ?? 0;
    if (labels !== null && labels.length !== b) throw new ShapeError(`denoiser: ${labels.length} class labels for a batch of ${b} (x ${fmtShape(x.shape)})`);
    const cIn = 1 / Math.sqrt(sigma * sigma + 1);
    const t = schedule.sigmaToT(sigma);
    const xIn = linearCombination([[cIn, x]]); // x_t = sqrt(abar) x
    calls++;
    let out: Tensor;
    if (guided) {
      // (2B, ...): conditional half, then unconditional, in one forward.
      out = classifierFreeGuidance(fn(concat([xIn, xIn], 0), t, [...labels!, ...new Array<number>(b).fill(nullClass!)]), b, w);
    } else out = fn(xIn, t, labels);
    if (out.size !== x.size) throw new ShapeError(`denoiser: the model returned shape ${fmtShape(out.shape)} for input ${fmtShape(x.shape)}`);
    // One fused pass each, in float64 with one rounding (as the loops this replaces).
    switch (type) {
      case 'epsilon':
        return linearCombination([[1, x], [-sigma, out]]);
      case 'v_prediction':
        return linearCombination([[1 / (sigma * sigma + 1), x], [-sigma * cIn, out]]);
      case 'sample':
        return linearCombination([[1, out]], x.dtype);
    }
  };
  return Object.assign(denoiser, { calls: () => calls });
}
