/**
 * Training the noise-conditional classifier of classifier guidance (Dhariwal & Nichol 2021,
 * sec. 4.1: "we train a classifier p_phi(y | x_t, t) on noisy images x_t"): each step draws a
 * batch (x_0, y), t ~ U{0..T-1} and noise on the diffusion model's own schedule,
 * x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise, and minimises the softmax cross-entropy of
 * NoisyClassifier(x_t, t) against y with AdamW (linear warm-up, global-norm clipping).
 *
 * Run folder: train_config.json, metrics.jsonl (step, loss, accuracy on the batch, lr),
 * checkpoints/step-N/ (classifier/ weights, optimizer.safetensors, trainer_state.json: step,
 * generator, loader position), written atomically, latest.json; at the end model/ (config.json,
 * weights, scheduler_config.json of the schedule it was trained on). `resume` continues exactly.
 */
import { described, intField, nullable, numberField, type Field } from '../schema/field.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import { gradNorm, scaleInPlace } from '../ops/optim.js';
import { ArgumentError } from '../tensor/errors.js';
import { Generator, type GeneratorState } from '../tensor/random.js';
import { setNumThreads } from '../engine_info.js';
import { NoisyClassifier, resolveClassifierConfig, classifierConfigFromJSON, classifierConfigToJSON, type NoisyClassifierConfig } from '../nn/noisy_classifier.js';
import { AdamW } from '../nn/adamw.js';
import { softmaxCrossEntropy } from '../eval/cross_entropy.js';
import { addNoise } from '../diffusion/forward.js';
import { DDPMScheduler } from '../schedulers/ddpm.js';
import { loadDataset, batches, DataError, type Dataset, type LoaderState } from '../data/index.js';
import { readDiffusersWeights, readJSONFile, writeJSONAtomic, writeSchedulerConfig } from '../io/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { writeDirAtomic, commitCheckpoint, recoverRunFolder, truncateMetrics, METRICS_NAME, TRAIN_CONFIG_NAME, OPTIMIZER_NAME } from './checkpoint.js';
import { latestCheckpoint, LATEST_NAME, TRAINER_STATE_NAME, MODEL_DIR, RunFolderError } from '../io/model_folder.js';
import { DiskFullError, appendText, makeDir } from '../io/file_ops.js';

/** Everything that defines a classifier run. */
export interface ClassifierTrainConfig {
  data: string;
  out: string;
  /** The classifier's config (camelCase partial); its sample size and channels come from the data when absent. */
  classifier: Partial<NoisyClassifierConfig>;
  /** The diffusion schedule (a scheduler_config.json object; default diffusers' DDPM: linear, T = 1000). */
  schedulerConfig: Record<string, unknown>;
  steps: number;
  batchSize: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  gradClip: number;
  seed: number;
  saveEvery: number;
  keep: number;
  threads: number | null;
}

/** The run's scalar fields (schema fields: key = the saved config's, flag = diffuse train-classifier's). Defaults: a few minutes on 2 cores for Fashion-MNIST (AdamW 1e-3, batch 64, 1000 steps). */
export const CLASSIFIER_TRAIN_FIELDS = {
  steps: described(intField('steps', 1000, 1), 'Optimizer steps (with --resume: the new total).'),
  batchSize: described(intField('batchSize', 64, 1), 'Images per step.', { flag: 'batch' }),
  lr: described(numberField('lr', 1e-3, 0, 1, true), 'AdamW learning rate, after a linear warm-up.'),
  warmup: described(intField('warmup', 50, 0), 'Linear warm-up steps.'),
  weightDecay: described(numberField('weightDecay', 0.01, 0), 'AdamW decoupled weight decay.', { flag: 'weight-decay' }),
  gradClip: described(numberField('gradClip', 1, 0), 'Clip the global gradient norm to X; 0 = off.', { flag: 'grad-clip' }),
  seed: described(intField('seed', 0, 0), 'Seeds data order, timesteps, noise, initial weights.'),
  saveEvery: described(intField('saveEvery', 250, 1), 'Checkpoint every N steps and at the end.', { flag: 'save-every' }),
  keep: described(intField('keep', 2, 1), 'Keep the last N checkpoints.'),
  threads: described(nullable(intField('threads', 1, 1)), 'native threads of the kernels (the one meaning of --threads in every command).', { defaultText: 'all cores, or DIFFUSE_THREADS' }),
} as const;

