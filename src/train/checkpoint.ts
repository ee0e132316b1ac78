/**
 * The run folder of a training run and its checkpoints, every write atomic:
 *   RUN_DIR/train_config.json
 *   RUN_DIR/metrics.jsonl                       (one JSON line per step)
 *   RUN_DIR/checkpoints/step-XXXXXXX/           (written as .tmp-step-XXXXXXX-PID-TIME, then renamed)
 *       unet/  unet_ema/                        (diffusers model folders: raw and EMA weights)
 *       scheduler/scheduler_config.json, model_index.json
 *       optimizer.safetensors                   (AdamW exp_avg.NAME / exp_avg_sq.NAME, in-memory layout)
 *       trainer_state.json                      (step, generators, loader, EMA and optimizer counters, config)
 *   RUN_DIR/latest.json                         ({ step, checkpoint }, replaced atomically after the rename)
 *   RUN_DIR/model/                              (the exported DDPMPipeline folder: unet/ = EMA weights)
 * A crash at any point leaves the previous checkpoint and latest.json intact; every file and folder
 * is flushed to disk before it is renamed into place, so a power cut does too. A checkpoint is
 * complete when it holds trainer_state.json (written last); pruning moves a folder out of sight
 * (.trash-) before deleting it. The leftovers of a killed writer (hidden temporary names with the
 * writer's PID) are cleaned by the next save or resume (recoverRunFolder).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import type { GeneratorState } from '../tensor/random.js';
import type { LoaderState } from '../data/dataset.js';
import { DIFFUSERS_VERSION, readJSONFile, writeDiffusersFolder, writeJSONAtomic, writeSchedulerConfig } from '../io/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { CHECKPOINTS_DIR, LATEST_NAME, MODEL_DIR, RunFolderError, TRAINER_STATE_NAME, isCompleteCheckpoint, latestCheckpoint, listCheckpoints } from '../io/model_folder.js';
import { cleanStaleTemps, removeDirAtomic, writeDirAtomic, writeFileAtomic, type CleanReport } from '../io/atomic.js';
import { DiskFullError, fsyncPath } from '../io/file_ops.js';
import { configToJSON, type UNet2DModel, type UNet2DConfig } from '../nn/unet_2d.js';
import type { AdamW, AdamWState } from '../nn/adamw.js';
import type { EMA } from '../nn/ema.js';

// The reading side of the run folder (resolveModelDir, latestCheckpoint, the names both sides use)
// lives in io/model_folder.ts; re-exported here for the callers that still import it from train/.

export const TRAIN_CONFIG_NAME = 'train_config.json';
export const METRICS_NAME = 'metrics.jsonl';
export const OPTIMIZER_NAME = 'optimizer.safetensors';
export const MODEL_INDEX_NAME = 'model_index.json';

/** What trainer_state.json holds besides the weights. */
export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  /** The main generator (data order, flips, timesteps, noise, label dropout). */
  generator: GeneratorState;
  /** The model's dropout generator. */
  dropoutGenerator: GeneratorState;
  /** The data loader's position after the last batch used. */
  loader: LoaderState | null;
  emaNumUpdates: number;
  emaDecay: number;
  /** AdamW per-parameter step counts and hyperparameters. */
  optimizer: { step: number[]; lr: number; betas: [number, number]; eps: number; weightDecay: number };
  /** Seconds of training before this checkpoint, over all sessions of the run. */
  elapsed: number;
  /** The training config (trainConfigToJSON). */
  config: Record<string, unknown>;
  /** The objective's own state (Objective.getState, e.g. the importance sampler's history), if it has one. */
  objective?: unknown;
}

