/**
 * The variance-preserving SDE (Song et al. 2021, eq. 11 and 32), the continuous limit of DDPM:
 *   dx = -1/2 beta(t) x dt + sqrt(beta(t)) dw,   beta(t) = beta_min + t (beta_max - beta_min),
 * with p_0t(x(t) | x(0)) = N(e^{L(t)} x(0), (1 - e^{2 L(t)}) I), L(t) = -1/4 t^2 (beta_max -
 * beta_min) - 1/2 t beta_min (eq. 33). Its discretisation is DDPM's (eq. 46): beta_i = beta(i / (N - 1)) / N,
 * x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z, so DDPM's linear schedule 1e-4..0.02 over
 * N = 1000 steps is this SDE with beta_min 0.1 and beta_max 20.
 */
import { ArgumentError } from '../tensor/errors.js';
import { linspace } from '../diffusion/schedules.js';
import { Sde, checkTime, SDE_EPS, type DiscreteStep } from './sde.js';

/** The VP/sub-VP parameters (score_sde's defaults: beta_min 0.1, beta_max 20, N 1000). */
export interface VpOptions {
  betaMin?: number | undefined;
  betaMax?: number | undefined;
  /** Discretisation steps N (default 1000). */
  N?: number | undefined;
}

export const VP_DEFAULTS = Object.freeze({ betaMin: 0.1, betaMax: 20, N: 1000 });

/** Checks 0 < betaMin <= betaMax. */
export function checkBetas(op: string, betaMin: unknown, betaMax: unknown): void {
  if (typeof betaMin !== 'number' || !Number.isFinite(betaMin) || !(betaMin > 0)) throw new ArgumentError(`${op}: betaMin must be a finite number > 0 (score_sde uses 0.1), found ${String(betaMin)}`);
  if (typeof betaMax !== 'number' || !Number.isFinite(betaMax) || !(betaMax >= betaMin)) throw new ArgumentError(`${op}: betaMax must be a finite number >= betaMin ${betaMin} (score_sde uses 20), found ${String(betaMax)}`);
}

/**
 * @example
 * const sde = new VpSde();                      // beta_min 0.1, beta_max 20, N 1000
 * sde.marginal(0.5);                            // { mean: e^{L(0.5)}, std: sqrt(1 - e^{2 L(0.5)}) }
 */
export class VpSde extends Sde {
  readonly name = 'vp' as const;
  readonly betaMin: number;
  readonly betaMax: number;
  /** DDPM's beta_i, i = 0..N-1 (float64). */
  readonly discreteBetas: Float64Array;

  constructor(options: VpOptions = {}) {
    super(options.N ?? VP_DEFAULTS.N);
    this.betaMin = options.betaMin ?? VP_DEFAULTS.betaMin;
    this.betaMax = options.betaMax ?? VP_DEFAULTS.betaMax;
    checkBetas('VpSde', this.betaMin, this.betaMax);
    this.discreteBetas = linspace(this.betaMin / this.N, this.betaMax / this.N, this.N);
  }

  /**
   * DDPM's beta_i, checked: with N at most beta_max steps, beta_max / N >= 1 and the DDPM step's
   * sqrt(1 - beta) has no value (e.g. --steps 2: beta = 10), so every discrete predictor and
   * corrector would turn the sample into NaN.
   */
  discreteBeta(i: number): number {
    const b = this.discreteBetas[i]!;
    if (!(b < 1)) {
      throw new ArgumentError(
        `VP SDE: the discrete beta_${i} = ${b.toPrecision(3)} (beta_max / N = ${this.betaMax} / ${this.N}) is not below 1 with N = ${this.N} steps, so the DDPM step sqrt(1 - beta) has no value; use more than ${Math.ceil(this.betaMax)} steps (score_sde uses 1000)`,
      );
    }
    return b;
  }

  /** beta(t). */
  beta(t: number): number {
    return this.betaMin + t * (this.betaMax - this.betaMin);
  }

  /** L(t) = log m(t) = -1/4 t^2 (beta_max - beta_min) - 1/2 t beta_min. */
  logMeanCoef(t: number): number {
    return -0.25 * t * t * (this.betaMax - this.betaMin) - 0.5 * t * this.betaMin;
  }

  driftCoef(t: number): number {
    return -0.5 * this.beta(checkTime('vp.drift', t));
  }

  diffusion(t: number): number {
    return Math.sqrt(this.beta(checkTime('vp.diffusion', t)));
  }

  marginal(t: number): { mean: number; std: number } {
    const L = this.logMeanCoef(checkTime('vp.marginal', t));
    // 1 - e^{2L} by expm1: exact for the tiny t where the likelihood integral starts.
    return { mean: Math.exp(L), std: Math.sqrt(-Math.expm1(2 * L)) };
  }

  get priorStd(): number {
    return 1;
  }

  withSteps(N: number): VpSde {
    return new VpSde({ betaMin: this.betaMin, betaMax: this.betaMax, N });
  }

  /** DDPM (eq. 46): f = (sqrt(1 - beta_i) - 1) x, G = sqrt(beta_i), i = round(t (N - 1)). */
  discretize(t: number): DiscreteStep {
    const beta = this.discreteBeta(this.stepIndex(t));
    return { fCoef: Math.sqrt(1 - beta) - 1, G: Math.sqrt(beta) };
  }

  /** diffusers' ScoreSdeVpScheduler fields plus ours (sde, and the DDPM schedule it equals). */
  toConfig(): Record<string, unknown> {
    return {
      _class_name: 'ScoreSdeVpScheduler',
      num_train_timesteps: this.N,
      beta_min: this.betaMin,
      beta_max: this.betaMax,
      sampling_eps: SDE_EPS,
      sde: this.name,
    };
  }
}
