/**
 * DDPMScheduler: ancestral sampling of Ho et al. 2020 ("Denoising Diffusion Probabilistic
 * Models", Algorithm 2 and eq. 6-7), diffusers-compatible (same config keys, defaults, timesteps and
 * step arithmetic as diffusers 0.25.1). Each step predicts x_0 from the model output (epsilon,
 * sample or v_prediction), clips or dynamically thresholds it, and samples the posterior
 * q(x_s | x_t, x_0) between the current timestep t and the previous one s, with the variance
 * chosen by `variance_type`: fixed_small (beta-tilde, Ho et al.), fixed_large (beta), their log
 * forms, learned (the model outputs the variance) and learned_range (Nichol & Dhariwal 2021,
 * eq. 15: interpolate log beta-tilde and log beta by the model's v in [-1, 1]).
 */
import type { Tensor } from '../tensor/tensor.js';
import { linearCombination } from '../ops/linear_combination.js';
import { toFloat64 } from './divided_difference.js';
import { split } from '../ops/concat.js';
import { exp, sqrt } from '../ops/unary.js';
import { mul } from '../ops/binary.js';
import { addScalar, divScalar, mulScalar, rsubScalar } from '../ops/scalar.js';
import { noGrad } from '../tensor/autograd.js';
import { expectTensor } from '../tensor/check.js';
import { ShapeError, fmtShape } from '../tensor/errors.js';
import { combine, posteriorStep, predictX0 } from '../diffusion/forward.js';
import { ZERO_SNR_ALPHA_BAR } from '../diffusion/schedules.js';
import {
  CLIP_FIELDS,
  DiscreteScheduler,
  SCHEDULE_FIELDS,
  SPACING_FIELDS,
  enumField,
  parseSchedulerConfig,
  type ConfigOf,
  type DiffusersConfig,
  type SchedulerOutput,
  type StepOptions,
} from './scheduler.js';

/** How the reverse-step variance is chosen (diffusers' `variance_type`). */
export type VarianceType = 'fixed_small' | 'fixed_small_log' | 'fixed_large' | 'fixed_large_log' | 'learned' | 'learned_range';
export const VARIANCE_TYPES: readonly VarianceType[] = ['fixed_small', 'fixed_small_log', 'fixed_large', 'fixed_large_log', 'learned', 'learned_range'];

/** DDPMScheduler's config keys in diffusers' order, with its defaults. */
export const DDPM_FIELDS = {
  ...SCHEDULE_FIELDS,
  varianceType: enumField<VarianceType>('variance_type', VARIANCE_TYPES, 'fixed_small'),
  clipSample: CLIP_FIELDS.clipSample,
  predictionType: CLIP_FIELDS.predictionType,
  thresholding: CLIP_FIELDS.thresholding,
  dynamicThresholdingRatio: CLIP_FIELDS.dynamicThresholdingRatio,
  clipSampleRange: CLIP_FIELDS.clipSampleRange,
  sampleMaxValue: CLIP_FIELDS.sampleMaxValue,
  timestepSpacing: SPACING_FIELDS.timestepSpacing,
  stepsOffset: SPACING_FIELDS.stepsOffset,
  rescaleBetasZeroSnr: SPACING_FIELDS.rescaleBetasZeroSnr,
} as const;

/** The parsed DDPMScheduler config (camelCase). */
export type DDPMSchedulerConfig = ConfigOf<typeof DDPM_FIELDS>;

/** Floor on the posterior variance, so its log stays finite at the last step (as diffusers). */
const MIN_VARIANCE = 1e-20;

/**
 * DDPM ancestral sampling with diffusers' `DDPMScheduler` contract.
 * @example
 * const s = new DDPMScheduler({ beta_schedule: 'squaredcos_cap_v2', clip_sample: true });
 * s.setTimesteps(50);
 * let x = gen.normal([4, 28, 28, 1]);
 * for (const t of s.timesteps) x = s.step(model(x, t), t, x, { generator: gen }).prevSample;
 */
export class DDPMScheduler extends DiscreteScheduler<DDPMSchedulerConfig> {
  /** Builds from a diffusers config object (snake_case keys; missing keys take diffusers' defaults). */
  constructor(config: DiffusersConfig = {}) {
    super('DDPMScheduler', DDPM_FIELDS, parseSchedulerConfig('DDPMScheduler', DDPM_FIELDS, config));
  }