/** The checkpoint folder name of a step: step-0000500. */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(7, '0')}`;
}

/** The diffusers model_index.json of a DDPMPipeline (unet + scheduler). */
export function modelIndex(): Record<string, unknown> {
  return { _class_name: 'DDPMPipeline', _diffusers_version: DIFFUSERS_VERSION, scheduler: ['diffusers', 'DDPMScheduler'], unet: ['diffusers', 'UNet2DModel'] };
}

/** Writes the EMA shadow weights as a diffusers model folder (names from the model). */
function writeEmaFolder(dir: string, model: UNet2DModel, ema: EMA): void {
  const names = model.namedParameters().map(([n]) => n);
  const state = new Map<string, Tensor>(names.map((n, i) => [n, ema.shadow[i]!]));
  writeDiffusersFolder(dir, configToJSON(model.config as UNet2DConfig), state);
}

// The names and the listing both sides use live in io/model_folder.ts, folder writes in
// io/atomic.ts; re-exported for the callers that import them from here.
export { CHECKPOINTS_DIR, isCompleteCheckpoint, listCheckpoints, writeDirAtomic };

/**
 * Writes the checkpoint of `step` (`fill` writes its files into a temporary folder, the marker
 * trainer_state.json last), renames it to RUN_DIR/checkpoints/step-XXXXXXX, points latest.json at
 * it, and prunes to the newest `keep`. A full disk is a DiskFullError that names the file, says
 * the previous checkpoint is intact and how to continue (`command` names the command: 'train').
 * Returns the checkpoint's path.
 */
export function commitCheckpoint(runDir: string, step: number, fill: (tmp: string) => void, keep: number, command = 'train'): string {
  const name = checkpointName(step);
  const dir = join(runDir, CHECKPOINTS_DIR, name);
  try {
    // The metrics lines up to this step survive a power cut with the checkpoint.
    if (existsSync(join(runDir, METRICS_NAME))) fsyncPath(join(runDir, METRICS_NAME));
    writeDirAtomic(dir, fill, { isComplete: isCompleteCheckpoint });
    writeJSONAtomic(join(runDir, LATEST_NAME), { step, checkpoint: join(CHECKPOINTS_DIR, name) });
    pruneCheckpoints(runDir, keep, name);
  } catch (e) {
    if (!(e instanceof DiskFullError)) throw e;
    const last = latestCheckpoint(runDir);
    throw new DiskFullError(
      `${command}: the disk is full: writing checkpoint ${name} failed at ${e.path}. ` +
        `${last === null ? 'No checkpoint was written yet' : `The last complete checkpoint, ${last.dir}, is intact`} and no partial files were left. ` +
        `Free space on that disk, then continue with: diffuse ${command} --out ${runDir} --resume`,
      e.path,
    );
  }
  return dir;
}

/**
 * Puts a run folder right after a writer died in it (call before reading it to continue): a
 * checkpoint or model folder a kill left only under its temporary name is renamed back, and the
 * temporary files and folders of dead writes are removed. Returns what it did.
 */
export function recoverRunFolder(runDir: string): CleanReport {
  const a = cleanStaleTemps(join(runDir, CHECKPOINTS_DIR), { isComplete: isCompleteCheckpoint });
  const b = cleanStaleTemps(runDir);
  return { restored: [...a.restored, ...b.restored], removed: [...a.removed, ...b.removed] };
}

/** Everything a checkpoint is written from. */
export interface CheckpointContents {
  model: UNet2DModel;
  ema: EMA;
  optimizer: AdamW;
  schedulerConfig: Record<string, unknown>;
  state: TrainerState;
}

/**
 * Writes RUN_DIR/checkpoints/step-XXXXXXX atomically and durably, points latest.json at it, and
 * removes checkpoints beyond the newest `keep`. Returns the checkpoint's path.
 */
export function saveCheckpoint(runDir: string, contents: CheckpointContents, keep: number): string {
  const { model, ema, optimizer, schedulerConfig, state } = contents;
  return commitCheckpoint(
    runDir,
    state.step,
    (tmp) => {
      model.savePretrained(join(tmp, 'unet'));
      writeEmaFolder(join(tmp, 'unet_ema'), model, ema);
      writeSchedulerConfig(join(tmp, 'scheduler'), schedulerConfig);
      writeJSONAtomic(join(tmp, MODEL_INDEX_NAME), modelIndex());
      const opt = optimizer.getState();
      const names = model.namedParameters().map(([n]) => n);
      const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
      names.forEach((n, i) => {
        tensors.set(`exp_avg.${n}`, { shape: opt.expAvg[i]!.shape, data: opt.expAvg[i]!.toArray() });
        tensors.set(`exp_avg_sq.${n}`, { shape: opt.expAvgSq[i]!.shape, data: opt.expAvgSq[i]!.toArray() });
      });
      writeSafetensors(join(tmp, OPTIMIZER_NAME), tensors, { format: 'diffuse-adamw', layout: 'in-memory (conv weights OHWI)' });
      // The completion marker, last.
      writeJSONAtomic(join(tmp, TRAINER_STATE_NAME), state);
    },
    keep,
  );
}

/**
 * Removes all but the newest `keep` complete checkpoints (never `protect`), each moved out of sight
 * before it is deleted, incomplete step folders older than the newest complete one (left by
 * earlier versions), and the temporary files and folders of dead writes.
 */
export function pruneCheckpoints(runDir: string, keep: number, protect: string | null = null): void {
  const root = join(runDir, CHECKPOINTS_DIR);
  const all = listCheckpoints(runDir);
  for (const n of all.slice(0, Math.max(0, all.length - keep))) if (n !== protect) removeDirAtomic(join(root, n));
  const newest = all.length > 0 ? Number(all[all.length - 1]!.slice(5)) : -1;
  if (existsSync(root)) {
    for (const n of readdirSync(root)) {
      if (/^step-\d{7,}$/.test(n) && Number(n.slice(5)) < newest && !isCompleteCheckpoint(join(root, n))) removeDirAtomic(join(root, n));
    }
  }
  recoverRunFolder(runDir);
}

/** Keeps the metrics lines of steps <= `step` (a resumed run rewrites the steps after its checkpoint; a torn last line goes too). */
export function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => {
      if (l.trim() === '') return false;
      try {
        return (JSON.parse(l) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
  writeFileAtomic(path, Buffer.from(kept.length > 0 ? `${kept.join('\n')}\n` : '', 'utf8'));
}

/** Reads a checkpoint's trainer_state.json. */
export function readTrainerState(ckptDir: string): TrainerState {
  const p = join(ckptDir, TRAINER_STATE_NAME);
  if (!existsSync(p)) throw new RunFolderError(`${ckptDir}: missing ${TRAINER_STATE_NAME} (not a training checkpoint)`);
  const s = readJSONFile(p) as TrainerState;
  if (s === null || typeof s !== 'object' || !Number.isInteger(s.step) || typeof s.generator !== 'object' || typeof s.config !== 'object') {
    throw new RunFolderError(`${p}: not a trainer state (expected step, generator, config, ...)`);
  }
  return s;
}

/** Reads a checkpoint's optimizer.safetensors into an AdamW state for `model`'s parameters. */
export function readOptimizerState(ckptDir: string, model: UNet2DModel, hyper: TrainerState['optimizer']): AdamWState {
  const p = join(ckptDir, OPTIMIZER_NAME);
  if (!existsSync(p)) throw new RunFolderError(`${ckptDir}: missing ${OPTIMIZER_NAME}`);
  const file = readSafetensors(p);
  const get = (key: string): Tensor => {
    const t = file.tensors.get(key);
    if (t === undefined) throw new RunFolderError(`${p}: missing tensor '${key}'`);
    return tensor(t.data, t.shape);
  };
  const names = model.namedParameters().map(([n]) => n);
  return {
    step: [...hyper.step],
    expAvg: names.map((n) => get(`exp_avg.${n}`)),
    expAvgSq: names.map((n) => get(`exp_avg_sq.${n}`)),
    lr: hyper.lr,
    betas: [...hyper.betas],
    eps: hyper.eps,
    weightDecay: hyper.weightDecay,
  };
}

/**
 * Exports RUN_DIR/model as a diffusers DDPMPipeline folder (model_index.json, unet/ holding the
 * EMA weights, scheduler/scheduler_config.json, and the objective's extra JSON files such as
 * superres.json), atomically. Returns its path.
 */
export function exportPipeline(runDir: string, model: UNet2DModel, ema: EMA, schedulerConfig: Record<string, unknown>, extraFiles: Record<string, unknown> = {}): string {
  const dir = join(runDir, MODEL_DIR);
  // A kill during an earlier export left its temporary folder and files beside the target.
  cleanStaleTemps(runDir);
  writeDirAtomic(dir, (tmp) => {
    writeEmaFolder(join(tmp, 'unet'), model, ema);
    writeSchedulerConfig(join(tmp, 'scheduler'), schedulerConfig);
    writeJSONAtomic(join(tmp, MODEL_INDEX_NAME), modelIndex());
    for (const [name, json] of Object.entries(extraFiles)) writeJSONAtomic(join(tmp, name), json);
  });
  return dir;
}
