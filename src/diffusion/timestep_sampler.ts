/**
 * Importance sampling of timesteps for training on L_vlb (Nichol & Dhariwal 2021, sec. 3.3,
 * eq. 17): L_vlb = E_{t ~ p_t}[L_t / p_t] with p_t proportional to sqrt(E[L_t^2]), the second
 * moment estimated from the last HISTORY losses seen at each t. Until every t has a full history
 * the sampler is uniform (the paper's warm-up). Like improved-diffusion's
 * LossSecondMomentResampler, a small uniform share (UNIFORM_SHARE) is mixed in so that no t's
 * probability collapses to 0 and its history can still be refreshed.
 *
 * The sampler's history is state: `getState`/`setState` round-trip it as JSON so a resumed run
 * draws the same timesteps.
 */
import { ArgumentError } from '../tensor/errors.js';

/** Losses remembered per timestep (the paper's 10). */
export const HISTORY = 10;
/** Share of the uniform distribution mixed into p_t (improved-diffusion's uniform_prob). */
export const UNIFORM_SHARE = 0.001;

/** JSON state of an ImportanceSampler. */
export interface ImportanceSamplerState {
  /** Per timestep, its last losses (oldest first), at most HISTORY. */
  history: number[][];
}

/**
 * p_t ∝ sqrt(E[L_t^2]) over a rolling history of losses per t.
 * @example
 * const s = new ImportanceSampler(1000);
 * const { timesteps, weights } = s.sample(u); // weights 1 / (T p_t) make the estimate unbiased
 * s.update(timesteps, losses);
 */
export class ImportanceSampler {
  readonly numTimesteps: number;
  private history: number[][];

  constructor(numTimesteps: number) {
    if (!Number.isInteger(numTimesteps) || numTimesteps < 1) throw new ArgumentError(`ImportanceSampler: numTimesteps must be an integer >= 1, found ${String(numTimesteps)}`);
    this.numTimesteps = numTimesteps;
    this.history = Array.from({ length: numTimesteps }, () => []);
  }

  /** True once every timestep has HISTORY losses (before that p_t is uniform). */
  warmedUp(): boolean {
    return this.history.every((h) => h.length === HISTORY);
  }

  /** The current p_t, float64, summing to 1. */
  probabilities(): Float64Array {
    const T = this.numTimesteps;
    if (!this.warmedUp()) return new Float64Array(T).fill(1 / T);
    const w = Float64Array.from(this.history, (h) => Math.sqrt(h.reduce((s, l) => s + l * l, 0) / h.length));
    const total = w.reduce((s, x) => s + x, 0);
    if (!(total > 0) || !Number.isFinite(total)) return new Float64Array(T).fill(1 / T);
    return w.map((x) => (x / total) * (1 - UNIFORM_SHARE) + UNIFORM_SHARE / T);
  }

  /**
   * Timesteps drawn by inverting the CDF of p_t at the uniforms `u` (in [0, 1)), and the weights
   * 1 / (T p_t) that make mean(weights * L_t) an unbiased estimate of mean_t L_t.
   */
  sample(u: ArrayLike<number>): { timesteps: Float64Array; weights: Float64Array } {
    const p = this.probabilities();
    const T = this.numTimesteps;
    const cdf = new Float64Array(T);
    let acc = 0;
    for (let t = 0; t < T; t++) cdf[t] = acc += p[t]!;
    const timesteps = new Float64Array(u.length);
    const weights = new Float64Array(u.length);
    for (let i = 0; i < u.length; i++) {
      const x = u[i]! * acc;
      // First t with cdf[t] > x (binary search).
      let lo = 0;
      let hi = T - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf[mid]! > x) hi = mid;
        else lo = mid + 1;
      }
      timesteps[i] = lo;
      weights[i] = 1 / (T * p[lo]!);
    }
    return { timesteps, weights };
  }

  /** Records the losses seen at these timesteps (non-finite losses are ignored). */
  update(timesteps: ArrayLike<number>, losses: ArrayLike<number>): void {
    for (let i = 0; i < timesteps.length; i++) {
      const l = losses[i]!;
      if (!Number.isFinite(l)) continue;
      const h = this.history[timesteps[i]!];
      if (h === undefined) throw new ArgumentError(`ImportanceSampler.update: timestep ${timesteps[i]} is outside [0, ${this.numTimesteps})`);
      h.push(l);
      if (h.length > HISTORY) h.shift();
    }
  }

  getState(): ImportanceSamplerState {
    return { history: this.history.map((h) => [...h]) };
  }

  setState(state: ImportanceSamplerState): void {
    const h = (state as { history?: unknown } | null)?.history;
    if (!Array.isArray(h) || h.length !== this.numTimesteps || !h.every((x) => Array.isArray(x) && x.length <= HISTORY && x.every((l) => typeof l === 'number'))) {
      throw new ArgumentError(`ImportanceSampler.setState: expected { history: ${this.numTimesteps} arrays of at most ${HISTORY} numbers }`);
    }
    this.history = (h as number[][]).map((x) => [...x]);
  }
}
