/**
 * The models shipped in the package's models/ folder, by name: what `DiffusionPipeline
 * .fromPretrained('fashion-mnist')` and the CLI's default --model load, exported so an app can
 * find them without knowing where npm put the package.
 */
import { existsSync } from 'node:fs';
import { ArgumentError } from '../tensor/errors.js';
import { closestName } from '../schema/did_you_mean.js';
import { bundledModelDir } from './model_folder.js';

/** The bundled models: two class-conditional generators and the 14 -> 28 SR3 upscaler. */
export const BUNDLED_MODEL_NAMES = ['fashion-mnist', 'mnist', 'fashion-mnist-sr2'] as const;

/** A bundled model's name. */
export type BundledModelName = (typeof BUNDLED_MODEL_NAMES)[number];

/** Whether `name` is a bundled model's name. */
export function isBundledModelName(name: unknown): name is BundledModelName {
  return typeof name === 'string' && (BUNDLED_MODEL_NAMES as readonly string[]).includes(name);
}

/**
 * The folder of a bundled model (its model_index.json, unet/, scheduler/, sampling_config.json).
 * @example const dir = bundledModelPath('mnist'); // <package>/models/mnist
 */
export function bundledModelPath(name: BundledModelName): string {
  if (!isBundledModelName(name)) {
    const near = typeof name === 'string' ? closestName(name, BUNDLED_MODEL_NAMES) : undefined;
    throw new ArgumentError(`bundledModelPath: no bundled model ${JSON.stringify(name)}${near === undefined ? '' : ` (did you mean '${near}'?)`}; the bundled models are ${BUNDLED_MODEL_NAMES.map((n) => `'${n}'`).join(', ')}`);
  }
  const dir = bundledModelDir(name);
  if (!existsSync(dir)) throw new ArgumentError(`bundledModelPath: the bundled model '${name}' is missing from this install (looked in ${dir}); reinstall diffuse`);
  return dir;
}

/**
 * Every bundled model's folder, by name.
 * @example UNet2DModel.fromPretrained(bundledModels['fashion-mnist'])
 */
export const bundledModels: Readonly<Record<BundledModelName, string>> = Object.freeze(
  Object.fromEntries(BUNDLED_MODEL_NAMES.map((n) => [n, bundledModelDir(n)])) as Record<BundledModelName, string>,
);