  /** The same as `new DDPMScheduler(config)`, diffusers' spelling. */
  static fromConfig(config: DiffusersConfig): DDPMScheduler {
    return new DDPMScheduler(config);
  }

  /**
   * One reverse step t -> previousTimestep(t): x_0 prediction, clipping/thresholding, posterior
   * mean, and (for t > 0) posterior noise from `options.noise` or `options.generator`. With
   * variance_type learned/learned_range the model output carries 2C channels (last axis): the
   * prediction, then the variance values. The output carries no autograd graph.
   * fixed_large_log uses std = exp(log(beta) / 2) (diffusers 0.25.1 computes sqrt(log(beta)),
   * which is NaN; GLIDE's intent is the former).
   */
  step(modelOutput: Tensor, t: number, x: Tensor, options: StepOptions = {}): SchedulerOutput {
    const op = 'DDPMScheduler.step';
    const cfg = this.config;
    this.checkTimestep(op, t);
    expectTensor(op, 'x', x);
    expectTensor(op, 'modelOutput', modelOutput);
    const learned = cfg.varianceType === 'learned' || cfg.varianceType === 'learned_range';
    let prediction = modelOutput;
    let predictedVariance: Tensor | null = null; // (..., C)
    if (learned) {
      const C = x.shape[x.rank - 1] ?? 0;
      this.checkStepInputs(op, modelOutput, x, [...x.shape.slice(0, -1), 2 * C]);
      if (C === 0) throw new ShapeError(`${op}: input 'modelOutput' has shape ${fmtShape(modelOutput.shape)} with no channels`);
      [prediction, predictedVariance] = split(modelOutput, [C, C], -1) as [Tensor, Tensor];
    } else {
      this.checkStepInputs(op, modelOutput, x);
    }
    return noGrad(() => {
      const prevT = this.previousTimestep(t);
      const p = posteriorStep(this.alphasCumprod, t, prevT);
      // 1-2. x_0 from the model output (Ho et al. eq. 15 for epsilon), then clip or threshold.
      // A zero-terminal-SNR schedule's abar_T = 0 would divide by 0 (NaN): diffusers' finite
      // stand-in, as the sigma schedulers use, keeps x_0 finite there (then clipped).
      const x0 = this.clipOrThreshold(predictX0(prediction, x, p.alphaBar === 0 ? ZERO_SNR_ALPHA_BAR : p.alphaBar, cfg.predictionType), cfg);
      // 3. Posterior mean mu~(x_t, x_0) (eq. 7).
      const mean = combine(op, p.posteriorMeanCoef1, x0, p.posteriorMeanCoef2, x, ['x0', 'x']);
      // 4. Posterior noise; the last step (t = 0) is deterministic.
      if (t === 0) return { prevSample: mean, predOriginalSample: x0 };
      const noise = this.stepNoise(op, x, options);
      const variance = Math.max(p.posteriorVariance, MIN_VARIANCE);
      let std: number | Tensor;
      switch (cfg.varianceType) {
        case 'fixed_small':
        case 'fixed_small_log':
          std = cfg.varianceType === 'fixed_small' ? Math.sqrt(variance) : Math.exp(0.5 * Math.log(variance));
          break;
        case 'fixed_large':
        case 'fixed_large_log':
          std = cfg.varianceType === 'fixed_large' ? Math.sqrt(p.beta) : Math.exp(0.5 * Math.log(p.beta));
          break;
        case 'learned':
          std = sqrt(toFloat64(predictedVariance!));
          break;
        case 'learned_range': {
          // log sigma^2 = frac log beta + (1 - frac) log beta-tilde, frac = (v + 1) / 2.
          const frac = divScalar(addScalar(toFloat64(predictedVariance!), 1), 2);
          const logVariance = linearCombination([[Math.log(p.beta), frac], [Math.log(variance), rsubScalar(1, frac)]]);
          std = exp(mulScalar(logVariance, 0.5));
          break;
        }
      }
      // A per-element std is computed in float64 (as the values it replaces), so mean + std z
      // rounds once into x's dtype.
      const prev = typeof std === 'number'
        ? linearCombination([[1, mean], [std, noise]])
        : linearCombination([[1, mean], [1, mul(std, toFloat64(noise))]], mean.dtype);
      return { prevSample: prev, predOriginalSample: x0 };
    });
  }
}
