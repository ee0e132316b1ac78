/**
 * The training loop, as diffusers' train_unconditional example: batch x_0 -> the objective's
 * draws (objective.ts; DDPM: t ~ U{0..T-1}, noise) -> labels with dropout to the null class ->
 * the objective's loss (DDPM: (Min-SNR-weighted) MSE to noise, x_0 or v) -> backward ->
 * global-norm gradient clipping -> AdamW at the warmed-up learning rate -> EMA (diffusers
 * EMAModel's decay warm-up) -> metrics line -> checkpoint every K steps and at the end. Everything random comes from two seeded generators saved in each
 * checkpoint, so `resume` continues the exact same run.
 */
import { checkMemoryBudget } from '../nn/memory_budget.js';
import { unetMemoryNeed } from '../nn/memory_estimate.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import { gradNorm, scaleInPlace } from '../ops/optim.js';
import { ArgumentError, DiffuseError } from '../tensor/errors.js';
import { Generator } from '../tensor/random.js';
import { setNumThreads } from '../engine_info.js';
import { UNet2DModel, configFromJSON, configToJSON, type UNet2DConfig } from '../nn/unet_2d.js';
import { defaultPreset, describePreset, presetUNetConfig, type PresetSpec } from '../nn/unet_presets.js';
import { AdamW } from '../nn/adamw.js';
import { EMA } from '../nn/ema.js';
import { loadDataset, batches, checkLoaderState, DataError, type Dataset, type LoaderState } from '../data/index.js';
import { readDiffusersWeights, readJSONFile, writeJSONAtomic } from '../io/checkpoint.js';
import { DiskFullError, appendText, makeDir } from '../io/file_ops.js';
import { objectiveFor } from './objectives/index.js';
import { checkFlip, resolveTrainConfig, trainConfigFromJSON, trainConfigToJSON, learningRate, emaDecayAt, type TrainConfig } from './config.js';
import {
  METRICS_NAME,
  TRAIN_CONFIG_NAME,
  exportPipeline,
  recoverRunFolder,
  truncateMetrics,
  readOptimizerState,
  readTrainerState,
  saveCheckpoint,
  type TrainerState,
} from './checkpoint.js';
import { RunFolderError, latestCheckpoint } from '../io/model_folder.js';
import { CLASS_NAMES_NAME } from '../io/class_names.js';
import { SAMPLING_CONFIG_NAME, samplingConfigJson } from '../io/sampling_config.js';
import { trainedSamplingDefaults } from './sampling_defaults.js';
import { SampleGridWriter } from './sample_grid.js';

/** Training stopped on a non-finite loss or gradient. */
export class TrainingError extends DiffuseError {}

/** One line of RUN_DIR/metrics.jsonl (also passed to onProgress). */
export interface TrainMetrics {
  /** Optimizer steps completed (1-based). */
  step: number;
  loss: number;
  lr: number;
  /** Global gradient norm before clipping. */
  grad_norm: number;
  images_per_s: number;
  /** Seconds of training over all sessions of the run. */
  elapsed: number;
}

/** Callbacks and control of a run. */
export interface TrainHooks {
  /** Called after every step with its metrics, the total step count and the seconds left under --time-limit (null: no limit). */
  onProgress?: (m: TrainMetrics, totalSteps: number, secondsLeft: number | null) => void;
  /** Called with a one-line message on notable events (resume, checkpoint, export). */
  onLog?: (message: string) => void;
  /** Aborting it (e.g. on SIGINT) writes a checkpoint after the current step and returns. */
  signal?: AbortSignal;
}

/** What train() returns. */
export interface TrainResult {
  /** Steps completed in total (equal to config.steps unless interrupted). */
  step: number;
  interrupted: boolean;
  /** The last checkpoint written. */
  checkpoint: string;
  /** RUN_DIR/model when the run finished, else null. */
  modelDir: string | null;
  /** Mean images/s of this session's steps. */
  imagesPerSecond: number;
  /** True when the run ended early at its time limit (the model is exported as at the end). */
  timeLimited: boolean;
}

