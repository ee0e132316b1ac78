/**
 * Continuous-time training by denoising score matching (Song et al. 2021, eq. 7; score_sde's
 * get_sde_loss_fn): t ~ U(eps, 1) with eps = 1e-5, z ~ N(0, I), x(t) = m(t) x(0) + std(t) z, and
 *   L = E_t lambda(t) E || s(x(t), t) - grad log p_0t(x(t) | x(0)) ||^2,  grad log p_0t = -z / std(t),
 * with lambda(t) = std(t)^2 (the default, which makes every t weigh like DDPM's epsilon loss) or,
 * with likelihood weighting, lambda(t) = g(t)^2 (Song et al. 2021b: the loss then bounds the
 * negative log-likelihood). With the parameterisation of score.ts the residual is
 *   std(t) s + z = z - F for VP and sub-VP (F predicts the noise: DDPM's loss exactly),
 *                 F + z  for VE (F predicts -z),
 * so the loss is a per-image weighted MSE with weight 1, or g(t)^2 / std(t)^2 with likelihood
 * weighting, averaged over pixels (score_sde's reduce_mean) and images.
 */
import type { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { mulScalar } from '../ops/scalar.js';
import { combine } from '../diffusion/forward.js';
import { weightedMseLoss } from '../diffusion/loss.js';
import type { Objective, ObjectiveDraw } from '../train/objective.js';
import { SDE_T, type Sde, type SdeName } from './sde.js';
import { makeSde } from './config.js';
import { modelTimeInput } from './score.js';

/** score_sde's training eps: t ~ U(eps, T) keeps std(t) > 0. */
export const SDE_TRAIN_EPS = 1e-5;

/** An SDE objective's draw: times, noise, and the perturbed images. */
export interface SdeDraw extends ObjectiveDraw {
  /** t per image in (eps, 1). */
  t: Float64Array;
  /** z ~ N(0, I), (N, H, W, C). */
  noise: Tensor;
}

/** The SDE of a training config: VP/sub-VP from the DDPM schedule's ends (beta_min = N beta_start), VE from sigmaMin/sigmaMax. */
/** What sdeOfTrainConfig reads of a run's config: the discrete schedule it continues, and VE's noise range. */
export interface SdeScheduleKeys {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  sigmaMin: number;
  sigmaMax: number;
}

export function sdeOfTrainConfig(cfg: SdeScheduleKeys, name: SdeName): Sde {
  const N = cfg.numTrainTimesteps;
  return makeSde(name, { betaMin: cfg.betaStart * N, betaMax: cfg.betaEnd * N, sigmaMin: cfg.sigmaMin, sigmaMax: cfg.sigmaMax, N });
}

/**
 * The denoising score matching objective for `sde`.
 * @example const obj = sdeObjective(new VpSde(), { likelihoodWeighting: false }); obj.loss(model, obj.draw(x0, gen), null).backward();
 */
export function sdeObjective(sde: Sde, options: { likelihoodWeighting: boolean }): Objective<SdeDraw> {
  const ve = sde.name === 've';
  return {
    modelChannels: (c) => ({ in: c, out: c }),
    draw(x0, gen: Generator) {
      const n = x0.shape[0]!;
      const u = gen.uniform([n]).toArray();
      const t = Float64Array.from(u, (v) => v * (SDE_T - SDE_TRAIN_EPS) + SDE_TRAIN_EPS);
      return { x0, t, noise: gen.normal(x0.shape) };
    },
    loss(model, { x0, t, noise }, labels) {
      const n = x0.shape[0]!;
      // x(t) = m(t) x(0) + std(t) z, per image (in double, rounded once).
      const means = new Float64Array(n);
      const stds = new Float64Array(n);
      const weights = new Float64Array(n);
      for (let b = 0; b < n; b++) {
        const { mean, std } = sde.marginal(t[b]!);
        means[b] = mean;
        stds[b] = std;
        weights[b] = options.likelihoodWeighting ? sde.diffusion(t[b]!) ** 2 / (std * std) : 1;
      }
      const xt = combine('sdeObjective', means, x0, stds, noise, ['x0', 'noise']);
      const timesteps = Float32Array.from(t, (ti) => modelTimeInput(sde, ti));
      const pred = model.forward(xt, timesteps, labels);
      // VP/sub-VP: F ~ z; VE: F ~ -z.
      return weightedMseLoss(pred, ve ? mulScalar(noise, -1) : noise, weights);
    },
    schedulerConfig: () => sde.toConfig(),
  };
}
