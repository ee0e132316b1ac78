/**
 * Noise schedules beta_1..beta_T of the discrete forward process q(x_t | x_{t-1}) =
 * N(sqrt(1 - beta_t) x_{t-1}, beta_t I), computed in float64 (DESIGN: schedules in float64,
 * tensors in float32). Names and formulas follow diffusers' `beta_schedule` options:
 * linear (Ho et al. 2020), scaled_linear (latent diffusion), squaredcos_cap_v2 (the cosine
 * schedule of Nichol & Dhariwal 2021, eq. 17), sigmoid (GeoDiff), and the zero-terminal-SNR
 * rescaling of Lin et al. 2023 (Algorithm 1).
 */
import { DiffuseError } from '../tensor/errors.js';

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

/** beta_1..beta_T for a schedule config (float64). */
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
  return config.rescaleBetasZeroSnr ? rescaleZeroTerminalSnr(betas) : betas;
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
