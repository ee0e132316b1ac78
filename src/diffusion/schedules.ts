/**
 * Noise schedules beta_1..beta_T of the discrete forward process q(x_t | x_{t-1}) =
 * N(sqrt(1 - beta_t) x_{t-1}, beta_t I), computed in float64 (DESIGN: schedules in float64,
 * tensors in float32). Names and formulas follow diffusers' `beta_schedule` options:
 * linear (Ho et al. 2020), scaled_linear (latent diffusion), squaredcos_cap_v2 (the cosine
 * schedule of Nichol & Dhariwal 2021, eq. 17), sigmoid (GeoDiff), and the zero-terminal-SNR
 * rescaling of Lin et al. 2023 (Algorithm 1).
 */
import { DiffuseError } from '../tensor/errors.js';
import { boolField, enumField, intField, numberField, type Field } from '../schema/field.js';
import { parseConfig } from '../schema/config.js';

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2' | 'sigmoid';
export const BETA_SCHEDULES: readonly BetaSchedule[] = ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid'];

export interface ScheduleConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  /** Explicit betas; when given, betaSchedule/betaStart/betaEnd are ignored (as in diffusers). */
  trainedBetas?: readonly number[] | null;
  rescaleBetasZeroSnr?: boolean;
}

/** The cosine schedule's largest beta: avoids a singularity at t = T (Nichol & Dhariwal 2021). */
const COSINE_MAX_BETA = 0.999;
/** The cosine schedule's offset s, so beta_1 is not vanishingly small. */
const COSINE_S = 0.008;

/** NumPy's `np.linspace(start, stop, num)` in float64: i * step + start, the last point exactly `stop`. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const div = num - 1;
  const step = div > 0 ? (stop - start) / div : 0;
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** beta_i = min(1 - abar((i+1)/T) / abar(i/T), maxBeta) with abar(t) = cos^2(((t + s)/(1 + s)) pi/2). */
function cosineBetas(T: number): Float64Array {
  const abar = (t: number): number => Math.cos(((t + COSINE_S) / (1 + COSINE_S)) * (Math.PI / 2)) ** 2;
  const out = new Float64Array(T);
  for (let i = 0; i < T; i++) out[i] = Math.min(1 - abar((i + 1) / T) / abar(i / T), COSINE_MAX_BETA);
  return out;
}

/**
 * The stand-in for abar_T = 0 of a zero-terminal-SNR schedule wherever sigma = sqrt((1 - abar) / abar)
 * must stay finite: diffusers (EulerDiscreteScheduler with rescale_betas_zero_snr) sets 2^-24.
 */
export const ZERO_SNR_ALPHA_BAR = 2 ** -24;

/**
 * Lin et al. 2023, Algorithm 1: shift and scale sqrt(alphas_cumprod) so the last step has zero
 * signal (SNR 0) while the first keeps its value; returns the new betas.
 */
export function rescaleZeroTerminalSnr(betas: Float64Array): Float64Array {
  const T = betas.length;
  const sqrtAbar = new Float64Array(T);
  let prod = 1;
  for (let i = 0; i < T; i++) {
    prod *= 1 - betas[i]!;
    sqrtAbar[i] = Math.sqrt(prod);
  }
  const first = sqrtAbar[0]!;
  const last = sqrtAbar[T - 1]!;
  const out = new Float64Array(T);
  let prevAbar = 1;
  for (let i = 0; i < T; i++) {
    const a = ((sqrtAbar[i]! - last) * first) / (first - last);
    const abar = a * a;
    out[i] = i === 0 ? 1 - abar : 1 - abar / prevAbar;
    prevAbar = abar;
  }
  return out;
}

/** `trained_betas`: null or an array of numbers in (0, 1]. */
export function betasField(key: string): Field<readonly number[] | null> {
  return {
    key,
    default: null,
    allowed: 'null or an array of numbers in (0, 1]',
    parse: (v) => {
      if (v === null) return null;
      if (!Array.isArray(v) || !v.every((b) => typeof b === 'number' && b > 0 && b <= 1)) return undefined;
      return Object.freeze([...(v as number[])]);
    },
    toJson: (v) => (v === null ? null : [...v]),
  };
}

/**
 * The most training timesteps a schedule may have (the U-Net's bound too): diffusers' models use
 * 1000 to 4000, and the schedule's float64 arrays are allocated from it (1e9 would be 8 GB each).
 */
export const MAX_TRAIN_TIMESTEPS = 1_000_000;

/** The noise-schedule fields of scheduler_config.json shared by the DDPM-family schedulers (diffusers' names and defaults). */
export const SCHEDULE_FIELDS = {
  numTrainTimesteps: intField('num_train_timesteps', 1000, 1, MAX_TRAIN_TIMESTEPS),
  betaStart: numberField('beta_start', 0.0001, 0, 1),
  betaEnd: numberField('beta_end', 0.02, 0, 1),
  betaSchedule: enumField<BetaSchedule>('beta_schedule', BETA_SCHEDULES, 'linear'),
  trainedBetas: betasField('trained_betas'),
} as const;

/**
 * The largest training sigma = sqrt((1 - abar_t) / abar_t) a schedule may reach before its last
 * step: the usual ones end near 157 (linear 1e-4..0.02), 15 (scaled_linear) and 2e4 (cosine), while
 * float32 samples at sigma 1e10 and beyond overflow to Inf and NaN (linear with beta_end 1 reaches 1e109).
 */
export const MAX_TRAINING_SIGMA = 1e8;

