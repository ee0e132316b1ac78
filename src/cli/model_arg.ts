/**
 * The `--model` flag shared by the commands that run a trained model (sample, inpaint, img2img,
 * augment, explain): a run folder, checkpoint, pipeline folder or U-Net folder, defaulting to the
 * bundled models/fashion-mnist; loads the U-Net, its scheduler config, and what the training run
 * recorded about its data (train_config.json's `data`, giving the class names).
 */
import { modelClassNames as classNamesOfModel, trainingData } from '../io/model_class_names.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resolveModelDir } from '../io/model_folder.js';
import { UNet2DModel } from '../nn/unet_2d.js';
import { readDiffusersConfig, readSchedulerConfig } from '../io/checkpoint.js';
import { readSamplingConfig, type SamplingConfig } from '../io/sampling_config.js';
import { packageRoot } from '../io/package_root.js';
import { DiffuseError } from '../tensor/errors.js';
import type { NonfiniteOptions } from '../io/nonfinite.js';

/** The default model shipped with the package (models/fashion-mnist). */
export function bundledModel(): string {
  const dir = join(packageRoot(), 'models', 'fashion-mnist');
  if (!existsSync(dir)) {
    throw new DiffuseError(`no --model given and the bundled model is missing (looked in ${dir}); pass --model RUN_DIR (train one with 'diffuse train --data fashion-mnist --out RUN_DIR')`);
  }
  return dir;
}

/** A loaded --model. */
export interface LoadedModel {
  /** The folder given (or the bundled one). */
  path: string;
  unetDir: string;
  model: UNet2DModel;
  /** scheduler_config.json ({} when the folder has none: diffusers' DDPM defaults). */
  schedulerConfig: Record<string, unknown>;
  /** The training data recorded in train_config.json ('fashion-mnist', 'mnist', a folder), or null. */
  data: string | null;
  /** Class names by label, when the training data tells them; else null. */
  classNames: string[] | null;
  /** The folder's sampling defaults (sampling_config.json; guidance 1 without one). */
  sampling: SamplingConfig;
}

/**
 * Loads `--model` (default: the bundled model) with its scheduler config and class names;
 * `options.allowNonfinite` is --allow-nonfinite (weights holding NaN/Inf are refused without it).
 * @example const { model, schedulerConfig, classNames } = loadModelArg(values.model);
 */
export function loadModelArg(path: string | undefined, options: NonfiniteOptions = {}): LoadedModel {
  const dir = path ?? bundledModel();
  const { unetDir, schedulerDir } = resolveModelDir(dir);
  const model = UNet2DModel.fromPretrained(unetDir, options);
  const schedulerConfig = schedulerDir === null ? {} : readSchedulerConfig(schedulerDir);
  const { data, classNames } = modelClassNames(dir, unetDir, model.config.numClassEmbeds);
  return { path: dir, unetDir, model, schedulerConfig, data, classNames, sampling: readSamplingConfig(unetDir) };
}

/**
 * The one reader of a model's class names (loadModelArg, `--class NAME`): what its training run
 * recorded about the data (train_config.json's `data`: a bundled set's names or an image folder's
 * class folders), kept only when the count matches the model's classes (`numClassEmbeds`, or one
 * fewer with a null class). Reads small JSON files only, so flags are checked before a model loads.
 * @example modelClassNames('models/fashion-mnist').classNames?.[7] // 'Sneaker'
 */
export function modelClassNames(path: string, unetDir = resolveModelDir(path).unetDir, numClassEmbeds: number | null = numClassEmbedsOf(unetDir)): { data: string | null; classNames: string[] | null } {
  const data = trainingData(path, unetDir);
  return { data, classNames: classNamesOfModel(path, unetDir, numClassEmbeds) };
}

/** The U-Net config's num_class_embeds (null: unconditional or not stated). */
function numClassEmbedsOf(unetDir: string): number | null {
  const k = readDiffusersConfig(unetDir)['num_class_embeds'];
  return typeof k === 'number' ? k : null;
}
