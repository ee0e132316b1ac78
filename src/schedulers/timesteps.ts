/**
 * Timestep spacing shared by the discrete schedulers: which of the T training timesteps an
 * N-step sampler visits. The three strategies are those of Lin et al. 2023, "Common Diffusion
 * Noise Schedules and Sample Steps are Flawed", Table 2 (leading, trailing, linspace), computed
 * exactly as diffusers 0.25.1 does with NumPy (float64 arange/linspace, round half to even), so
 * the integer timesteps agree with diffusers for every N.
 */
import { linspace } from '../diffusion/schedules.js';
import { ArgumentError } from '../tensor/errors.js';

export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';
export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ['leading', 'trailing', 'linspace'];

/**
 * Rounds half to even, as NumPy's `np.round` does (0.5 -> 0, 1.5 -> 2, 2.5 -> 2).
 * @example roundHalfEven(499.5) // 500
 */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * NumPy's `np.linspace(start, stop, num)` (endpoint included) in float64: i * ((stop - start) /
 * (num - 1)) + start, with the last value exactly `stop`.
 */
/** NumPy's `np.linspace` (one implementation, in diffusion/schedules.ts). */
export const numpyLinspace = linspace;

/**
 * NumPy's float `np.arange(start, stop, step)`: length ceil((stop - start) / step); NumPy stores
 * start and start + step, then fills value i as start + i * (second - first).
 */
export function numpyArange(start: number, stop: number, step: number): Float64Array {
  const len = Math.max(0, Math.ceil((stop - start) / step));
  const out = new Float64Array(len);
  if (len === 0) return out;
  out[0] = start;
  if (len === 1) return out;
  out[1] = start + step;
  const delta = out[1] - start;
  for (let i = 2; i < len; i++) out[i] = start + i * delta;
  return out;
}

/** Throws unless n is an integer in [1, T]. `op` names the caller in the message. */
export function checkNumInferenceSteps(op: string, n: unknown, numTrainTimesteps: number): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > numTrainTimesteps) {
    const found = typeof n === 'number' ? String(n) : typeof n;
    throw new ArgumentError(
      `${op}: num_inference_steps must be an integer in [1, num_train_timesteps = ${numTrainTimesteps}], found ${found}` +
        (typeof n === 'number' && n > numTrainTimesteps ? ' (a model trained on T timesteps can be sampled with at most T steps)' : ''),
    );
  }
}

/**
 * The N descending integer timesteps in [0, T) an N-step sampler visits.
 * - leading: 0, r, 2r, ... (r = floor(T / N)) plus `stepsOffset`, reversed (DDPM/DDIM default).
 * - trailing: round(T - i T/N) - 1 for i = 0..N-1, so the first step is at T - 1.
 * - linspace: round(linspace(0, T - 1, N)), reversed.
 * @example spacedTimesteps('leading', 1000, 10) // [900, 800, ..., 100, 0]
 */
export function spacedTimesteps(spacing: TimestepSpacing, numTrainTimesteps: number, n: number, stepsOffset = 0): number[] {
  const T = numTrainTimesteps;
  checkNumInferenceSteps('spacedTimesteps', n, T);
  switch (spacing) {
    case 'leading': {
      const ratio = Math.floor(T / n);
      const out: number[] = [];
      for (let i = n - 1; i >= 0; i--) out.push(i * ratio + stepsOffset);
      return out;
    }
    case 'trailing': {
      // np.round(np.arange(T, 0, -T / N)) - 1: float steps, so uneven N stay evenly spread.
      return Array.from(numpyArange(T, 0, -(T / n)), (v) => roundHalfEven(v) - 1);
    }
    case 'linspace':
      return Array.from(numpyLinspace(0, T - 1, n), roundHalfEven).reverse();
    default:
      throw new ArgumentError(
        `spacedTimesteps: unknown timestep_spacing ${JSON.stringify(spacing as unknown)}, expected one of ${TIMESTEP_SPACINGS.join(', ')}`,
      );
  }
}

/**
 * Validates custom timesteps (strictly descending integers in [0, T)) and returns a copy.
 * `op` names the caller in the message.
 */
export function checkCustomTimesteps(op: string, timesteps: unknown, numTrainTimesteps: number): number[] {
  if (!Array.isArray(timesteps) || timesteps.length === 0) {
    throw new ArgumentError(`${op}: custom timesteps must be a non-empty array of integers, found ${Array.isArray(timesteps) ? 'an empty array' : typeof timesteps}`);
  }
  const out: number[] = [];
  timesteps.forEach((t: unknown, i) => {
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= numTrainTimesteps) {
      throw new ArgumentError(`${op}: custom timesteps[${i}] = ${String(t)} must be an integer in [0, num_train_timesteps = ${numTrainTimesteps})`);
    }
    const prev = out[i - 1];
    if (prev !== undefined && t >= prev) {
      throw new ArgumentError(`${op}: custom timesteps must be strictly descending, found timesteps[${i - 1}] = ${prev} then timesteps[${i}] = ${t}`);
    }
    out.push(t);
  });
  return out;
}
