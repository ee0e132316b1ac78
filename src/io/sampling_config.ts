/**
 * A model folder's sampling defaults: sampling_config.json beside model_index.json (or in a
 * checkpoint folder), as Hugging Face models ship a generation_config.json. `diffuse sample`,
 * `eval`, the editing commands and the server use it for what a flag or request leaves out, so a
 * shipped class-conditional model can say which classifier-free guidance weight it was tuned for.
 *
 *   { "guidance_scale": 1.5 }
 *
 * A folder without the file samples with guidance 1 (none).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readJSONFile, writeJSONAtomic } from './checkpoint.js';
import { DiffuseError } from '../tensor/errors.js';

/** The file name, beside model_index.json. */
export const SAMPLING_CONFIG_NAME = 'sampling_config.json';

/** The defaults it holds. */
export interface SamplingConfig {
  /** Classifier-free guidance weight (1: none). */
  guidanceScale: number;
}

/** What a folder without the file gets. */
export const DEFAULT_SAMPLING_CONFIG: Readonly<SamplingConfig> = { guidanceScale: 1 };

/**
 * The sampling defaults of the model whose U-Net is in `unetDir` (the file is looked for in the
 * folder above it: the pipeline or checkpoint folder).
 * @example readSamplingConfig('models/fashion-mnist/unet').guidanceScale // 1.5
 */
export function readSamplingConfig(unetDir: string): SamplingConfig {
  const path = join(dirname(unetDir), SAMPLING_CONFIG_NAME);
  if (!existsSync(path)) return { ...DEFAULT_SAMPLING_CONFIG };
  const json = readJSONFile(path) as Record<string, unknown> | null;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new DiffuseError(`${path}: expected a JSON object like { "guidance_scale": 1.5 }`);
  const g = json['guidance_scale'] ?? DEFAULT_SAMPLING_CONFIG.guidanceScale;
  if (typeof g !== 'number' || !Number.isFinite(g) || g < 0) throw new DiffuseError(`${path}: 'guidance_scale' must be a number >= 0, found ${JSON.stringify(g)}`);
  return { guidanceScale: g };
}

/** Writes `dir/sampling_config.json` atomically. */
export function writeSamplingConfig(dir: string, config: SamplingConfig): void {
  writeJSONAtomic(join(dir, SAMPLING_CONFIG_NAME), { guidance_scale: config.guidanceScale });
}
