/**
 * The models a server offers: each sub-folder of the models folder that `diffuse sample --model`
 * would accept (a pipeline folder, a training run, a checkpoint or a bare U-Net folder). A model
 * is named by its folder name only; names are checked against a strict pattern and the resolved
 * folder must lie inside the models folder (symbolic links included), so no request can reach a
 * path outside it.
 */
import { modelClassNames } from '../io/model_class_names.js';
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, relative, isAbsolute, sep } from 'node:path';
import { resolveModelDir } from '../io/model_folder.js';
import { readDiffusersConfig, readSchedulerConfig, readJSONFile } from '../io/checkpoint.js';
import { configFromJSON, type UNet2DConfig } from '../nn/unet_2d.js';
import { DiffuseError } from '../tensor/errors.js';
import { superresInfoOf } from '../pipelines/superres.js';
import { readSamplingConfig } from '../io/sampling_config.js';
import { schedulerNames } from '../sampling/registry.js';

/** A model name: a folder name of letters, digits, '.', '_' and '-', not starting with '.'. */
export const MODEL_NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$';
const NAME_RE = new RegExp(MODEL_NAME_PATTERN);

/** A bad model name or a missing model (the server answers 404 or 400 with the message). */
export class ModelNotFoundError extends DiffuseError {}

/** What a client sees of a model. */
export interface ModelInfo {
  name: string;
  /** What it does: 'generate' (sample, inpaint, img2img), or 'superres' (an SR3 model: upscale only). */
  task: 'generate' | 'superres';
  /** A super-resolution model's factor (its inputs are sampleSize / scale), else null. */
  scale: number | null;
  /** (height, width) of the images it makes, or null if the config leaves it open. */
  sampleSize: [number, number] | null;
  channels: number;
  /** Real classes (the null class used by guidance not counted), or 0 for an unconditional model. */
  numClasses: number;
  /** Whether classifier-free guidance is possible (a null class exists). */
  guidance: boolean;
  /** What a request leaves out gets (sampling_config.json: guidance 1 and no scheduler or steps without it). */
  defaults: { guidance: number; sampler: string | null; steps: number | null };
  classNames: string[] | null;
  /** The diffusers scheduler class of its training noise schedule, and its steps. */
  scheduler: { className: string | null; numTrainTimesteps: number; predictionType: string } | null;
  /** The U-Net's config.json. */
  config: Record<string, unknown>;
}

/** Where a model's files lie. */
export interface ModelLocation {
  unetDir: string;
  schedulerDir: string | null;
}

/**
 * Resolves a model name to its folders inside `modelsDir`, refusing names outside the pattern,
 * '..', and anything whose real path leaves the models folder.
 * @example resolveModelName('models', 'fashion-mnist').unetDir // 'models/fashion-mnist/unet'
 */
export function resolveModelName(modelsDir: string, name: unknown): ModelLocation {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.includes('..')) {
    throw new ModelNotFoundError(`model name ${JSON.stringify(name)} is not valid: expected a folder name of letters, digits, '.', '_' and '-' (pattern ${MODEL_NAME_PATTERN})`);
  }
  const root = realpathSync(modelsDir);
  const dir = join(root, name);
  if (!existsSync(dir)) throw new ModelNotFoundError(`no model '${name}' (the models folder has: ${listModelNames(modelsDir).join(', ') || 'none'})`);
  const real = realpathSync(dir);
  const rel = relative(root, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) {
    throw new ModelNotFoundError(`model '${name}' resolves outside the models folder; refused`);
  }
  let loc: ModelLocation;
  try {
    loc = resolveModelDir(real);
  } catch (e) {
    throw new ModelNotFoundError(`model '${name}': ${(e as Error).message}`);
  }
  for (const p of [loc.unetDir, loc.schedulerDir]) {
    if (p === null) continue;
    const r = relative(root, realpathSync(p));
    if (r.startsWith('..') || isAbsolute(r)) throw new ModelNotFoundError(`model '${name}' resolves outside the models folder; refused`);
  }
  return loc;
}

/** Names of the sub-folders of `modelsDir` that hold a model, sorted. */
export function listModelNames(modelsDir: string): string[] {
  if (!existsSync(modelsDir)) return [];
  return readdirSync(modelsDir)
    .filter((n) => NAME_RE.test(n) && statSync(join(modelsDir, n)).isDirectory())
    .filter((n) => {
      try {
        resolveModelDir(join(modelsDir, n));
        return true;
      } catch {
        return false;
      }
    })
    .sort();
}

/** Class names (io/model_class_names.ts: classes.json, else the training data's); a malformed file leaves the model nameless rather than unlisted. */
function classNamesOf(modelsDir: string, name: string, unetDir: string, numClassEmbeds: number | null): string[] | null {
  try {
    return modelClassNames(join(modelsDir, name), unetDir, numClassEmbeds);
  } catch {
    return null;
  }
}

function samplingDefaultsOf(unetDir: string): ModelInfo['defaults'] {
  const s = readSamplingConfig(unetDir, schedulerNames());
  return { guidance: s.guidanceScale, sampler: s.scheduler, steps: s.numInferenceSteps };
}

/** A model's description for the API (reads only the small JSON files). */
export function describeModel(modelsDir: string, name: string): ModelInfo {
  const loc = resolveModelName(modelsDir, name);
  const json = readDiffusersConfig(loc.unetDir);
  let cfg: UNet2DConfig;
  try {
    cfg = configFromJSON(json);
  } catch (e) {
    throw new ModelNotFoundError(`model '${name}': ${(e as Error).message}`);
  }
  const k = cfg.numClassEmbeds;
  // The last class embedding is the null class used by guidance (as generate() assumes).
  const numClasses = k === null ? 0 : Math.max(1, k - 1);
  let scheduler: ModelInfo['scheduler'] = null;
  if (loc.schedulerDir !== null) {
    const s = readSchedulerConfig(loc.schedulerDir);
    scheduler = {
      className: typeof s['_class_name'] === 'string' ? s['_class_name'] : null,
      numTrainTimesteps: typeof s['num_train_timesteps'] === 'number' ? s['num_train_timesteps'] : 1000,
      predictionType: typeof s['prediction_type'] === 'string' ? s['prediction_type'] : 'epsilon',
    };
  }
  let scale: number | null;
  try {
    scale = superresInfoOf(loc.unetDir)?.scale ?? null;
  } catch (e) {
    throw new ModelNotFoundError(`model '${name}': ${(e as Error).message}`);
  }
  return {
    name,
    task: scale === null ? 'generate' : 'superres',
    scale,
    sampleSize: cfg.sampleSize === null ? null : typeof cfg.sampleSize === 'number' ? [cfg.sampleSize, cfg.sampleSize] : [cfg.sampleSize[0], cfg.sampleSize[1]],
    channels: cfg.outChannels, // an SR3 U-Net also takes the upsampled image: in = 2 out
    numClasses,
    guidance: k !== null && k >= 2,
    defaults: samplingDefaultsOf(loc.unetDir),
    classNames: classNamesOf(modelsDir, name, loc.unetDir, k),
    scheduler,
    config: json,
  };
}
