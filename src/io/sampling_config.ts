/**
 * A model folder's sampling defaults: sampling_config.json beside model_index.json (or in a
 * checkpoint folder), as Hugging Face models ship a generation_config.json. `diffuse sample`,
 * `eval` and the server use it for what a flag or request leaves out, so a shipped model says how
 * it was tuned to be sampled; the editing commands take its guidance weight.
 *
 *   { "guidance_scale": 1.5, "scheduler": "dpmpp_2m", "num_inference_steps": 20 }
 *
 * Every field is optional: a folder without the file samples with guidance 1 (none) and the
 * command's own scheduler and step defaults. `num_inference_steps` goes with `scheduler`: a
 * command given another scheduler uses that scheduler's usual default.
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
  /** A scheduler or sampler name as `diffuse sample --scheduler` takes it, or null (the command's default). */
  scheduler: string | null;
  /** Reverse steps with that scheduler, or null (the command's default). */
  numInferenceSteps: number | null;
}

/** What a folder without the file gets. */
export const DEFAULT_SAMPLING_CONFIG: Readonly<SamplingConfig> = { guidanceScale: 1, scheduler: null, numInferenceSteps: null };

/**
 * The sampling defaults of the model whose U-Net is in `unetDir` (the file is looked for in the
 * folder above it: the pipeline or checkpoint folder). `schedulerNames`, when given, are the
 * names 'scheduler' may take.
 * @example readSamplingConfig('models/fashion-mnist/unet').guidanceScale // 1.5
 */
export function readSamplingConfig(unetDir: string, schedulerNames?: readonly string[]): SamplingConfig {
  const path = join(dirname(unetDir), SAMPLING_CONFIG_NAME);
  if (!existsSync(path)) return { ...DEFAULT_SAMPLING_CONFIG };
  const json = readJSONFile(path) as Record<string, unknown> | null;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new DiffuseError(`${path}: expected a JSON object like { "guidance_scale": 1.5 }`);
  const bad = (field: string, want: string): never => {
    throw new DiffuseError(`${path}: '${field}' must be ${want}, found ${JSON.stringify(json[field])}`);
  };
  const g = json['guidance_scale'] ?? DEFAULT_SAMPLING_CONFIG.guidanceScale;
  if (typeof g !== 'number' || !Number.isFinite(g) || g < 0) bad('guidance_scale', 'a number >= 0');
  const sched = json['scheduler'] ?? null;
  if (sched !== null && (typeof sched !== 'string' || (schedulerNames !== undefined && !schedulerNames.includes(sched)))) {
    bad('scheduler', schedulerNames === undefined ? 'a scheduler name' : `one of ${schedulerNames.join(', ')}`);
  }
  const steps = json['num_inference_steps'] ?? null;
  if (steps !== null && (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 1)) bad('num_inference_steps', 'an integer >= 1');
  return { guidanceScale: g as number, scheduler: sched as string | null, numInferenceSteps: steps as number | null };
}

/**
 * The default steps: the file's, but only when its scheduler is the one used (steps tuned for one
 * solver say nothing about another); null means the command's own default.
 * @example defaultSteps(cfg.numInferenceSteps, values.scheduler !== undefined) ?? 50
 */
export function defaultSteps(configSteps: number | null, schedulerGiven: boolean): number | null {
  return schedulerGiven ? null : configSteps;
}

/** Writes `dir/sampling_config.json` atomically (null fields left out). */
export function writeSamplingConfig(dir: string, config: Partial<SamplingConfig>): void {
  const json: Record<string, unknown> = {};
  if (config.guidanceScale !== undefined) json['guidance_scale'] = config.guidanceScale;
  if (config.scheduler != null) json['scheduler'] = config.scheduler;
  if (config.numInferenceSteps != null) json['num_inference_steps'] = config.numInferenceSteps;
  writeJSONAtomic(join(dir, SAMPLING_CONFIG_NAME), json);
}
