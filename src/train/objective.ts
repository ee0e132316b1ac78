/**
 * What a training step optimises, apart from the loop around it (optimizer, EMA, checkpoints,
 * metrics live in trainer.ts). An objective draws its randomness for a batch (timesteps, noise),
 * then turns the model's prediction into a scalar loss; the trainer draws the label dropout in
 * between, so one generator stream serves every objective and `resume` stays exact.
 *
 * The one built here is DDPM's (Ho et al. 2020, Algorithm 1): t ~ U{0..T-1}, noise ~ N(0, I),
 * x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise, target noise / x_0 / v, (Min-SNR-weighted) MSE.
 * Other tasks (super-resolution, learned variances, continuous-time SDEs) are objectives too.
 */
import type { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import type { UNet2DModel } from '../nn/unet_2d.js';
import { addNoise } from '../diffusion/forward.js';
import { trainingTarget, minSnrWeights, weightedMseLoss } from '../diffusion/loss.js';
import { DDPMScheduler } from '../schedulers/ddpm.js';
import type { TrainConfig } from './config.js';

/** One batch's random draws (opaque to the trainer). */
export interface ObjectiveDraw {
  /** The clean images, (N, H, W, C). */
  x0: Tensor;
}

/** A training objective: its draws, its loss, and what the exported pipeline needs. */
export interface Objective<D extends ObjectiveDraw = ObjectiveDraw> {
  /** The model's input and output channel counts for data with `dataChannels` channels. */
  modelChannels(dataChannels: number): { in: number; out: number };
  /** Draws everything random of a step for the batch x_0 (timesteps, noise, ...) from `gen`. */
  draw(x0: Tensor, gen: Generator): D;
  /** The scalar loss of the model on a draw (labels after dropout, or null). */
  loss(model: UNet2DModel, draw: D, labels: Int32Array | null): Tensor;
  /** The scheduler_config.json of the exported pipeline. */
  schedulerConfig(): Record<string, unknown>;
  /** Extra JSON files of the exported pipeline folder, by name (e.g. superres.json: task and scale). */
  pipelineFiles?(): Record<string, unknown>;
  /** State that lives across steps (e.g. the importance sampler's loss history), JSON-safe; saved in trainer_state.json. */
  getState?(): unknown;
  /** Restores getState()'s value on resume. */
  setState?(state: unknown): void;
}

/** DDPM's draw: the timesteps and the noise of each image. */
interface DdpmDraw extends ObjectiveDraw {
  timesteps: Float64Array;
  noise: Tensor;
}

/**
 * DDPM's objective over the config's discrete noise schedule.
 * @example const obj = ddpmObjective(cfg); const d = obj.draw(x0, gen); obj.loss(model, d, labels).backward();
 */
export function ddpmObjective(cfg: Pick<TrainConfig, 'numTrainTimesteps' | 'betaStart' | 'betaEnd' | 'betaSchedule' | 'predictionType' | 'minSnrGamma'>): Objective<DdpmDraw> {
  const scheduler = new DDPMScheduler({
    num_train_timesteps: cfg.numTrainTimesteps,
    beta_start: cfg.betaStart,
    beta_end: cfg.betaEnd,
    beta_schedule: cfg.betaSchedule,
    prediction_type: cfg.predictionType,
  });
  const acp = scheduler.alphasCumprod;
  const T = cfg.numTrainTimesteps;
  return {
    modelChannels: (c) => ({ in: c, out: c }),
    draw(x0, gen) {
      const n = x0.shape[0]!;
      // t ~ U{0..T-1} from float32 uniforms (24 bits: every t reachable, uniform up to 2^-24).
      const u = gen.uniform([n]).toArray();
      const timesteps = new Float64Array(n);
      for (let i = 0; i < n; i++) timesteps[i] = Math.min(T - 1, Math.floor(u[i]! * T));
      return { x0, timesteps, noise: gen.normal(x0.shape) };
    },
    loss(model, { x0, timesteps, noise }, labels) {
      const xt = addNoise(acp, x0, noise, timesteps);
      const target = trainingTarget(cfg.predictionType, x0, noise, acp, timesteps);
      const pred = model.forward(xt, Float32Array.from(timesteps), labels);
      const weights = cfg.minSnrGamma === null ? 1 : minSnrWeights(acp, timesteps, cfg.minSnrGamma, cfg.predictionType);
      return weightedMseLoss(pred, target, weights);
    },
    schedulerConfig: () => scheduler.toConfig(),
  };
}
