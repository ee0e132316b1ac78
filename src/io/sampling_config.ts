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
import { parseConfig, configToJson } from '../schema/config.js';
import { described, enumField, intField, nullable, numberField, stringField, type Field } from '../schema/field.js';

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

/**
 * The largest classifier-free guidance weight accepted (flag, sampling_config.json, request): the
 * useful range is about 1 to 20 (diffusers' pipelines default to 7.5; 30 saturates most images),
 * so 100 leaves room for every experiment while 1e308 (NaN images) is refused by name.
 */
export const MAX_GUIDANCE = 100;

/** The fields of sampling_config.json (`schedulerNames`: the names 'scheduler' may take, when known). */
export function samplingConfigFields(schedulerNames?: readonly string[]) {
  const scheduler: Field<string> = schedulerNames === undefined ? stringField('scheduler', '') : enumField('scheduler', schedulerNames, schedulerNames[0]!);
  return {
    guidanceScale: described(numberField('guidance_scale', 1, 0, MAX_GUIDANCE), `Classifier-free guidance weight (1: none), in [0, ${MAX_GUIDANCE}].`),
    scheduler: described(nullable(scheduler), "A scheduler or sampler name as 'diffuse sample --scheduler' takes it (null: the command's default)."),
    numInferenceSteps: described(nullable(intField('num_inference_steps', 1, 1)), 'Reverse steps with that scheduler (null: its usual default).'),
  } as const;
}

/** The fields without a scheduler-name check. */
export const SAMPLING_CONFIG_FIELDS = samplingConfigFields();

/** What a folder without the file gets. */
export const DEFAULT_SAMPLING_CONFIG: Readonly<SamplingConfig> = { guidanceScale: 1, scheduler: null, numInferenceSteps: null };

/**
 * The sampling defaults of the model whose U-Net is in `unetDir` (the file is looked for in the
 * folder above it: the pipeline or checkpoint folder). `schedulerNames`, when given, are the
 * names 'scheduler' may take.
 * @example readSamplingConfig('models/fashion-mnist/unet').guidanceScale // 1.3
 */
export function readSamplingConfig(unetDir: string, schedulerNames?: readonly string[]): SamplingConfig {
  const path = join(dirname(unetDir), SAMPLING_CONFIG_NAME);
  if (!existsSync(path)) return { ...DEFAULT_SAMPLING_CONFIG };
  const c = parseConfig(path, samplingConfigFields(schedulerNames), readJSONFile(path), { error: DiffuseError });
  return { guidanceScale: c.guidanceScale, scheduler: c.scheduler, numInferenceSteps: c.numInferenceSteps };
}

/**
 * The default steps: the file's, but only when its scheduler is the one used (steps tuned for one
 * solver say nothing about another); null means the command's own default.
 * @example defaultSteps(cfg.numInferenceSteps, values.scheduler !== undefined) ?? 50
 */
export function defaultSteps(configSteps: number | null, schedulerGiven: boolean): number | null {
  return schedulerGiven ? null : configSteps;
}

/** What a command's flags say about sampling (undefined: not given). */
export interface SamplingFlags {
  scheduler?: string | undefined;
  steps?: number | undefined;
  guidanceScale?: number | undefined;
}

/** The sampling settings a command runs with. */
export interface SamplingChoice {
  scheduler: string;
  /** null: the scheduler's usual default (the command's). */
  steps: number | null;
  guidanceScale: number;
}

/**
 * The one rule for a command's sampling defaults: a flag wins; what the flags leave out comes from
 * the model folder's sampling_config.json (its steps only with its own scheduler); what the file
 * leaves out is the command's fallback scheduler and guidance 1.
 * @example resolveSampling(readSamplingConfig(unetDir), { steps: 10 }, 'ddim') // { scheduler: 'dpmpp_2m', steps: 10, guidanceScale: 1.3 }
 */
export function resolveSampling(config: SamplingConfig, flags: SamplingFlags, fallbackScheduler: string): SamplingChoice {
  return {
    scheduler: flags.scheduler ?? config.scheduler ?? fallbackScheduler,
    steps: flags.steps ?? defaultSteps(config.numInferenceSteps, flags.scheduler !== undefined),
    guidanceScale: flags.guidanceScale ?? config.guidanceScale,
  };
}

/** The file's JSON (null fields left out). */
export function samplingConfigJson(config: Partial<SamplingConfig>): Record<string, unknown> {
  return configToJson(SAMPLING_CONFIG_FIELDS, {
    guidanceScale: config.guidanceScale as number,
    scheduler: (config.scheduler ?? undefined) as string | null,
    numInferenceSteps: (config.numInferenceSteps ?? undefined) as number | null,
  });
}

/** Writes `dir/sampling_config.json` atomically (null fields left out). */
export function writeSamplingConfig(dir: string, config: Partial<SamplingConfig>): void {
  writeJSONAtomic(join(dir, SAMPLING_CONFIG_NAME), samplingConfigJson(config));
}
