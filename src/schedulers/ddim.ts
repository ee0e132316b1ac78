/**
 * DDIMScheduler: denoising diffusion implicit models (Song, Meng & Ermon 2021, eq. 12 and 16),
 * diffusers-compatible (config keys, defaults, timesteps and step arithmetic of diffusers 0.25.1):
 *   x_s = sqrt(abar_s) x0_hat + sqrt(1 - abar_s - sigma^2) eps_hat + sigma z,
 *   sigma = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s),
 * where s is the previous timestep. eta = 0 is the deterministic DDIM sampler, eta = 1 matches
 * DDPM's posterior variance. x0_hat may be clipped or dynamically thresholded; with
 * `useClippedModelOutput` eps_hat is recomputed from the clipped x0_hat (as GLIDE does).
 */
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { ArgumentError } from '../tensor/errors.js';
import { combine, predictEpsilon, predictX0 } from '../diffusion/forward.js';
import { ZERO_SNR_ALPHA_BAR } from '../diffusion/schedules.js';
import { linearCombination } from '../ops/linear_combination.js';
import {
  CLIP_FIELDS,
  DiscreteScheduler,
  SCHEDULE_FIELDS,
  SPACING_FIELDS,
  boolField,
  parseSchedulerConfig,
  type ConfigOf,
  type DiffusersConfig,
  type SchedulerOutput,
  type StepOptions,
} from './scheduler.js';

/** DDIMScheduler's config keys in diffusers' order, with its defaults. */
export const DDIM_FIELDS = {
  ...SCHEDULE_FIELDS,
  clipSample: CLIP_FIELDS.clipSample,
  /** Whether abar before the first training step is 1 (true) or abar_0 (false, Stable Diffusion). */
  setAlphaToOne: boolField('set_alpha_to_one', true),
  stepsOffset: SPACING_FIELDS.stepsOffset,
  predictionType: CLIP_FIELDS.predictionType,
  thresholding: CLIP_FIELDS.thresholding,
  dynamicThresholdingRatio: CLIP_FIELDS.dynamicThresholdingRatio,
  clipSampleRange: CLIP_FIELDS.clipSampleRange,
  sampleMaxValue: CLIP_FIELDS.sampleMaxValue,
  timestepSpacing: SPACING_FIELDS.timestepSpacing,
  rescaleBetasZeroSnr: SPACING_FIELDS.rescaleBetasZeroSnr,
} as const;

/** The parsed DDIMScheduler config (camelCase). */
export type DDIMSchedulerConfig = ConfigOf<typeof DDIM_FIELDS>;

/** DDIM's extra step arguments. */
export interface DDIMStepOptions extends StepOptions {
  /** Noise weight eta in [0, 1] (0: deterministic; 1: DDPM-like). Default 0. */
  eta?: number;
  /** Recompute eps from the clipped x_0 (GLIDE). Default false. */
  useClippedModelOutput?: boolean;
}

/**
 * DDIM sampling with diffusers' `DDIMScheduler` contract.
 * @example
 * const s = new DDIMScheduler({ timestep_spacing: 'trailing', clip_sample: false });
 * s.setTimesteps(20);
 * for (const t of s.timesteps) x = s.step(model(x, t), t, x, { eta: 0 }).prevSample;
 */
export class DDIMScheduler extends DiscreteScheduler<DDIMSchedulerConfig, DDIMStepOptions> {
  /** abar used "before" timestep 0: 1, or abar_0 when set_alpha_to_one is false. */
  readonly finalAlphaCumprod: number;

  /** Builds from a diffusers config object (snake_case keys; missing keys take diffusers' defaults). */
  constructor(config: DiffusersConfig = {}) {
    super('DDIMScheduler', DDIM_FIELDS, parseSchedulerConfig('DDIMScheduler', DDIM_FIELDS, config));
    this.finalAlphaCumprod = this.config.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
  }

  /** The same as `new DDIMScheduler(config)`, diffusers' spelling. */
  static fromConfig(config: DiffusersConfig): DDIMScheduler {
    return new DDIMScheduler(config);
  }

  /** DDIM's sigma_t^2 for the jump t -> prevT (eq. 16 with eta = 1). */
  variance(t: number, prevT: number): number {
    const abarT = this.alphasCumprod[t]!;
    const abarPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : this.finalAlphaCumprod;
    return ((1 - abarPrev) / (1 - abarT)) * (1 - abarT / abarPrev);
  }

  /**
   * One DDIM step t -> previousTimestep(t) (eq. 12). Needs setTimesteps first. With eta > 0 the
   * noise comes from `options.noise` or `options.generator`. The output carries no autograd graph.
   */
  step(modelOutput: Tensor, t: number, x: Tensor, options: DDIMStepOptions = {}): SchedulerOutput {
    const op = 'DDIMScheduler.step';
    const cfg = this.config;
    if (this.numInferenceSteps === null && !this.customTimesteps) {
      throw new ArgumentError(`${op}: call setTimesteps(numInferenceSteps) before step (DDIM's jump size depends on it)`);
    }
    this.checkTimestep(op, t);
    this.checkStepInputs(op, modelOutput, x);
    const { eta = 0, useClippedModelOutput = false } = options;
    if (typeof eta !== 'number' || !Number.isFinite(eta) || eta < 0) {
      throw new ArgumentError(`${op}: 'eta' must be a finite number >= 0 (0: deterministic DDIM, 1: DDPM-like), found ${String(eta)}`);
    }
    if (typeof useClippedModelOutput !== 'boolean') {
      throw new ArgumentError(`${op}: 'useClippedModelOutput' must be true or false, found ${String(useClippedModelOutput)}`);
    }
    return noGrad(() => {
      const prevT = this.previousTimestep(t);
      const abarT = this.alphasCumprod[t]!;
      const abarPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : this.finalAlphaCumprod;
      // 1. x_0 and eps from the model output (eq. 12's "predicted x_0"); clip or threshold x_0.
      // A zero-terminal-SNR schedule's abar_T = 0 would divide by 0 (NaN): diffusers' finite
      // stand-in, as the sigma schedulers use, keeps x_0 finite there (then clipped).
      const abarX0 = abarT === 0 ? ZERO_SNR_ALPHA_BAR : abarT;
      const x0 = this.clipOrThreshold(predictX0(modelOutput, x, abarX0, cfg.predictionType), cfg);
      let eps = predictEpsilon(modelOutput, x, abarX0, cfg.predictionType);
      // 2. sigma_t(eta) (eq. 16).
      const std = eta * Math.sqrt(this.variance(t, prevT));
      if (useClippedModelOutput) eps = predictEpsilon(x0, x, abarX0, 'sample');
      // 3. x_s = sqrt(abar_s) x_0 + "direction pointing to x_t" (+ sigma z). Rounding can make
      // 1 - abar_s - sigma^2 a hair negative at eta = 1; it is 0 there.
      const dirCoef = Math.sqrt(Math.max(0, 1 - abarPrev - std * std));
      const prev = combine(op, Math.sqrt(abarPrev), x0, dirCoef, eps, ['x0', 'eps']);
      return {
        prevSample: eta > 0 ? linearCombination([[1, prev], [std, this.stepNoise(op, x, options)]]) : prev,
        predOriginalSample: x0,
      };
    });
  }
}
