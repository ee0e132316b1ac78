/**
 * The run folder of a training run and its checkpoints, every write atomic:
 *   RUN_DIR/train_config.json
 *   RUN_DIR/metrics.jsonl                       (one JSON line per step)
 *   RUN_DIR/checkpoints/step-XXXXXXX/           (written as .tmp-step-XXXXXXX-PID, then renamed)
 *       unet/  unet_ema/                        (diffusers model folders: raw and EMA weights)
 *       scheduler/scheduler_config.json, model_index.json
 *       optimizer.safetensors                   (AdamW exp_avg.NAME / exp_avg_sq.NAME, in-memory layout)
 *       trainer_state.json                      (step, generators, loader, EMA and optimizer counters, config)
 *   RUN_DIR/latest.json                         ({ step, checkpoint }, replaced atomically after the rename)
 *   RUN_DIR/model/                              (the exported DDPMPipeline folder: unet/ = EMA weights)
 * A crash at any point leaves the previous checkpoint and latest.json intact.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import { DiffuseError } from '../tensor/errors.js';
import type { GeneratorState } from '../tensor/random.js';
import type { LoaderState } from '../data/dataset.js';
import { DIFFUSERS_VERSION, readJSONFile, writeDiffusersFolder, writeJSONAtomic, writeSchedulerConfig } from '../io/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { LATEST_NAME, MODEL_DIR, RunFolderError, TRAINER_STATE_NAME } from '../io/model_folder.js';
import { configToJSON, type UNet2DModel, type UNet2DConfig } from '../nn/unet_2d.js';
import type { AdamW, AdamWState } from '../nn/adamw.js';
import type { EMA } from '../nn/ema.js';

// The reading side of the run folder (resolveModelDir, latestCheckpoint, the names both sides use)
// lives in io/model_folder.ts; re-exported here for the callers that still import it from train/.

export const TRAIN_CONFIG_NAME = 'train_config.json';
export const METRICS_NAME = 'metrics.jsonl';
export const CHECKPOINTS_DIR = 'checkpoints';
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

/** fsync a directory so a rename inside it is durable (best effort where the platform refuses). */
function fsyncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync directories; the rename itself is still atomic.
  } finally {
    if (fd !== null) closeSync(fd);
  }
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

/**
 * Writes a folder atomically: `fill(tmp)` writes into a temporary sibling, which is fsynced and
 * renamed to `dir` (an existing `dir` is moved aside first and removed after).
 */
export function writeDirAtomic(dir: string, fill: (tmp: string) => void): void {
  const parent = resolve(dir, '..');
  mkdirSync(parent, { recursive: true });
  const base = dir.split(/[\\/]/).filter(Boolean).pop() ?? 'dir';
  const tmp = join(parent, `.tmp-${base}-${process.pid}-${Date.now()}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    fill(tmp);
    for (const sub of readdirSync(tmp)) if (statSync(join(tmp, sub)).isDirectory()) fsyncDir(join(tmp, sub));
    fsyncDir(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  let old: string | null = null;
  if (existsSync(dir)) {
    old = join(parent, `.old-${base}-${process.pid}-${Date.now()}`);
    renameSync(dir, old);
  }
  renameSync(tmp, dir);
  fsyncDir(parent);
  if (old !== null) rmSync(old, { recursive: true, force: true });
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
 * Writes RUN_DIR/checkpoints/step-XXXXXXX atomically, points latest.json at it, and removes
 * checkpoints beyond the newest `keep`. Returns the checkpoint's path.
 */
export function saveCheckpoint(runDir: string, contents: CheckpointContents, keep: number): string {
  const { model, ema, optimizer, schedulerConfig, state } = contents;
  const root = join(runDir, CHECKPOINTS_DIR);
  const name = checkpointName(state.step);
  const dir = join(root, name);
  writeDirAtomic(dir, (tmp) => {
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
    writeJSONAtomic(join(tmp, TRAINER_STATE_NAME), state);
  });
  writeJSONAtomic(join(runDir, LATEST_NAME), { step: state.step, checkpoint: join(CHECKPOINTS_DIR, name) });
  pruneCheckpoints(runDir, keep, name);
  return dir;
}

/** The checkpoint folder names under RUN_DIR/checkpoints, oldest first (temp folders excluded). */
export function listCheckpoints(runDir: string): string[] {
  const root = join(runDir, CHECKPOINTS_DIR);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => /^step-\d{7,}$/.test(n))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
}

/** Removes all but the newest `keep` checkpoints (never `protect`) and stale temp folders of dead writes. */
export function pruneCheckpoints(runDir: string, keep: number, protect: string | null = null): void {
  const root = join(runDir, CHECKPOINTS_DIR);
  const all = listCheckpoints(runDir);
  for (const n of all.slice(0, Math.max(0, all.length - keep))) if (n !== protect) rmSync(join(root, n), { recursive: true, force: true });
  if (existsSync(root)) for (const n of readdirSync(root)) if (/^\.(tmp|old)-/.test(n)) rmSync(join(root, n), { recursive: true, force: true });
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
  writeDirAtomic(dir, (tmp) => {
    writeEmaFolder(join(tmp, 'unet'), model, ema);
    writeSchedulerConfig(join(tmp, 'scheduler'), schedulerConfig);
    writeJSONAtomic(join(tmp, MODEL_INDEX_NAME), modelIndex());
    for (const [name, json] of Object.entries(extraFiles)) writeJSONAtomic(join(tmp, name), json);
  });
  return dir;
}
