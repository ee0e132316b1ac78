/**
 * SR3's training objective (Saharia et al. 2021, "Image Super-Resolution via Iterative
 * Refinement", sec. 2 and eq. 6): the DDPM loss of a U-Net that sees, concatenated along channels
 * to its noisy input x_t, the low-resolution image upsampled back to the high resolution:
 *   x_lr = areaDownsample(x_0, s),  c = bicubic(x_lr) (H x W),  input = [x_t, c] (2C channels),
 *   L = || target - f([x_t, c], t) ||^2   (target: noise, x_0 or v as the run's prediction type).
 * The draws (timesteps, noise) are DDPM's own (train/objective.ts), so a super-resolution run uses
 * the generator stream exactly as a generation run does; the low-resolution image is a
 * deterministic function of x_0 (data/resample.ts: area downsampling, Keys' bicubic with a = -0.5).
 */
import { parseConfig } from '../../schema/config.js';
import { described, enumField, intField } from '../../schema/field.js';
import { RunFolderError } from '../../io/model_folder.js';
import { ArgumentError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { concat } from '../../ops/concat.js';
import { addNoise } from '../../diffusion/forward.js';
import { trainingTarget, minSnrWeights, weightedMseLoss } from '../../diffusion/loss.js';
import { degrade } from '../../data/resample.js';
import { DDPMScheduler } from '../../schedulers/ddpm.js';
import { ddpmObjective, type Objective } from '../objective.js';
import type { TrainConfig } from '../config.js';

/** The file of an exported super-resolution pipeline that says what it is (beside model_index.json). */
export const SUPERRES_FILE = 'superres.json';

/** What superres.json holds. */
export interface SuperresInfo {
  task: 'superres';
  /** The upscaling factor: high-resolution size = scale x low-resolution size. */
  scale: number;
  /** How training made the low-resolution images from the high-resolution ones. */
  downsample: 'area';
  /** How the low-resolution image is brought to the high resolution before the U-Net sees it. */
  upsample: 'bicubic';
}

/** superres.json's fields (schema fields; superres.json is read strictly, a run's train_config.json for task and scale only). */
export const SUPERRES_INFO_FIELDS = {
  task: described(enumField<'superres'>('task', ['superres'], 'superres'), 'What the model does: super-resolution (SR3).'),
  scale: described(intField('scale', 2, 2), 'The upscaling factor: high-resolution size = scale x low-resolution size.'),
  downsample: described(enumField<'area'>('downsample', ['area'], 'area'), 'How training made the low-resolution images.'),
  upsample: described(enumField<'bicubic'>('upsample', ['bicubic'], 'bicubic'), 'How the low-resolution image is brought to the high resolution.'),
} as const;

/**
 * The SuperresInfo of a superres.json object, or of a run's train_config.json (its `task` and
 * `scale`); null when the file's task is not 'superres'. Errors name `source`, the key and the value.
 * @example superresInfoFromJson('superres.json', { task: 'superres', scale: 2 }) // { task: 'superres', scale: 2, downsample: 'area', upsample: 'bicubic' }
 */
export function superresInfoFromJson(source: string, json: unknown, isTrainConfig = false): SuperresInfo | null {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return null;
  const j = json as Record<string, unknown>;
  if (j['task'] !== 'superres') return null;
  const picked = isTrainConfig ? { task: j['task'], scale: j['scale'] } : j;
  const info = parseConfig(source, SUPERRES_INFO_FIELDS, picked, { error: RunFolderError });
  return { task: info.task, scale: info.scale, downsample: info.downsample, upsample: info.upsample };
}

/** SR3's draw: DDPM's, plus the upsampled low-resolution conditioning. */
interface SuperresDraw {
  x0: Tensor;
  timesteps: Float64Array;
  noise: Tensor;
  /** bicubic(areaDownsample(x_0, scale)), (N, H, W, C). */
  cond: Tensor;
}

/**
 * The super-resolution objective of a run with task 'superres'.
 * @example const obj = superresObjective({ ...cfg, scale: 2 }); obj.modelChannels(1) // { in: 2, out: 1 }
 */
export function superresObjective(cfg: Pick<TrainConfig, 'numTrainTimesteps' | 'betaStart' | 'betaEnd' | 'betaSchedule' | 'predictionType' | 'minSnrGamma' | 'scale'>): Objective<SuperresDraw> {
  const ddpm = ddpmObjective(cfg);
  const acp = new DDPMScheduler({
    num_train_timesteps: cfg.numTrainTimesteps,
    beta_start: cfg.betaStart,
    beta_end: cfg.betaEnd,
    beta_schedule: cfg.betaSchedule,
    prediction_type: cfg.predictionType,
  }).alphasCumprod;
  const { scale } = cfg;
  const info: SuperresInfo = { task: 'superres', scale, downsample: 'area', upsample: 'bicubic' };
  return {
    modelChannels: (c) => ({ in: 2 * c, out: c }),
    draw(x0, gen) {
      const [, h, w] = x0.shape as [number, number, number, number];
      if (h % scale !== 0 || w % scale !== 0) {
        throw new ArgumentError(`train: --task superres --scale ${scale} needs an image size divisible by ${scale}, found ${h}x${w}; choose a scale that divides it or resize the data`);
      }
      return { ...ddpm.draw(x0, gen), cond: degrade(x0, scale).up };
    },
    loss(model, { x0, timesteps, noise, cond }, labels) {
      const xt = addNoise(acp, x0, noise, timesteps);
      const target = trainingTarget(cfg.predictionType, x0, noise, acp, timesteps);
      const pred = model.forward(concat([xt, cond], -1), Float32Array.from(timesteps), labels);
      const weights = cfg.minSnrGamma === null ? 1 : minSnrWeights(acp, timesteps, cfg.minSnrGamma, cfg.predictionType);
      return weightedMseLoss(pred, target, weights);
    },
    schedulerConfig: () => ddpm.schedulerConfig(),
    pipelineFiles: () => ({ [SUPERRES_FILE]: { ...info } }),
  };
}