/** Defaults (from CLASSIFIER_TRAIN_FIELDS; the classifier's and schedule's configs default to empty: the reference classifier, diffusers' DDPM schedule). */
export const CLASSIFIER_TRAIN_DEFAULTS: Readonly<Omit<ClassifierTrainConfig, 'data' | 'out'>> = Object.freeze({
  classifier: {},
  schedulerConfig: {},
  ...(Object.fromEntries(Object.entries(CLASSIFIER_TRAIN_FIELDS).map(([k, f]) => [k, f.default])) as unknown as Omit<ClassifierTrainConfig, 'data' | 'out' | 'classifier' | 'schedulerConfig'>),
});

/** One line of metrics.jsonl. */
export interface ClassifierMetrics {
  step: number;
  loss: number;
  /** Fraction of the batch classified correctly (at its random t). */
  accuracy: number;
  lr: number;
  images_per_s: number;
}

interface ClassifierState {
  step: number;
  generator: GeneratorState;
  loader: LoaderState | null;
  optimizer: { step: number[]; lr: number; betas: [number, number]; eps: number; weightDecay: number };
  config: Record<string, unknown>;
}

function check(c: ClassifierTrainConfig): void {
  const op = 'train-classifier';
  if (typeof c.data !== 'string' || c.data === '') throw new ArgumentError(`${op}: 'data' must be 'fashion-mnist', 'mnist' or a folder of class subfolders, found ${JSON.stringify(c.data)}`);
  if (typeof c.out !== 'string' || c.out === '') throw new ArgumentError(`${op}: 'out' must be a run folder path, found ${JSON.stringify(c.out)}`);
  for (const [k, f] of Object.entries(CLASSIFIER_TRAIN_FIELDS) as [keyof typeof CLASSIFIER_TRAIN_FIELDS, Field<unknown>][]) {
    if (f.parse(c[k]) === undefined) throw new ArgumentError(`${op}: '${k}' must be ${f.allowed}, found ${String(c[k])}`);
  }
}

/** What trainClassifier returns. */
export interface ClassifierTrainResult {
  step: number;
  interrupted: boolean;
  /** RUN_DIR/model when finished, else null. */
  modelDir: string | null;
}

/**
 * Trains a NoisyClassifier on noisy images of a labelled dataset (see the file header).
 * @example await trainClassifier({ data: 'fashion-mnist', out: 'runs/clf', steps: 1000 });
 */
