/**
 * The sub-VP SDE (Song et al. 2021, eq. 17):
 *   dx = -1/2 beta(t) x dt + sqrt(beta(t) (1 - e^{-2 int_0^t beta(s) ds})) dw,
 * with p_0t(x(t) | x(0)) = N(e^{L(t)} x(0), (1 - e^{2 L(t)})^2 I) (eq. 33): the same mean as VP and
 * a variance bounded by VP's at every t (hence the name), which gave the paper its best likelihoods.
 * It has no discrete ancestor, so its discretisation is Euler-Maruyama with dt = 1/N.
 */
import { Sde, checkTime, SDE_EPS, SDE_T, type DiscreteStep } from './sde.js';
import { VP_DEFAULTS, checkBetas, type VpOptions } from './vp.js';

/** @example const sde = new SubVpSde({ betaMin: 0.1, betaMax: 20 }); sde.marginal(1).std // ~1 */
export class SubVpSde extends Sde {
  readonly name = 'subvp' as const;
  readonly betaMin: number;
  readonly betaMax: number;

  constructor(options: VpOptions = {}) {
    super(options.N ?? VP_DEFAULTS.N);
    this.betaMin = options.betaMin ?? VP_DEFAULTS.betaMin;
    this.betaMax = options.betaMax ?? VP_DEFAULTS.betaMax;
    checkBetas('SubVpSde', this.betaMin, this.betaMax);
  }

  beta(t: number): number {
    return this.betaMin + t * (this.betaMax - this.betaMin);
  }

  /** L(t) = -1/4 t^2 (beta_max - beta_min) - 1/2 t beta_min (so int_0^t beta = -2 L(t)). */
  logMeanCoef(t: number): number {
    return -0.25 * t * t * (this.betaMax - this.betaMin) - 0.5 * t * this.betaMin;
  }

  driftCoef(t: number): number {
    return -0.5 * this.beta(checkTime('subvp.drift', t));
  }

  diffusion(t: number): number {
    checkTime('subvp.diffusion', t);
    // 1 - e^{-2 int beta} = 1 - e^{4 L}.
    return Math.sqrt(this.beta(t) * -Math.expm1(4 * this.logMeanCoef(t)));
  }

  marginal(t: number): { mean: number; std: number } {
    const L = this.logMeanCoef(checkTime('subvp.marginal', t));
    return { mean: Math.exp(L), std: -Math.expm1(2 * L) };
  }

  get priorStd(): number {
    return 1;
  }

  withSteps(N: number): SubVpSde {
    return new SubVpSde({ betaMin: this.betaMin, betaMax: this.betaMax, N });
  }

  /** Euler-Maruyama with dt = T / N: f = a(t) dt x, G = g(t) sqrt(dt). */
  discretize(t: number): DiscreteStep {
    const dt = SDE_T / this.N;
    return { fCoef: this.driftCoef(t) * dt, G: this.diffusion(t) * Math.sqrt(dt) };
  }

  /** No diffusers class exists for sub-VP; the class name is ours, the fields follow ScoreSdeVpScheduler. */
  toConfig(): Record<string, unknown> {
    return {
      _class_name: 'ScoreSdeSubVpScheduler',
      num_train_timesteps: this.N,
      beta_min: this.betaMin,
      beta_max: this.betaMax,
      sampling_eps: SDE_EPS,
      sde: this.name,
    };
  }
}
