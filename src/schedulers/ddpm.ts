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
import { Tensor, allocStorage } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { expectTensor } from '../tensor/check.js';
import { ShapeError, fmtShape } from '../tensor/errors.js';
import { combine, posteriorStep, predictX0 } from '../diffusion/forward.js';
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
    let predictedVariance: Float32Array | Float64Array | null = null;
    if (learned) {
      const C = x.shape[x.rank - 1] ?? 0;
      this.checkStepInputs(op, modelOutput, x, [...x.shape.slice(0, -1), 2 * C]);
      [prediction, predictedVariance] = splitChannels(modelOutput, C);
    } else {
      this.checkStepInputs(op, modelOutput, x);
    }
    return noGrad(() => {
      const prevT = this.previousTimestep(t);
      const p = posteriorStep(this.alphasCumprod, t, prevT);
      // 1-2. x_0 from the model output (Ho et al. eq. 15 for epsilon), then clip or threshold.
      const x0 = predictX0(prediction, x, p.alphaBar, cfg.predictionType);
      this.clipOrThreshold(x0, cfg);
      // 3. Posterior mean mu~(x_t, x_0) (eq. 7).
      const prev = combine(op, p.posteriorMeanCoef1, x0, p.posteriorMeanCoef2, x, ['x0', 'x']);
      // 4. Posterior noise; the last step (t = 0) is deterministic.
      if (t > 0) {
        const noise = this.stepNoise(op, x, options);
        const variance = Math.max(p.posteriorVariance, MIN_VARIANCE);
        const d = prev.data;
        switch (cfg.varianceType) {
          case 'fixed_small':
          case 'fixed_small_log': {
            const std = cfg.varianceType === 'fixed_small' ? Math.sqrt(variance) : Math.exp(0.5 * Math.log(variance));
            for (let i = 0; i < d.length; i++) d[i] = d[i]! + std * noise[i]!;
            break;
          }
          case 'fixed_large':
          case 'fixed_large_log': {
            const std = cfg.varianceType === 'fixed_large' ? Math.sqrt(p.beta) : Math.exp(0.5 * Math.log(p.beta));
            for (let i = 0; i < d.length; i++) d[i] = d[i]! + std * noise[i]!;
            break;
          }
          case 'learned': {
            const v = predictedVariance!;
            for (let i = 0; i < d.length; i++) d[i] = d[i]! + Math.sqrt(v[i]!) * noise[i]!;
            break;
          }
          case 'learned_range': {
            // log sigma^2 = frac log beta + (1 - frac) log beta-tilde, frac = (v + 1) / 2.
            const v = predictedVariance!;
            const minLog = Math.log(variance);
            const maxLog = Math.log(p.beta);
            for (let i = 0; i < d.length; i++) {
              const frac = (v[i]! + 1) / 2;
              d[i] = d[i]! + Math.exp(0.5 * (frac * maxLog + (1 - frac) * minLog)) * noise[i]!;
            }
            break;
          }
        }
      }
      return { prevSample: prev, predOriginalSample: x0 };
    });
  }
}

/** Splits (..., 2C) into the prediction (..., C) and the variance values (flat, (..., C)). */
function splitChannels(out: Tensor, C: number): [Tensor, Float32Array | Float64Array] {
  if (C === 0) throw new ShapeError(`DDPMScheduler.step: input 'modelOutput' has shape ${fmtShape(out.shape)} with no channels`);
  const rows = out.size / (2 * C);
  const pred = allocStorage(out.dtype, rows * C);
  const vari = allocStorage(out.dtype, rows * C);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < C; c++) {
      pred[r * C + c] = out.data[r * 2 * C + c]!;
      vari[r * C + c] = out.data[r * 2 * C + C + c]!;
    }
  }
  return [new Tensor(pred, [...out.shape.slice(0, -1), C]), vari];
}
