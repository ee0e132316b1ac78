/**
 * Improved DDPM's objectives (Nichol & Dhariwal 2021): a model whose output carries 2C channels,
 * the prediction (eps, x_0 or v) and v in the learned_range parameterization of the reverse
 * variance (eq. 15: log Sigma = v' log beta_t + (1 - v') log beta-tilde_t, v' = (v + 1) / 2),
 * trained with one of
 * - 'hybrid' (sec. 3.1, eq. 16): L_simple + lambda L_vlb with lambda = vlbWeight (0.001), where the
 *   L_vlb term sees the mean through a stop-gradient, so it trains the variance only and L_simple
 *   trains the mean. L_vlb = sum_t L_t is estimated as T L_t (bits/dim) at the drawn t, so with
 *   T = 1000 and lambda = 0.001 the VLB term has weight 1, exactly improved-diffusion's
 *   `terms["vb"] *= num_timesteps / 1000`;
 * - 'vlb': T L_t alone, gradient into mean and variance, optionally with timesteps drawn by the
 *   importance sampler (sec. 3.3, eq. 17; diffusion/timestep_sampler.ts) and weighted 1 / (T p_t);
 * - 'simple': the plain DDPM loss (useful with a fixed variance type other than fixed_small).
 * The variance terms come from diffusion/vlb.ts (float64 inside one differentiable op).
 */
import { ArgumentError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../tensor/create.js';
import { split } from '../../ops/concat.js';
import { add, mul } from '../../ops/binary.js';
import { mulScalar } from '../../ops/scalar.js';
import { mean } from '../../ops/reduce.js';
import { addNoise } from '../../diffusion/forward.js';
import { trainingTarget, minSnrWeights, weightedMseLoss } from '../../diffusion/loss.js';
import { DiffusionVlb, learnsVariance } from '../../diffusion/vlb.js';
import { ImportanceSampler, type ImportanceSamplerState } from '../../diffusion/timestep_sampler.js';
import { DDPMScheduler } from '../../schedulers/ddpm.js';
import type { Objective } from '../objective.js';
import type { TrainConfig } from '../config.js';

/** The draw: DDPM's, plus the importance weights 1 / (T p_t) (all 1 for uniform timesteps). */
interface VlbDraw {
  x0: Tensor;
  timesteps: Float64Array;
  weights: Float64Array;
  noise: Tensor;
}

/** The state of the objective that a checkpoint must carry (the importance sampler's history). */
export interface LearnedVarianceState {
  importance: ImportanceSamplerState | null;
}

type Cfg = Pick<TrainConfig, 'numTrainTimesteps' | 'betaStart' | 'betaEnd' | 'betaSchedule' | 'predictionType' | 'minSnrGamma' | 'varianceType' | 'loss' | 'vlbWeight' | 'timestepSampler'>;

/** Throws unless loss, variance type and timestep sampler make a trainable combination. */
export function checkLearnedVarianceConfig(cfg: Pick<Cfg, 'varianceType' | 'loss' | 'timestepSampler'>, op = 'train'): void {
  const learned = learnsVariance(cfg.varianceType);
  if (learned && cfg.loss === 'simple') {
    throw new ArgumentError(`${op}: varianceType '${cfg.varianceType}' needs loss 'hybrid' or 'vlb' (L_simple gives the variance channels no gradient), found loss 'simple'`);
  }
  if (!learned && cfg.loss === 'hybrid') {
    throw new ArgumentError(`${op}: loss 'hybrid' trains a learned variance (its L_vlb term stops the mean's gradient), so it needs varianceType 'learned_range', found '${cfg.varianceType}'; use loss 'vlb' to train a fixed-variance model on the bound`);
  }
  if (cfg.timestepSampler === 'importance' && cfg.loss !== 'vlb') {
    throw new ArgumentError(`${op}: timestepSampler 'importance' is for loss 'vlb' (Nichol & Dhariwal sec. 3.3), found loss '${cfg.loss}'`);
  }
}

/**
 * The learned-variance / VLB objective of a run.
 * @example const obj = learnedVarianceObjective({ ...cfg, varianceType: 'learned_range', loss: 'hybrid' }); obj.modelChannels(1) // { in: 1, out: 2 }
 */
export function learnedVarianceObjective(cfg: Cfg): Objective<VlbDraw> {
  checkLearnedVarianceConfig(cfg);
  const scheduler = new DDPMScheduler({
    num_train_timesteps: cfg.numTrainTimesteps,
    beta_start: cfg.betaStart,
    beta_end: cfg.betaEnd,
    beta_schedule: cfg.betaSchedule,
    prediction_type: cfg.predictionType,
    variance_type: cfg.varianceType,
  });
  const acp = scheduler.alphasCumprod;
  const T = cfg.numTrainTimesteps;
  const learned = learnsVariance(cfg.varianceType);
  const vlb = new DiffusionVlb(acp, { predictionType: cfg.predictionType, varianceType: cfg.varianceType, stopGradMean: cfg.loss === 'hybrid' });
  const sampler = cfg.timestepSampler === 'importance' ? new ImportanceSampler(T) : null;
  return {
    modelChannels: (c) => ({ in: c, out: learned ? 2 * c : c }),
    draw(x0, gen) {
      const n = x0.shape[0]!;
      const u = gen.uniform([n]).toArray();
      let timesteps: Float64Array;
      let weights: Float64Array;
      if (sampler !== null) ({ timesteps, weights } = sampler.sample(u));
      else {
        // t ~ U{0..T-1} exactly as the DDPM objective draws it.
        timesteps = Float64Array.from(u, (x) => Math.min(T - 1, Math.floor(x * T)));
        weights = new Float64Array(n).fill(1);
      }
      return { x0, timesteps, weights, noise: gen.normal(x0.shape) };
    },
    loss(model, { x0, timesteps, weights, noise }, labels) {
      const C = x0.shape[x0.rank - 1]!;
      const xt = addNoise(acp, x0, noise, timesteps);
      const out = model.forward(xt, Float32Array.from(timesteps), labels); // (N, H, W, C or 2C)
      const pred = learned ? split(out, [C, C], -1)[0]! : out;
      const simple = (): Tensor => {
        const target = trainingTarget(cfg.predictionType, x0, noise, acp, timesteps);
        const w = cfg.minSnrGamma === null ? 1 : minSnrWeights(acp, timesteps, cfg.minSnrGamma, cfg.predictionType);
        return weightedMseLoss(pred, target, w);
      };
      switch (cfg.loss) {
        case 'simple':
          return simple();
        case 'hybrid': {
          const terms = vlb.terms(out, x0, xt, timesteps); // (N,) bits/dim, mean stop-gradient
          return add(simple(), mulScalar(mean(terms), cfg.vlbWeight * T));
        }
        case 'vlb': {
          const terms = vlb.terms(out, x0, xt, timesteps);
          // The sampler learns from T L_t before weighting (improved-diffusion's update_with_local_losses).
          sampler?.update(timesteps, Array.from(terms.toArray(), (x) => x * T));
          return mulScalar(mean(mul(terms, tensor(weights, [weights.length], { dtype: terms.dtype }))), T);
        }
      }
    },
    schedulerConfig: () => scheduler.toConfig(),
    getState: (): LearnedVarianceState => ({ importance: sampler?.getState() ?? null }),
    setState(state) {
      const s = state as Partial<LearnedVarianceState> | null;
      if (sampler !== null) {
        if (s?.importance === null || s?.importance === undefined) throw new ArgumentError('train: the checkpoint has no importance-sampler history, but this run samples timesteps by importance');
        sampler.setState(s.importance);
      }
    },
  };
}
