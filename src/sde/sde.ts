/**
 * The forward SDE dx = f(x, t) dt + g(t) dw on t in [0, T = 1] of score-based generative
 * modelling (Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
 * Equations", eq. 5), and from the same object, given a score s(x, t) ~ grad_x log p_t(x):
 *   the reverse SDE           dx = [f(x, t) - g(t)^2 s(x, t)] dt + g(t) dw-bar         (eq. 6)
 *   the probability-flow ODE  dx = [f(x, t) - 1/2 g(t)^2 s(x, t)] dt                  (eq. 13)
 * and their discretisations x_{i+1} = x_i + f_i(x_i) + G_i z_i (eq. 45-47 in appendix E).
 *
 * All three SDEs of the paper (VP, sub-VP, VE; vp.ts, subvp.ts, ve.ts) have a drift linear in x,
 * f(x, t) = a(t) x, and a Gaussian transition kernel p_0t(x(t) | x(0)) = N(m(t) x(0), std(t)^2 I)
 * (eq. 29, 33 and appendix B), so an SDE here is four scalar functions of t plus its prior.
 */
import { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { ArgumentError } from '../tensor/errors.js';
import { expectTensor } from '../tensor/check.js';
import { lin } from '../samplers/sampler.js';

/** The SDE families of Song et al. 2021. */
export type SdeName = 'vp' | 'subvp' | 've';
export const SDE_NAMES: readonly SdeName[] = ['vp', 'subvp', 've'];

/** The end of the diffusion (the paper's T = 1). */
export const SDE_T = 1;

/**
 * Where sampling stops and likelihood integration starts: t = eps instead of 0, where the VP
 * marginal std vanishes and the score blows up (score_sde's sampling_eps / likelihood eps, 1e-5
 * for training and likelihood). Samplers take it as an option.
 */
export const SDE_EPS = 1e-5;

/** One step of a discretised SDE: x_{i+1} = x_i + f + G z, with f = fCoef x (all drifts here are linear). */
export interface DiscreteStep {
  /** f_i(x) = fCoef * x. */
  fCoef: number;
  /** G_i. */
  G: number;
}

/** A score function s(x, t) ~ grad_x log p_t(x) at one time t for the whole batch, shaped like x. */
export type ScoreFn = (x: Tensor, t: number) => Tensor;

/** Checks 0 <= t <= T (a time of the diffusion). */
export function checkTime(op: string, t: unknown): number {
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > SDE_T) throw new ArgumentError(`${op}: t must be a number in [0, ${SDE_T}], found ${String(t)}`);
  return t;
}

/** The forward SDE of one family, its transition kernel, its prior and its discretisation. */
export abstract class Sde {
  abstract readonly name: SdeName;
  /** Number of discretisation steps N (the discrete model it continues: DDPM's T or SMLD's L). */
  readonly N: number;

  constructor(N: number) {
    if (!Number.isInteger(N) || N < 2) throw new ArgumentError(`Sde: the number of discretisation steps N must be an integer >= 2, found ${String(N)}`);
    this.N = N;
  }

  /** a(t) of the drift f(x, t) = a(t) x. */
  abstract driftCoef(t: number): number;
  /** g(t). */
  abstract diffusion(t: number): number;
  /** m(t) and std(t) of p_0t(x(t) | x(0)) = N(m(t) x(0), std(t)^2 I). */
  abstract marginal(t: number): { mean: number; std: number };
  /** The prior's std: p_T = N(0, priorStd^2 I). */
  abstract get priorStd(): number;
  /** The paper's discretisation at time t (DDPM's for VP, SMLD's for VE, Euler-Maruyama otherwise). */
  abstract discretize(t: number): DiscreteStep;
  /** The scheduler_config.json fields that describe this SDE (ours plus diffusers' where they exist). */
  abstract toConfig(): Record<string, unknown>;
  /**
   * The same SDE discretised with N steps (samplers with fewer steps than training use it, as
   * score_sde sets N to the sampling steps; the model's time input keeps the training N).
   */
  abstract withSteps(N: number): Sde;

  /** f(x, t) = a(t) x as a tensor (in x's dtype). */
  drift(x: Tensor, t: number): Tensor {
    expectTensor(`${this.name}.drift`, 'x', x);
    return lin([this.driftCoef(checkTime(`${this.name}.drift`, t)), x]);
  }

  /** The index i = round(t (N - 1) / T) of the discrete step at time t (score_sde's convention). */
  stepIndex(t: number): number {
    return Math.round((checkTime(`${this.name}.stepIndex`, t) * (this.N - 1)) / SDE_T);
  }

  /** A draw from the prior N(0, priorStd^2 I), shaped `shape`. */
  priorSample(shape: readonly number[], gen: Generator): Tensor {
    return gen.normal(shape, 0, this.priorStd);
  }

  /**
   * log N(z; 0, priorStd^2 I) per batch element (float64; the batch is axis 0).
   * @example sde.priorLogp(z) // Float64Array(N)
   */
  priorLogp(z: Tensor): Float64Array {
    expectTensor(`${this.name}.priorLogp`, 'z', z);
    const n = z.shape[0] ?? 1;
    const per = z.size / Math.max(n, 1);
    const s2 = this.priorStd ** 2;
    const out = new Float64Array(n);
    const d = z.toArray('float64');
    for (let b = 0; b < n; b++) {
      let ss = 0;
      for (let i = b * per; i < (b + 1) * per; i++) ss += d[i]! * d[i]!;
      out[b] = -0.5 * per * Math.log(2 * Math.PI * s2) - ss / (2 * s2);
    }
    return out;
  }

  /**
   * The drift of the reverse SDE (eq. 6) or, with `ode`, of the probability-flow ODE (eq. 13):
   * a(t) x - c g(t)^2 s(x, t), c = 1 or 1/2. Built from the score tensor, so gradients flow
   * through it when the score was computed with them.
   */
  reverseDriftCoefs(t: number, ode: boolean): { xCoef: number; scoreCoef: number } {
    const g = this.diffusion(t);
    return { xCoef: this.driftCoef(t), scoreCoef: -(ode ? 0.5 : 1) * g * g };
  }

  /** The diffusion of the reverse SDE (g(t)), or 0 for the probability-flow ODE. */
  reverseDiffusion(t: number, ode: boolean): number {
    return ode ? 0 : this.diffusion(t);
  }

  /**
   * The reverse of the discretised SDE (score_sde's reverse().discretize): x_{i-1} = x_i - f_rev + G_rev z
   * with f_rev = f_i(x) - c G_i^2 s(x, t) (c = 1, or 1/2 for the ODE) and G_rev = G_i (0 for the ODE).
   */
  reverseDiscretize(t: number, ode: boolean): { fCoef: number; scoreCoef: number; G: number } {
    const { fCoef, G } = this.discretize(t);
    return { fCoef, scoreCoef: -(ode ? 0.5 : 1) * G * G, G: ode ? 0 : G };
  }
}