/** The options train() accepts: a partial config (with data and out) plus resume. */
export type TrainOptions = Partial<TrainConfig> & { data: string; out: string; resume?: boolean; dataset?: Dataset };

/** Finds configs/unet_reference.json above this module (works from src/ and dist/src/). */
export function referenceUNetConfigPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'configs', 'unet_reference.json');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new RunFolderError('configs/unet_reference.json (the reference U-Net) was not found next to the package; pass a U-Net config');
}

/** The U-Net config of a run: its own, else the reference one. */
/** The fields in which two U-Net config.json objects differ once both are read as configs ('unet.<key> (saved .., given ..)'). */
function unetConfigDifferences(saved: object, given: object): string[] {
  const a = configToJSON(configFromJSON(saved));
  const b = configToJSON(configFromJSON(given));
  return Object.keys({ ...a, ...b })
    .filter((k) => !k.startsWith('_') && JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map((k) => `unet.${k} (saved ${JSON.stringify(a[k])}, given ${JSON.stringify(b[k])})`);
}

function unetConfigOf(cfg: TrainConfig): UNet2DConfig {
  const json = cfg.unet ?? (JSON.parse(readFileSync(referenceUNetConfigPath(), 'utf8')) as Record<string, unknown>);
  return configFromJSON(json);
}

/** The options that may change on resume (they do not change the math of the steps taken). */
const RESUME_MUTABLE = new Set(['steps', 'saveEvery', 'keep', 'threads', 'timeLimit', 'sampleEvery', 'out', 'dataset', 'resume']);

/** Global L2 norm of all gradients (float64 accumulation). */
function globalGradNorm(params: readonly Tensor[]): number {
  return gradNorm(params.flatMap((p) => (p.grad === null ? [] : [p.grad])));
}

/** Scales every gradient by `c` in place (torch.nn.utils.clip_grad_norm_). */
function scaleGrads(params: readonly Tensor[], c: number): void {
  for (const p of params) if (p.grad !== null) scaleInPlace(p.grad, c);
}

/** The bundled datasets (whose U-Net defaults to the reference one). */
function isBundled(data: string): boolean {
  return data === 'fashion-mnist' || data === 'mnist';
}

/** A --config with flags that would choose the U-Net too: refused by name rather than one silently winning. */
function checkGivenConfig(cfg: TrainConfig, u: UNet2DConfig): void {
  if (cfg.unet === null) return;
  if (cfg.preset !== null) throw new ArgumentError(`train: --preset ${cfg.preset} and --config both choose the U-Net; pass one of them`);
  const s = u.sampleSize;
  if (cfg.imageSize !== null && s !== null && (typeof s === 'number' ? s !== cfg.imageSize : s[0] !== cfg.imageSize || s[1] !== cfg.imageSize)) {
    throw new ArgumentError(`train: --image-size ${cfg.imageSize} differs from the --config's sample_size ${JSON.stringify(s)}; drop --image-size (the config sets the size) or change the config`);
  }
  if (cfg.unconditional && u.numClassEmbeds !== null) {
    throw new ArgumentError(`train: --unconditional with a class-conditional --config (num_class_embeds ${u.numClassEmbeds}); set num_class_embeds to null in the config, or drop --unconditional`);
  }
}

/** The log line of the data a new run trains on. */
function describeData(ds: Dataset, unconditional: boolean): string {
  const classes =
    ds.numClasses === null
      ? 'no classes (unconditional)'
      : `${ds.numClasses} classes (${ds.classNames.slice(0, 6).join(', ')}${ds.numClasses > 6 ? ', ...' : ''})${unconditional ? ', ignored: --unconditional' : ''}`;
  return `data ${ds.name}: ${ds.length} images, ${ds.imageSize}x${ds.imageSize}x${ds.channels}, ${classes}`;
}

/**
 * Checks that dataset and model fit: image size, channels, and classes (the null class for
 * guidance is index num_class_embeds - 1, so num_class_embeds must exceed the class count).
 */
function checkDataFitsModel(ds: Dataset, u: UNet2DConfig, channels: { in: number; out: number }): boolean {
  const size = u.sampleSize === null ? null : typeof u.sampleSize === 'number' ? [u.sampleSize, u.sampleSize] : u.sampleSize;
  if (size !== null && (size[0] !== ds.imageSize || size[1] !== ds.imageSize)) {
    throw new ArgumentError(`train: the data '${ds.name}' has ${ds.imageSize}x${ds.imageSize} images but the U-Net's sample_size is ${JSON.stringify(u.sampleSize)}`);
  }
  if (channels.in !== u.inChannels || channels.out !== u.outChannels) {
    throw new ArgumentError(
      `train: the data '${ds.name}' has ${ds.channels} channel(s), so this objective needs a U-Net with in_channels ${channels.in} and out_channels ${channels.out}; found ${u.inChannels} and ${u.outChannels}`,
    );
  }
  if (u.numClassEmbeds === null || u.classEmbedType !== null) return false;
  if (ds.numClasses === null) {
    throw new ArgumentError(`train: the U-Net is class-conditional (num_class_embeds ${u.numClassEmbeds}) but '${ds.name}' has no labels; use a config with num_class_embeds null`);
  }
  if (u.numClassEmbeds < ds.numClasses + 1) {
    throw new ArgumentError(
      `train: '${ds.name}' has ${ds.numClasses} classes, so the U-Net needs num_class_embeds >= ${ds.numClasses + 1} (the last index is the null class for guidance), found ${u.numClassEmbeds}`,
    );
  }
  return true;
}

/**
 * Runs `fn`, which applies a checkpoint's saved state; any failure (a damaged or hand-edited
 * trainer_state.json, weights that do not fit its config) is reported naming the checkpoint and
 * the way on, not as a bare TypeError or a state-dict message without a file.
 */
function fromCheckpoint<T>(ckptDir: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DiskFullError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    throw new RunFolderError(
      `${ckptDir}: this checkpoint cannot be resumed (${message}); its trainer_state.json or weights are damaged or were edited. Move the folder away to resume from the checkpoint before it, or start a new run with another --out`,
    );
  }
}