export async function trainClassifier(
  options: Partial<ClassifierTrainConfig> & { data: string; out: string; resume?: boolean; dataset?: Dataset },
  hooks: { onProgress?: (m: ClassifierMetrics, total: number) => void; onLog?: (msg: string) => void; signal?: AbortSignal } = {},
): Promise<ClassifierTrainResult> {
  const { resume = false, dataset: givenDataset, ...rest } = options;
  const runDir = rest.out;
  let cfg: ClassifierTrainConfig;
  let state: ClassifierState | null = null;
  let ckptDir: string | null = null;
  if (resume) {
    // A writer killed in this folder may have left a checkpoint under a temporary name: put it back first.
    if (typeof runDir === 'string') for (const r of recoverRunFolder(runDir).restored) hooks.onLog?.(`recovered ${r}`);
    const latest = typeof runDir === 'string' ? latestCheckpoint(runDir) : null;
    let saved: ClassifierTrainConfig;
    let savedFrom: string;
    if (latest !== null) {
      ckptDir = latest.dir;
      savedFrom = join(ckptDir, TRAINER_STATE_NAME);
      state = readJSONFile(savedFrom) as ClassifierState;
      saved = state.config as unknown as ClassifierTrainConfig;
    } else {
      // A run stopped before its first checkpoint (killed, a full disk) starts again from step 0
      // with its saved settings, as `diffuse train --resume` does.
      savedFrom = join(String(runDir), TRAIN_CONFIG_NAME);
      if (typeof runDir !== 'string' || !existsSync(savedFrom)) throw new RunFolderError(`train-classifier: cannot resume: ${String(runDir)} has no checkpoint (no ${LATEST_NAME}) and no ${TRAIN_CONFIG_NAME}`);
      saved = readJSONFile(savedFrom) as ClassifierTrainConfig;
    }
    // The saved classifier config is config.json's snake_case form.
    cfg = { ...saved, classifier: classifierConfigFromJSON(saved.classifier, savedFrom), out: runDir as string, ...(rest.steps !== undefined ? { steps: rest.steps } : {}) };
  } else {
    const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    cfg = { ...CLASSIFIER_TRAIN_DEFAULTS, ...defined } as ClassifierTrainConfig;
    if (existsSync(join(cfg.out, TRAIN_CONFIG_NAME))) throw new ArgumentError(`train-classifier: ${cfg.out} already holds a run; pass --resume to continue it, or choose another --out`);
  }
  check(cfg);
  if (cfg.threads !== null) setNumThreads(cfg.threads);

  // Data, classifier and schedule, checked against each other before any work.
  const dataset = givenDataset ?? (await loadDataset(cfg.data, cfg.classifier.sampleSize !== undefined ? { imageSize: cfg.classifier.sampleSize } : {}));
  if (dataset.numClasses === null) throw new DataError(`train-classifier: '${dataset.name}' has no labels; a classifier needs a labelled dataset (DIR/<class>/*.png)`);
  if (dataset.length < cfg.batchSize) throw new DataError(`train-classifier: '${dataset.name}' has ${dataset.length} images, fewer than one batch of ${cfg.batchSize}`);
  const clfConfig = resolveClassifierConfig({ sampleSize: dataset.imageSize, inChannels: dataset.channels, numClasses: dataset.numClasses, ...cfg.classifier });
  if (clfConfig.sampleSize !== dataset.imageSize || clfConfig.inChannels !== dataset.channels || clfConfig.numClasses !== dataset.numClasses) {
    throw new ArgumentError(
      `train-classifier: the classifier config (${clfConfig.sampleSize}x${clfConfig.sampleSize}x${clfConfig.inChannels}, ${clfConfig.numClasses} classes) does not fit '${dataset.name}' (${dataset.imageSize}x${dataset.imageSize}x${dataset.channels}, ${dataset.numClasses} classes)`,
    );
  }
  cfg.classifier = clfConfig;
  const scheduler = new DDPMScheduler(cfg.schedulerConfig);
  const acp = scheduler.alphasCumprod;
  const T = acp.length;

  const gen = new Generator(cfg.seed);
  const model = new NoisyClassifier(clfConfig, { gen: new Generator(cfg.seed + 2) });
  const names = model.namedParameters().map(([n]) => n);
  let params = model.parameters();
  const opt = new AdamW(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
  let step = 0;
  let loaderState: LoaderState | null = null;
  const savedConfig = { ...cfg, classifier: classifierConfigToJSON(clfConfig) } as unknown as Record<string, unknown>;
  if (state !== null && ckptDir !== null) {
    model.loadStateDict(readDiffusersWeights(join(ckptDir, 'classifier')), { strict: true });
    params = model.parameters();
    const file = readSafetensors(join(ckptDir, OPTIMIZER_NAME));
    const get = (k: string): Tensor => {
      const t = file.tensors.get(k);
      if (t === undefined) throw new RunFolderError(`${ckptDir}/${OPTIMIZER_NAME}: missing '${k}'`);
      return tensor(t.data, t.shape);
    };
    opt.setState({ ...state.optimizer, step: [...state.optimizer.step], betas: [...state.optimizer.betas], expAvg: names.map((n) => get(`exp_avg.${n}`)), expAvgSq: names.map((n) => get(`exp_avg_sq.${n}`)) });
    gen.setState(state.generator);
    step = state.step;
    loaderState = state.loader;
    // The lines of steps after the checkpoint are taken again (they were appended twice before).
    truncateMetrics(join(cfg.out, METRICS_NAME), step);
    hooks.onLog?.(`resumed ${runDir} at step ${step}`);
  } else {
    if (!existsSync(cfg.out)) makeDir(cfg.out);
    writeJSONAtomic(join(cfg.out, TRAIN_CONFIG_NAME), savedConfig);
    if (resume) {
      truncateMetrics(join(cfg.out, METRICS_NAME), 0); // the lines of the lost steps
      hooks.onLog?.(`${cfg.out} has no checkpoint yet: starting the run again from step 0 with its saved settings`);
    }
  }
  model.train();

  // A step is saved once (see train()): Ctrl-C right after a periodic save writes nothing new.
  let savedStep = state?.step ?? -1;
  const checkpoint = (): string => {
    const dir = commitCheckpoint(
      cfg.out,
      step,
      (tmp) => {
        model.savePretrained(join(tmp, 'classifier'));
        const o = opt.getState();
        const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
        names.forEach((n, i) => {
          tensors.set(`exp_avg.${n}`, { shape: o.expAvg[i]!.shape, data: o.expAvg[i]!.toArray() });
          tensors.set(`exp_avg_sq.${n}`, { shape: o.expAvgSq[i]!.shape, data: o.expAvgSq[i]!.toArray() });
        });
        writeSafetensors(join(tmp, OPTIMIZER_NAME), tensors, { format: 'diffuse-adamw', layout: 'in-memory (conv weights OHWI)' });
        const s: ClassifierState = { step, generator: gen.getState(), loader: loaderState, optimizer: { step: o.step, lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay }, config: savedConfig };
        // The completion marker, last.
        writeJSONAtomic(join(tmp, TRAINER_STATE_NAME), s);
      },
      cfg.keep,
      'train-classifier',
    );
    savedStep = step;
    hooks.onLog?.(`checkpoint ${dir}`);
    return dir;
  };

  const loader = batches(dataset, { batchSize: cfg.batchSize, generator: gen, ...(loaderState !== null ? { resume: loaderState } : {}) });
  let interrupted = false;
  while (step < cfg.steps) {
    if (hooks.signal?.aborted === true) {
      interrupted = true;
      break;
    }
    const t0 = performance.now();
    const next = loader.next();
    if (next.done === true) throw new DataError(`train-classifier: the data loader of '${dataset.name}' ended unexpectedly`);
    const { x, labels, state: ls } = next.value;
    const n = x.shape[0]!;
    const u = gen.uniform([n]).toArray();
    const timesteps = Float64Array.from(u, (v) => Math.min(T - 1, Math.floor(v * T)));
    const xt = addNoise(acp, x, gen.normal(x.shape), timesteps);
    opt.lr = step < cfg.warmup ? (cfg.lr * (step + 1)) / cfg.warmup : cfg.lr;
    const logits = model.forward(xt, Float32Array.from(timesteps)); // (N, K)
    const loss = softmaxCrossEntropy(logits, labels!);
    const lossValue = loss.item();
    if (!Number.isFinite(lossValue)) throw new ArgumentError(`train-classifier: the loss is ${lossValue} at step ${step + 1}; lower --lr or check the data`);
    loss.backward();
    const norm = gradNorm(params.flatMap((p) => (p.grad === null ? [] : [p.grad])));
    if (cfg.gradClip > 0 && norm > cfg.gradClip) {
      const k = cfg.gradClip / (norm + 1e-6);
      for (const p of params) if (p.grad !== null) scaleInPlace(p.grad, k);
    }
    opt.step();
    opt.zeroGrad();
    step++;
    loaderState = ls;
    const k = logits.shape[1]!;
    let correct = 0;
    const scores = logits.toArray(); // (N, K), for the accuracy on the host
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (scores[i * k + c]! > scores[i * k + best]!) best = c;
      if (best === labels![i]) correct++;
    }
    const m: ClassifierMetrics = { step, loss: lossValue, accuracy: correct / n, lr: opt.lr, images_per_s: n / ((performance.now() - t0) / 1000) };
    try {
      appendText(join(cfg.out, METRICS_NAME), `${JSON.stringify(m)}\n`);
    } catch (e) {
      if (!(e instanceof DiskFullError)) throw e;
      throw new DiskFullError(`train-classifier: the disk is full: appending step ${step} to ${e.path} failed; the last checkpoint is intact. Free space on that disk, then continue with: diffuse train-classifier --out ${cfg.out} --resume`, e.path);
    }
    hooks.onProgress?.(m, cfg.steps);
    if (step % cfg.saveEvery === 0 && step < cfg.steps) checkpoint();
    await new Promise<void>((r) => setImmediate(r));
  }
  if (step !== savedStep) checkpoint();
  let modelDir: string | null = null;
  if (!interrupted) {
    modelDir = join(cfg.out, MODEL_DIR);
    try {
      writeDirAtomic(modelDir, (tmp) => {
        model.savePretrained(tmp);
        writeSchedulerConfig(tmp, scheduler.toConfig());
      });
    } catch (e) {
      if (!(e instanceof DiskFullError)) throw e;
      throw new DiskFullError(
        `train-classifier: the disk is full: exporting the classifier failed at ${e.path}; the last checkpoint is complete and no partial files were left. Free space on that disk, then run: diffuse train-classifier --out ${cfg.out} --resume (it exports the classifier)`,
        e.path,
      );
    }
    hooks.onLog?.(`classifier exported to ${modelDir}`);
  }
  return { step, interrupted, modelDir };
}
