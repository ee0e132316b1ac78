/**
 * Super-resolution with an SR3 model (Saharia et al. 2021, "Image Super-Resolution via Iterative
 * Refinement", sec. 2): the low-resolution image is bicubic-upsampled to the target size
 * (data/resample.ts, as in training) and concatenated to x_t at every step of the reverse process,
 * which runs through generate() (any scheduler or sampler, per-image Philox noise, progress,
 * cancellation): generate's `conditioning` option carries the upsampled image.
 *
 * An SR3 model folder is a diffusers pipeline folder with a superres.json beside model_index.json
 * (written by `diffuse train --task superres`): { task: 'superres', scale, downsample, upsample }.
 */
import type { NonfiniteOptions } from '../io/nonfinite.js';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { UNet2DModel } from '../nn/unet_2d.js';
import { readJSONFile, readSchedulerConfig } from '../io/checkpoint.js';
import { TRAIN_CONFIG_NAME } from '../train/checkpoint.js';
import { resolveModelDir, RunFolderError } from '../io/model_folder.js';
import { SUPERRES_FILE, superresInfoFromJson, type SuperresInfo } from '../train/objectives/superres.js';
import { bicubicResize, degrade } from '../data/resample.js';
import { reshape } from '../ops/shape.js';
import { clamp } from '../ops/scalar.js';
import { imageQuality, type ImageQuality } from '../eval/image_metrics.js';
import { generate, type GenerateOptions } from './generate.js';
import type { DiffusersConfig } from '../schedulers/scheduler.js';

/** Options of `upscale`: generate's, with the low-resolution images and the factor instead of n and size. */
export type UpscaleOptions = Omit<GenerateOptions, 'n' | 'size' | 'conditioning' | 'classLabels' | 'guidanceScale' | 'classifier' | 'classifierScale'> & {
  /** Low-resolution images (N, h, w, C) or one (h, w, C), values in [-1, 1]. */
  image: Tensor;
  /** The model's upscaling factor (superres.json's scale). */
  scale: number;
};

/** What `upscale` returns. */
export interface UpscaleResult {
  /** (N, h scale, w scale, C) in [-1, 1]. */
  images: Tensor;
  /** The conditioning the model saw: the bicubic upsampling of the input, (N, h scale, w scale, C). */
  bicubic: Tensor;
}

/**
 * Upscales low-resolution images by `scale` with an SR3 U-Net (in_channels = 2C, out_channels = C).
 * @example
 * const { model, schedulerConfig, scale } = loadSuperresModel('models/fashion-mnist-sr2');
 * const lr = await readPng('low.png'); // (14, 14, 1)
 * const { images } = upscale({ model, schedulerConfig, scale, image: lr, scheduler: 'ddim', steps: 50, seed: 0 });
 */