/**
 * Trains a UNet2DModel by DDPM on `options.data`, writing the run folder `options.out`.
 * With `resume: true` it continues the run in `out` from its latest checkpoint, exactly
 * (only steps, saveEvery, keep and threads may change).
 * @example
 * const r = await train({ data: 'fashion-mnist', out: 'runs/fm', steps: 3000 }, { onProgress: (m) => console.log(m.loss) });
 */
export async function train(options: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  if (options === null || typeof options !== 'object') throw new ArgumentError(`train: options must be an object, found ${options === null ? 'null' : typeof options}`);
  const { resume = false, dataset: givenDataset, ...rest } = options;
  const log = hooks.onLog ?? (() => {});
  const runDir = options.out;

  // 1. The config: fresh from the options, or the run's own (with the few allowed overrides).
  let cfg: TrainConfig;
  let state: TrainerState | null = null;
  let ckptDir: string | null = null;
  if (resume) {
    if (typeof runDir !== 'string' || !existsSync(join(runDir, TRAIN_CONFIG_NAME))) {
      throw new RunFolderError(`train: cannot resume: ${String(runDir)} has no ${TRAIN_CONFIG_NAME} (not a run folder)`);
    }
    // A writer killed in this folder may have left a checkpoint under a temporary name: put it back first.
    const recovered = recoverRunFolder(runDir);
    for (const r of recovered.restored) log(`recovered ${r}`);
    const latest = latestCheckpoint(runDir);
    let saved: TrainConfig;
    if (latest === null) {
      // A run that stopped before its first checkpoint (killed, a NaN loss, a full disk) has nothing
      // to continue: it starts again from step 0 with its saved settings.
      const path = join(runDir, TRAIN_CONFIG_NAME);
      saved = trainConfigFromJSON(readJSONFile(path), path);
    } else {
      ckptDir = latest.dir;
      state = readTrainerState(ckptDir);
      saved = trainConfigFromJSON(state.config, join(ckptDir, 'trainer_state.json'));
    }
    // data: '' (not given) or an in-memory dataset means "the run's own data".
    // The U-Net config is compared as configs (the saved one carries _class_name and
    // _diffusers_version, and every default spelled out), and only its differing fields are named.
    const differences = (k: string, v: unknown): string[] => {
      const was = saved[k as keyof TrainConfig];
      if (k === 'unet' && v !== null && was !== null && typeof v === 'object' && typeof was === 'object') return unetConfigDifferences(was, v);
      return JSON.stringify(v) === JSON.stringify(was) ? [] : [`${k} (saved ${JSON.stringify(was)}, given ${JSON.stringify(v)})`];
    };
    const changed = Object.entries(rest)
      .filter(([k, v]) => v !== undefined && !RESUME_MUTABLE.has(k) && !(k === 'data' && (v === '' || givenDataset !== undefined)))
      .flatMap(([k, v]) => differences(k, v));
    if (changed.length > 0) {
      throw new ArgumentError(
        `train: --resume continues the run with its saved settings; these differ: ${changed.join(', ')}. Only steps, save-every, keep, threads, time-limit and sample-every may change`,
      );
    }
    const over: Partial<TrainConfig> = {};
    for (const k of ['steps', 'saveEvery', 'keep', 'threads', 'timeLimit', 'sampleEvery'] as const) if (rest[k] !== undefined) Object.assign(over, { [k]: rest[k] });
    cfg = resolveTrainConfig({ ...saved, ...over, out: runDir, data: saved.data });
    if (state !== null && cfg.steps < state.step) throw new ArgumentError(`train: --steps ${cfg.steps} is below the checkpoint's step ${state.step}`);
  } else {
    cfg = resolveTrainConfig(rest);
    const flipWarning = checkFlip(cfg);
    if (flipWarning !== null) log(`warning: ${flipWarning}`);
    if (existsSync(join(cfg.out, TRAIN_CONFIG_NAME))) {
      throw new ArgumentError(`train: ${cfg.out} already holds a run (${TRAIN_CONFIG_NAME}); pass --resume to continue it, or choose another --out`);
    }
  }
  if (cfg.threads !== null) setNumThreads(cfg.threads);

  // 2. Model, data and schedule, checked against each other before any work.
  const objective = objectiveFor(cfg);
  // The U-Net: --config (or the run's saved one), the reference U-Net for a bundled dataset, else a
  // preset built from the data once it is read (size, channels, classes).
  const fixedConfig = cfg.unet !== null || (isBundled(cfg.data) && cfg.preset === null && !cfg.unconditional);
  let unetConfig: UNet2DConfig | null = !fixedConfig ? null : ckptDir === null ? unetConfigOf(cfg) : fromCheckpoint(ckptDir, () => unetConfigOf(cfg));
  if (unetConfig !== null && ckptDir === null) checkGivenConfig(cfg, unetConfig);
  // Memory first: the parameters x 5 (weights, gradients, AdamW moments, EMA) and a batch's
  // activations must fit the budget before the data or the model is allocated.
  const checkTrainingMemory = (u: UNet2DConfig, h: number, w: number): void =>
    checkMemoryBudget(unetMemoryNeed(`train: the U-Net with batches of ${cfg.batchSize} at ${h}x${w}`, u, { batch: cfg.batchSize, height: h, width: w, mode: 'training' }, 'use a smaller --batch or a smaller U-Net config'));
  const size = unetConfig?.sampleSize ?? null;
  if (unetConfig !== null && size !== null) checkTrainingMemory(unetConfig, ...(typeof size === 'number' ? ([size, size] as const) : size));
  const folderOptions = { onCorrupt: cfg.skipCorrupt ? ('skip' as const) : ('fail' as const), onWarning: log, skipHint: '--skip-corrupt (skipCorrupt: true)' };
  const imageSize = typeof size === 'number' ? size : (cfg.imageSize ?? 'auto');
  const dataset = givenDataset ?? (await loadDataset(cfg.data, { ...folderOptions, imageSize }));
  if (unetConfig === null) {
    const channels = objective.modelChannels(dataset.channels);
    const spec: PresetSpec = {
      preset: cfg.preset ?? defaultPreset(dataset.imageSize),
      imageSize: dataset.imageSize,
      inChannels: channels.in,
      outChannels: channels.out,
      numClasses: cfg.unconditional ? null : dataset.numClasses,
    };
    unetConfig = configFromJSON(presetUNetConfig(spec));
    log(describePreset(spec));
  }
  if (size === null) checkTrainingMemory(unetConfig, dataset.imageSize, dataset.imageSize);
  if (ckptDir === null) log(describeData(dataset, cfg.unconditional));
  if (!(dataset.length >= cfg.batchSize)) throw new DataError(`train: '${dataset.name}' has ${dataset.length} images, fewer than one batch of ${cfg.batchSize}`);
  const conditional = checkDataFitsModel(dataset, unetConfig, objective.modelChannels(dataset.channels));
  const nullClass = conditional ? unetConfig.numClassEmbeds! - 1 : -1;
  const schedulerConfig = objective.schedulerConfig();
  const sampling = trainedSamplingDefaults(cfg, conditional);
  if (cfg.sampleEvery > 0 && sampling === null) {
    throw new ArgumentError(`train: --sample-every draws DDPM samples; this run (${cfg.sde !== null ? `--sde ${cfg.sde}` : `--task ${cfg.task}`}) samples through its own command: drop --sample-every and sample a checkpoint (diffuse ${cfg.sde !== null ? 'sample-sde' : 'upscale'} --model ${runDir})`);
  }
  // What the exported folder carries besides the weights: the objective's files, the class names, the sampling defaults.
  const pipelineFiles = (): Record<string, unknown> => ({
    ...(objective.pipelineFiles?.() ?? {}),
    ...(conditional && dataset.classNames.length > 0 ? { [CLASS_NAMES_NAME]: { class_names: [...dataset.classNames] } } : {}),
    ...(sampling === null ? {} : { [SAMPLING_CONFIG_NAME]: samplingConfigJson(sampling) }),
  });

  const gen = new Generator(cfg.seed);
  const dropoutGen = new Generator(cfg.seed + 1);
  // Initial weights from their own seed so the data/noise stream does not depend on the model size.
  const model = new UNet2DModel(unetConfig, { gen: new Generator(cfg.seed + 2), dropoutGenerator: dropoutGen });
  const names = model.namedParameters().map(([n]) => n);
  let params = model.parameters();
  const opt = new AdamW(params, { lr: learningRate(cfg, 0), weightDecay: cfg.weightDecay });
  const ema = new EMA(params, cfg.emaDecay);
  let step = 0;
  let elapsedBefore = 0;
  let loaderState: LoaderState | null = null;

  if (state !== null && ckptDir !== null) {
    // 3. Resume: weights, EMA, optimizer, generators and loader position from the checkpoint.
    const dir = ckptDir;
    const st = state;
    fromCheckpoint(dir, () => {
      model.loadStateDict(readDiffusersWeights(join(dir, 'unet')), { strict: true });
      params = model.parameters();
      const emaWeights = readDiffusersWeights(join(dir, 'unet_ema'));
      const shadow = names.map((n) => {
        const t = emaWeights.get(n);
        if (t === undefined) throw new RunFolderError(`${dir}/unet_ema: missing '${n}'`);
        return tensor(t.data, t.shape);
      });
      ema.setState({ shadow, decay: st.emaDecay, numUpdates: st.emaNumUpdates });
      opt.setState(readOptimizerState(dir, model, st.optimizer));
      gen.setState(st.generator);
      dropoutGen.setState(st.dropoutGenerator);
      step = st.step;
      elapsedBefore = st.elapsed;
      loaderState = st.loader;
      if (loaderState !== null) checkLoaderState(loaderState, dataset.length, true);
      if (objective.setState !== undefined) objective.setState(st.objective ?? null);
    });
    truncateMetrics(join(runDir, METRICS_NAME), step);
    log(`resumed ${runDir} at step ${step} from ${ckptDir}`);
  } else {
    if (!existsSync(cfg.out)) makeDir(cfg.out);
    writeJSONAtomic(join(cfg.out, TRAIN_CONFIG_NAME), trainConfigToJSON({ ...cfg, unet: configToJSON(unetConfig) }));
    if (resume) {
      truncateMetrics(join(runDir, METRICS_NAME), 0); // the lines of the lost steps
      log(`${runDir} has no checkpoint yet: starting the run again from step 0 with its saved settings`);
    }
  }
  // The saved config carries the resolved U-Net config, so a resume never needs the original file.
  const savedConfig = trainConfigToJSON({ ...cfg, unet: configToJSON(unetConfig) });
  model.train();

  const trainerState = (): TrainerState => {
    const o = opt.getState();
    return {
      step,
      generator: gen.getState(),
      dropoutGenerator: dropoutGen.getState(),
      loader: loaderState,
      emaNumUpdates: ema.numUpdates,
      emaDecay: ema.decay,
      optimizer: { step: o.step, lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay },
      elapsed: elapsedBefore + sessionSeconds(),
      config: savedConfig,
      ...(objective.getState !== undefined ? { objective: objective.getState() } : {}),
    };
  };
  let trainSeconds = 0;
  const sessionSeconds = (): number => trainSeconds;
  let lastCheckpoint: string | null = ckptDir;
  // The step of lastCheckpoint: a step is saved once (re-saving it, e.g. on Ctrl-C right after a
  // periodic save, would replace a complete checkpoint that latest.json names).
  let lastCheckpointStep = state?.step ?? -1;
  const checkpoint = (): string => {
    const dir = saveCheckpoint(runDir, { model, ema, optimizer: opt, schedulerConfig, state: trainerState() }, cfg.keep);
    lastCheckpoint = dir;
    lastCheckpointStep = step;
    log(`checkpoint ${dir}`);
    return dir;
  };

  // 4. The loop.
  const stepsAtStart = step;
  const loader = batches(dataset, { batchSize: cfg.batchSize, generator: gen, flip: cfg.flip, ...(loaderState !== null ? { resume: loaderState } : {}) });
  const metricsPath = join(runDir, METRICS_NAME);
  const grids =
    cfg.sampleEvery > 0 && sampling !== null
      ? new SampleGridWriter(runDir, unetConfig, { schedulerConfig, scheduler: sampling.scheduler!, steps: sampling.numInferenceSteps!, guidanceScale: sampling.guidanceScale, numClasses: conditional ? dataset.numClasses : null })
      : null;
  let interrupted = false;
  let timeLimited = false;
  let lastStepSeconds = 0;
  while (step < cfg.steps) {
    if (hooks.signal?.aborted === true) {
      interrupted = true;
      break;
    }
    // The time budget: stop before a step that would end past it.
    if (cfg.timeLimit !== null && elapsedBefore + trainSeconds + lastStepSeconds > cfg.timeLimit * 60) {
      timeLimited = true;
      log(`time limit of ${cfg.timeLimit} min reached at step ${step}`);
      break;
    }
    const ts = performance.now();
    const next = loader.next();
    if (next.done === true) throw new DataError(`train: the data loader of '${dataset.name}' ended unexpectedly`);
    const batch = next.value;
    const x0 = batch.x;
    const n = x0.shape[0]!;
    const draw = objective.draw(x0, gen);
    let labels: Int32Array | null = null;
    if (conditional) {
      // Label dropout to the null class (classifier-free guidance, Ho & Salimans 2022).
      const drop = gen.uniform([n]).toArray();
      labels = Int32Array.from(batch.labels!, (l, i) => (drop[i]! < cfg.classDropout ? nullClass : l));
    }
    const lr = learningRate(cfg, step);
    opt.lr = lr;
    const loss = objective.loss(model, draw, labels);
    const lossValue = loss.item();
    const stopOnBad = (what: string): never => {
      const where = lastCheckpoint === null ? 'no checkpoint was written yet' : `the last good checkpoint is ${lastCheckpoint}`;
      throw new TrainingError(`train: ${what} at step ${step + 1}; stopping (${where}). Lower --lr or check the data`);
    };
    if (!Number.isFinite(lossValue)) stopOnBad(`the loss is ${lossValue}`);
    loss.backward();
    const gradNorm = globalGradNorm(params);
    if (!Number.isFinite(gradNorm)) stopOnBad(`the gradient norm is ${gradNorm}`);
    if (cfg.gradClip > 0) {
      const c = cfg.gradClip / (gradNorm + 1e-6);
      if (c < 1) scaleGrads(params, c);
    }
    opt.step();
    opt.zeroGrad();
    step++;
    ema.update(params, emaDecayAt(cfg.emaDecay, ema.numUpdates + 1));
    loaderState = batch.state;
    const dt = (performance.now() - ts) / 1000;
    trainSeconds += dt;
    lastStepSeconds = dt;
    const m: TrainMetrics = { step, loss: lossValue, lr, grad_norm: gradNorm, images_per_s: n / dt, elapsed: elapsedBefore + trainSeconds };
    try {
      appendText(metricsPath, `${JSON.stringify(m)}\n`);
    } catch (e) {
      if (!(e instanceof DiskFullError)) throw e;
      const where = lastCheckpoint === null ? 'no checkpoint was written yet' : `the last complete checkpoint, ${lastCheckpoint}, is intact`;
      throw new DiskFullError(`train: the disk is full: appending step ${step} to ${e.path} failed; ${where}. Free space on that disk, then continue with: diffuse train --out ${runDir} --resume`, e.path);
    }
    hooks.onProgress?.(m, cfg.steps, cfg.timeLimit === null ? null : Math.max(0, cfg.timeLimit * 60 - m.elapsed));
    if (step % cfg.saveEvery === 0 && step < cfg.steps) checkpoint();
    if (grids !== null && step % cfg.sampleEvery === 0) log(`samples ${await grids.write(step, ema)}`);
    // Let signals (Ctrl-C) and other events in between steps.
    await new Promise<void>((r) => setImmediate(r));
  }

  // 5. The end (or an interruption): a checkpoint, and the exported model when finished.
  const last = lastCheckpoint !== null && step === lastCheckpointStep ? lastCheckpoint : checkpoint();
  let modelDir: string | null = null;
  if (!interrupted) {
    try {
      modelDir = exportPipeline(runDir, model, ema, schedulerConfig, pipelineFiles());
    } catch (e) {
      if (!(e instanceof DiskFullError)) throw e;
      throw new DiskFullError(
        `train: the disk is full: exporting the model failed at ${e.path}; the checkpoint ${last} is complete and no partial files were left. Free space on that disk, then run: diffuse train --out ${runDir} --resume (it exports the model)`,
        e.path,
      );
    }
    log(`model exported to ${modelDir}`);
  }
  const sessionSteps = step - stepsAtStart;
  return { step, interrupted, timeLimited, checkpoint: last, modelDir, imagesPerSecond: sessionSteps > 0 ? (sessionSteps * cfg.batchSize) / Math.max(trainSeconds, 1e-9) : 0 };
}