/** Which config fields made a schedule: trained_betas, or the schedule's parameters. */
function scheduleSource(config: ScheduleConfig): string {
  if (config.trainedBetas) return `trained_betas (${config.trainedBetas.length} values)`;
  const range = config.betaSchedule === 'squaredcos_cap_v2' ? '' : ` from beta_start ${config.betaStart} to beta_end ${config.betaEnd}`;
  return `beta_schedule '${config.betaSchedule}'${range} over num_train_timesteps = ${config.numTrainTimesteps}${config.rescaleBetasZeroSnr ? ' (rescale_betas_zero_snr)' : ''}`;
}

/**
 * Throws unless every sampler can run on the schedule: abar_t in (0, 1) at every step (the last
 * may be exactly 0: zero terminal SNR, Lin et al. 2023) and sigma_t below MAX_TRAINING_SIGMA.
 * Schedules that fail give NaN or all-black images in every sampler (sigma = 0, 1/abar = Inf).
 */
function checkSchedule(betas: Float64Array, config: ScheduleConfig): void {
  const T = betas.length;
  let abar = 1;
  for (let t = 0; t < T; t++) {
    abar *= 1 - betas[t]!;
    if (abar >= 1) {
      throw new DiffuseError(
        `noise schedule: beta[${t}] = ${betas[t]} is so small that 1 - beta rounds to 1, so sigma_${t} = 0 and the samplers divide by it (${scheduleSource(config)}); use betas of at least 1e-12 (diffusers' linear schedule starts at 0.0001)`,
      );
    }
    if (abar === 0 && t < T - 1) {
      throw new DiffuseError(
        `noise schedule: alpha_bar (the signal left at step t) reaches 0 at t = ${t}, before the last step t = ${T - 1} (${scheduleSource(config)}); every sampler divides by alpha_bar there. ` +
          (config.trainedBetas ? 'Keep every trained_betas value below 1 (only the last may be 1: zero terminal SNR)' : 'Lower beta_end or num_train_timesteps (diffusers: linear 0.0001 to 0.02 over 1000 steps)'),
      );
    }
    const sigma = Math.sqrt((1 - abar) / abar);
    if (abar > 0 && sigma > MAX_TRAINING_SIGMA) {
      throw new DiffuseError(
        `noise schedule: the training sigma sqrt((1 - alpha_bar) / alpha_bar) reaches ${sigma.toPrecision(3)} at t = ${t}, above ${MAX_TRAINING_SIGMA} (float32 samples overflow to NaN there) (${scheduleSource(config)}). ` +
          (config.trainedBetas ? 'Lower the trained_betas values near 1' : 'Lower beta_end or num_train_timesteps (diffusers: linear 0.0001 to 0.02 over 1000 steps; beta_end must stay well below 1)'),
      );
    }
  }
}

/**
 * Checks the noise schedule a scheduler_config.json describes (its num_train_timesteps, beta_*,
 * trained_betas and rescale_betas_zero_snr; other keys are the schedulers' business), so a file
 * that would give NaN images is refused when it is read. Throws a DiffuseError naming the field.
 * @example checkScheduleConfig({ beta_end: 1 }) // throws: the training sigma reaches 1.2e+109 ...
 */
export function checkScheduleConfig(json: Readonly<Record<string, unknown>>): void {
  const fields = { ...SCHEDULE_FIELDS, rescaleBetasZeroSnr: boolField('rescale_betas_zero_snr', false) };
  const c = parseConfig('scheduler config', fields, json, { ignoreUnknown: true, error: DiffuseError });
  makeBetas(c);
}

/** beta_1..beta_T for a schedule config (float64), checked so that every sampler can run on it. */
export function makeBetas(config: ScheduleConfig): Float64Array {
  const T = config.numTrainTimesteps;
  if (!Number.isInteger(T) || T < 1) throw new DiffuseError(`noise schedule: num_train_timesteps must be a positive integer, found ${T}`);
  let betas: Float64Array;
  if (config.trainedBetas) {
    if (config.trainedBetas.length !== T) {
      throw new DiffuseError(`noise schedule: trained_betas has ${config.trainedBetas.length} values, expected num_train_timesteps = ${T}`);
    }
    betas = Float64Array.from(config.trainedBetas);
  } else {
    const { betaStart: b0, betaEnd: b1 } = config;
    switch (config.betaSchedule) {
      case 'linear':
        betas = linspace(b0, b1, T);
        break;
      case 'scaled_linear':
        betas = linspace(Math.sqrt(b0), Math.sqrt(b1), T).map((b) => b * b);
        break;
      case 'squaredcos_cap_v2':
        betas = cosineBetas(T);
        break;
      case 'sigmoid':
        betas = linspace(-6, 6, T).map((x) => (1 / (1 + Math.exp(-x))) * (b1 - b0) + b0);
        break;
      default:
        throw new DiffuseError(`noise schedule: unknown beta_schedule ${JSON.stringify(config.betaSchedule)}, expected one of ${BETA_SCHEDULES.join(', ')}`);
    }
  }
  for (let i = 0; i < T; i++) {
    const b = betas[i]!;
    if (!(b > 0 && b <= 1)) throw new DiffuseError(`noise schedule: beta[${i}] = ${b} is outside (0, 1]`);
  }
  const out = config.rescaleBetasZeroSnr ? rescaleZeroTerminalSnr(betas) : betas;
  checkSchedule(out, config);
  return out;
}

/** alphas_cumprod[t] = prod_{s<=t} (1 - beta_s), the signal fraction abar_t of q(x_t | x_0). */
export function alphasCumprod(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let prod = 1;
  for (let i = 0; i < betas.length; i++) {
    prod *= 1 - betas[i]!;
    out[i] = prod;
  }
  return out;
}

/** The noise-to-signal ratio sigma_t = sqrt((1 - abar_t) / abar_t) of the variance-exploding view (Karras et al. 2022). */
export function sigmasFromAlphasCumprod(acp: Float64Array): Float64Array {
  return acp.map((a) => Math.sqrt((1 - a) / a));
}