export function upscale(options: UpscaleOptions): UpscaleResult {
  const op = 'upscale';
  if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: expected an options object { model, image, scale, scheduler, steps, seed }`);
  const { image, scale, model, ...rest } = options;
  if (!(model instanceof UNet2DModel)) throw new ArgumentError(`${op}: 'model' must be a UNet2DModel (loadSuperresModel(dir).model), found ${model === null ? 'null' : typeof model}`);
  if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 2) throw new ArgumentError(`${op}: 'scale' must be an integer >= 2, found ${String(scale)}`);
  if (!(image instanceof Tensor) || (image.rank !== 3 && image.rank !== 4)) {
    throw new ShapeError(`${op}: 'image' must be low-resolution images (N, h, w, C) or one (h, w, C), found ${image instanceof Tensor ? fmtShape(image.shape) : typeof image}`);
  }
  const lr = image.rank === 3 ? reshape(image, [1, ...image.shape]) : image;
  const [n, h, w, c] = lr.shape as [number, number, number, number];
  const cfg = model.config;
  if (cfg.inChannels !== 2 * c || cfg.outChannels !== c) {
    throw new ShapeError(`${op}: the image has ${c} channel(s), so an SR3 model needs in_channels ${2 * c} and out_channels ${c}; this model has ${cfg.inChannels} and ${cfg.outChannels}${cfg.inChannels === cfg.outChannels ? ' (a generation model, not a super-resolution one)' : ''}`);
  }
  if (cfg.numClassEmbeds !== null) throw new ArgumentError(`${op}: class-conditional super-resolution models are not supported (num_class_embeds = ${cfg.numClassEmbeds})`);
  const H = h * scale;
  const W = w * scale;
  const ss = cfg.sampleSize;
  if (ss !== null && (typeof ss === 'number' ? ss !== H || ss !== W : ss[0] !== H || ss[1] !== W)) {
    const want = typeof ss === 'number' ? [ss, ss] : ss;
    throw new ShapeError(`${op}: the model makes ${want[0]}x${want[1]} images from ${want[0]! / scale}x${want[1]! / scale} inputs (scale ${scale}), but the input is ${h}x${w}`);
  }
  const bicubic = bicubicResize(lr, H, W);
  const { images } = generate({ ...rest, model, n, size: [H, W], conditioning: bicubic });
  return { images, bicubic };
}

/** A loaded SR3 model: the U-Net, its scheduler config and its factor. */
export interface SuperresModel {
  model: UNet2DModel;
  schedulerConfig: DiffusersConfig;
  scale: number;
  info: SuperresInfo;
  /** Where the U-Net was read from. */
  unetDir: string;
}

/**
 * What makes the model whose U-Net is in `unetDir` a super-resolution one: superres.json beside
 * its pipeline folder, else the run's train_config.json (for checkpoints); null for a generation
 * model. A file that says 'superres' with a bad scale is an error naming it.
 * @example superresInfoOf('models/fashion-mnist-sr2/unet')?.scale // 2
 */
export function superresInfoOf(unetDir: string): SuperresInfo | null {
  const pipeline = dirname(unetDir);
  const candidates = [join(pipeline, SUPERRES_FILE), join(pipeline, '..', '..', TRAIN_CONFIG_NAME), join(pipeline, TRAIN_CONFIG_NAME)];
  for (const p of candidates) {
    if (!existsSync(p)) continue;
    const j = readJSONFile(p) as Record<string, unknown> | null;
    if (j === null || typeof j !== 'object') continue;
    return superresInfoFromJson(p, j, !p.endsWith(SUPERRES_FILE));
  }
  return null;
}

/**
 * Loads an SR3 model from a run folder, a checkpoint or a pipeline folder (with superres.json);
 * weights holding NaN or Inf are refused unless `options.allowNonfinite`.
 * @example const { model, scale } = loadSuperresModel('runs/fm-sr2');
 */
export function loadSuperresModel(path: string, options: NonfiniteOptions = {}): SuperresModel {
  const { unetDir, schedulerDir } = resolveModelDir(path);
  const info = superresInfoOf(unetDir);
  if (info === null) {
    throw new RunFolderError(
      `${path} is not a super-resolution model: found no ${SUPERRES_FILE} with task 'superres' (looked in ${dirname(unetDir)}). Train one with 'diffuse train --task superres --scale 2 --config configs/unet_superres_fm.json', or use 'diffuse sample' for a generation model`,
    );
  }
  const model = UNet2DModel.fromPretrained(unetDir, options);
  return { model, schedulerConfig: schedulerDir === null ? {} : readSchedulerConfig(schedulerDir), scale: info.scale, info, unetDir };
}

/** What `evaluateUpscale` returns: per-image quality of SR3 and of bicubic upsampling against the originals. */
export interface UpscaleEvaluation {
  sr: ImageQuality;
  bicubic: ImageQuality;
  /** The SR3 outputs (N, H, W, C), and the low-resolution inputs (N, H / s, W / s, C). */
  images: Tensor;
  lowRes: Tensor;
  /** The bicubic upsampling of the inputs, clamped to [-1, 1] (N, H, W, C). */
  bicubicImages: Tensor;
}

/**
 * Degrades high-resolution images as training did (area downsampling by `scale`), upscales them
 * with the model, and measures PSNR/SSIM of SR3 and of plain bicubic upsampling (clamped to
 * [-1, 1]) against the originals.
 * @example const e = evaluateUpscale({ model, scale: 2, hr, scheduler: 'ddim', steps: 50, seed: 0 });
 */
export function evaluateUpscale(options: Omit<UpscaleOptions, 'image'> & { hr: Tensor }): UpscaleEvaluation {
  const { hr, ...rest } = options;
  if (!(hr instanceof Tensor) || hr.rank !== 4) throw new ShapeError(`evaluateUpscale: 'hr' must be images (N, H, W, C), found ${hr instanceof Tensor ? fmtShape(hr.shape) : typeof hr}`);
  const { lr, up } = degrade(hr, options.scale);
  const { images } = upscale({ ...rest, image: lr });
  const clamped = clamp(up, -1, 1);
  return { sr: imageQuality(images, hr), bicubic: imageQuality(clamped, hr), images, bicubicImages: clamped, lowRes: lr };
}
