/**
 * Where models live on disk: the package's own folder (and the models bundled in it), and which
 * U-Net and scheduler folders a path given by a user stands for (a training run folder, a
 * checkpoint, an exported pipeline, or a bare diffusers model folder):
 *   RUN_DIR/model/unet, RUN_DIR/model/scheduler          (the exported DDPMPipeline folder)
 *   RUN_DIR/latest.json -> checkpoints/step-XXXXXXX/     (unet_ema/, unet/, scheduler/)
 *   MODEL_DIR/config.json + diffusion_pytorch_model.safetensors
 * The run folder's writer is src/train/checkpoint.ts; this file only reads the layout.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiffuseError } from '../tensor/errors.js';
import { packageRoot } from './package_root.js';

export { packageRoot };
import { CONFIG_NAME, SCHEDULER_CONFIG_NAME, WEIGHTS_NAME, readJSONFile } from './checkpoint.js';
import { hiddenCopies } from './atomic.js';

/** A run folder or checkpoint that cannot be used (missing, incomplete, inconsistent). */
export class RunFolderError extends DiffuseError {}

/** The exported pipeline folder inside a run folder. */
export const MODEL_DIR = 'model';
/** The run folder's pointer to its newest checkpoint: { step, checkpoint }. */
export const LATEST_NAME = 'latest.json';
/** What marks a checkpoint folder as complete (written last, before the rename). */
export const TRAINER_STATE_NAME = 'trainer_state.json';
/** The run folder's checkpoints: CHECKPOINTS_DIR/step-XXXXXXX/. */
export const CHECKPOINTS_DIR = 'checkpoints';

/** Whether a checkpoint folder is complete: it holds trainer_state.json, its last-written file. */
export function isCompleteCheckpoint(dir: string): boolean {
  return existsSync(join(dir, TRAINER_STATE_NAME));
}

/**
 * The complete checkpoint folder names of a run folder (step-XXXXXXX holding trainer_state.json),
 * oldest first: temporary, trashed and incomplete folders are not checkpoints.
 */
export function listCheckpoints(runDir: string): string[] {
  const root = join(runDir, CHECKPOINTS_DIR);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => /^step-\d{7,}$/.test(n) && isCompleteCheckpoint(join(root, n)))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
}

/** The model of the bundled models that commands use when no --model is given. */
export const DEFAULT_BUNDLED_MODEL = 'fashion-mnist';


/** The folder of the models shipped with the package (models/: one folder per model, feature-nets/). */
export function bundledModelsDir(): string {
  return join(packageRoot(), 'models');
}

/**
 * One bundled model's folder (not checked: callers name what is missing in their own terms).
 * @example bundledModelDir('fashion-mnist-sr2') // <package>/models/fashion-mnist-sr2
 */
export function bundledModelDir(name: string = DEFAULT_BUNDLED_MODEL): string {
  return join(bundledModelsDir(), name);
}

/**
 * The bundled feature net of a dataset, which `diffuse eval` scores samples with.
 * @example bundledFeatureNetDir('mnist') // <package>/models/feature-nets/mnist
 */
export function bundledFeatureNetDir(data: string): string {
  return join(bundledModelsDir(), 'feature-nets', data);
}

/**
 * The newest checkpoint of a run folder, from its latest.json, or null when it has none yet.
 * A kill while a checkpoint was being replaced can leave latest.json naming a folder that is
 * missing or incomplete: then the same step's complete copy left under `.old-step-...` is used,
 * else the newest complete checkpoint (nothing is changed on disk: writers clean up, readers only
 * read). Without latest.json (a kill before the first one was written) it is the newest complete
 * checkpoint. Throws RunFolderError when latest.json is malformed.
 * @example latestCheckpoint('runs/fm')?.step // 3000
 */
export function latestCheckpoint(runDir: string): { dir: string; step: number } | null {
  const p = join(runDir, LATEST_NAME);
  const newestComplete = (): { dir: string; step: number } | null => {
    const name = listCheckpoints(runDir).pop();
    return name === undefined ? null : { dir: join(runDir, CHECKPOINTS_DIR, name), step: Number(name.slice(5)) };
  };
  // A kill after the first checkpoint's rename but before latest.json was written.
  if (!existsSync(p)) return newestComplete();
  const j = readJSONFile(p) as { step?: unknown; checkpoint?: unknown } | null;
  if (j === null || typeof j !== 'object' || typeof j.checkpoint !== 'string' || typeof j.step !== 'number') {
    throw new RunFolderError(`${p}: expected { "step": number, "checkpoint": "checkpoints/step-..." }`);
  }
  const dir = join(runDir, j.checkpoint);
  if (isCompleteCheckpoint(dir)) return { dir, step: j.step };
  const hidden = hiddenCopies(dirname(dir), basename(dir), isCompleteCheckpoint)[0];
  if (hidden !== undefined) return { dir: hidden, step: j.step };
  return newestComplete();
}

const isModelFolder = (d: string): boolean => existsSync(join(d, CONFIG_NAME)) && existsSync(join(d, WEIGHTS_NAME));
const schedulerIn = (d: string): string | null => (existsSync(join(d, 'scheduler', SCHEDULER_CONFIG_NAME)) ? join(d, 'scheduler') : null);

/**
 * Where the U-Net (and scheduler config) of `path` live, for sampling:
 * a run folder (RUN_DIR/model, else the latest checkpoint's unet_ema), a checkpoint folder
 * (unet_ema, else unet), a pipeline folder (unet/), or a bare model folder (config.json +
 * weights; scheduler from a sibling scheduler/ or scheduler_config.json beside it, else null).
 * Throws RunFolderError listing what it looked for.
 * @example const { unetDir, schedulerDir } = resolveModelDir('runs/fm');
 */
export function resolveModelDir(path: string): { unetDir: string; schedulerDir: string | null } {
  if (typeof path !== 'string' || path === '') throw new RunFolderError(`resolveModelDir: expected a folder path, found ${JSON.stringify(path)}`);
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new RunFolderError(`${path}: no such folder (expected a run folder, a checkpoint folder or a model folder)`);
  const model = join(path, MODEL_DIR);
  if (isModelFolder(join(model, 'unet'))) return { unetDir: join(model, 'unet'), schedulerDir: schedulerIn(model) };
  if (existsSync(join(path, LATEST_NAME)) || existsSync(join(path, CHECKPOINTS_DIR))) {
    const latest = latestCheckpoint(path);
    if (latest !== null) return resolveModelDir(latest.dir);
  }
  for (const sub of ['unet_ema', 'unet']) {
    if (isModelFolder(join(path, sub))) return { unetDir: join(path, sub), schedulerDir: schedulerIn(path) };
  }
  if (isModelFolder(path)) {
    const beside = existsSync(join(path, SCHEDULER_CONFIG_NAME)) ? path : schedulerIn(resolve(path, '..'));
    return { unetDir: path, schedulerDir: beside };
  }
  throw new RunFolderError(
    `${path}: found no model. Looked for ${join(model, 'unet')} (exported run model), ${join(path, LATEST_NAME)} (run folder with checkpoints), ` +
      `${join(path, 'unet_ema')} or ${join(path, 'unet')} (checkpoint or pipeline folder), and ${join(path, CONFIG_NAME)} + ${WEIGHTS_NAME} (model folder)`,
  );
}
