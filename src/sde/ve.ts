/**
 * The variance-exploding SDE (Song et al. 2021, eq. 9 and 30), the continuous limit of SMLD/NCSN:
 *   dx = sqrt(d sigma(t)^2 / dt) dw,  sigma(t) = sigma_min (sigma_max / sigma_min)^t,
 * so g(t) = sigma(t) sqrt(2 log(sigma_max / sigma_min)) and the drift is 0. As in score_sde, the
 * marginal is p_0t(x(t) | x(0)) = N(x(0), sigma(t)^2 I): the data at t = 0 count as already
 * perturbed by sigma_min (the SDE started from clean data adds sigma(t)^2 - sigma_min^2, which is
 * what the variance ODE d var/dt = g^2 integrates to). Its discretisation is SMLD's (eq. 45):
 * sigma_i = geometric from sigma_min to sigma_max over N levels, x_i = x_{i-1} + sqrt(sigma_i^2 - sigma_{i-1}^2) z.
 */
import { ArgumentError } from '../tensor/errors.js';
import { linspace } from '../diffusion/schedules.js';
import { Sde, checkTime, SDE_EPS, type DiscreteStep } from './sde.js';

export interface VeOptions {
  sigmaMin?: number | undefined;
  sigmaMax?: number | undefined;
  /** Discretisation steps N (default 1000). */
  N?: number | undefined;
}

/**
 * score_sde's sigma_min 0.01; sigma_max 50 follows Song & Ermon 2020's rule (sigma_max about the
 * largest distance between training images: CIFAR-10 uses 50, Fashion-MNIST's 784 dims in [-1, 1] are
 * of the same order).
 */
export const VE_DEFAULTS = Object.freeze({ sigmaMin: 0.01, sigmaMax: 50, N: 1000 });

/** @example const sde = new VeSde({ sigmaMax: 50 }); sde.marginal(1).std // 50 */
export class VeSde extends Sde {
  readonly name = 've' as const;
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  /** SMLD's sigma_i, i = 0..N-1, geometric (float64). */
  readonly discreteSigmas: Float64Array;

  constructor(options: VeOptions = {}) {
    super(options.N ?? VE_DEFAULTS.N);
    this.sigmaMin = options.sigmaMin ?? VE_DEFAULTS.sigmaMin;
    this.sigmaMax = options.sigmaMax ?? VE_DEFAULTS.sigmaMax;
    if (typeof this.sigmaMin !== 'number' || !Number.isFinite(this.sigmaMin) || !(this.sigmaMin > 0)) {
      throw new ArgumentError(`VeSde: sigmaMin must be a finite number > 0 (score_sde uses 0.01), found ${String(this.sigmaMin)}`);
    }
    if (typeof this.sigmaMax !== 'number' || !Number.isFinite(this.sigmaMax) || !(this.sigmaMax > this.sigmaMin)) {
      throw new ArgumentError(`VeSde: sigmaMax must be a finite number > sigmaMin ${this.sigmaMin} (50 for Fashion-MNIST/CIFAR-10), found ${String(this.sigmaMax)}`);
    }
    this.discreteSigmas = linspace(Math.log(this.sigmaMin), Math.log(this.sigmaMax), this.N).map(Math.exp);
  }

  /** sigma(t) = sigma_min (sigma_max / sigma_min)^t. */
  sigma(t: number): number {
    return this.sigmaMin * (this.sigmaMax / this.sigmaMin) ** t;
  }

  driftCoef(t: number): number {
    checkTime('ve.drift', t);
    return 0;
  }

  diffusion(t: number): number {
    return this.sigma(checkTime('ve.diffusion', t)) * Math.sqrt(2 * Math.log(this.sigmaMax / this.sigmaMin));
  }

  marginal(t: number): { mean: number; std: number } {
    return { mean: 1, std: this.sigma(checkTime('ve.marginal', t)) };
  }

  get priorStd(): number {
    return this.sigmaMax;
  }

  withSteps(N: number): VeSde {
    return new VeSde({ sigmaMin: this.sigmaMin, sigmaMax: this.sigmaMax, N });
  }

  /** SMLD (eq. 45): f = 0, G = sqrt(sigma_i^2 - sigma_{i-1}^2) (sigma_{-1} = 0), i = round(t (N - 1)). */
  discretize(t: number): DiscreteStep {
    const i = this.stepIndex(t);
    const s = this.discreteSigmas[i]!;
    const prev = i === 0 ? 0 : this.discreteSigmas[i - 1]!;
    return { fCoef: 0, G: Math.sqrt(s * s - prev * prev) };
  }

  /** diffusers' ScoreSdeVeScheduler fields plus ours. */
  toConfig(): Record<string, unknown> {
    return {
      _class_name: 'ScoreSdeVeScheduler',
      num_train_timesteps: this.N,
      sigma_min: this.sigmaMin,
      sigma_max: this.sigmaMax,
      sampling_eps: SDE_EPS,
      snr: 0.16,
      correct_steps: 1,
      sde: this.name,
    };
  }
}
