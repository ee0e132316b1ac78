/**
 * The training configuration: every option of a run with its default, validation with clear
 * errors, and a JSON round trip (RUN_DIR/train_config.json and each checkpoint's
 * trainer_state.json hold it, so `--resume` continues with exactly the same settings).
 */
import { ArgumentError } from '../tensor/errors.js';
import { BETA_SCHEDULES, type BetaSchedule } from '../diffusion/schedules.js';
import { PREDICTION_TYPES, type PredictionType } from '../diffusion/forward.js';
import { SDE_NAMES, type SdeName } from '../sde/sde.js';
import { checkLearnedVarianceConfig } from './objectives/learned_variance.js';

/** Learning-rate schedules after the linear warm-up. */
export type LrSchedule = 'constant' | 'cosine';
export const LR_SCHEDULES: readonly LrSchedule[] = ['constant', 'cosine'];

/** What the model learns: to generate images, or to super-resolve them (SR3, train/objectives/superres.ts). */
export type TrainTask = 'generate' | 'superres';
export const TRAIN_TASKS: readonly TrainTask[] = ['generate', 'superres'];

/** The reverse-process variance (Nichol & Dhariwal 2021): fixed, or learned_range (the U-Net outputs 2C channels). */
export type TrainVarianceType = 'fixed_small' | 'fixed_large' | 'learned_range';
export const TRAIN_VARIANCE_TYPES: readonly TrainVarianceType[] = ['fixed_small', 'fixed_large', 'learned_range'];
/** The loss: DDPM's L_simple, the hybrid L_simple + vlbWeight L_vlb, or L_vlb alone (train/objectives/learned_variance.ts). */
export type TrainLoss = 'simple' | 'hybrid' | 'vlb';
export const TRAIN_LOSSES: readonly TrainLoss[] = ['simple', 'hybrid', 'vlb'];
/** How timesteps are drawn: uniformly, or by importance p_t ∝ sqrt(E[L_t^2]) (loss 'vlb' only). */
export type TimestepSamplerType = 'uniform' | 'importance';
export const TIMESTEP_SAMPLERS: readonly TimestepSamplerType[] = ['uniform', 'importance'];

/** Everything that defines a training run. */
export interface TrainConfig {
  /** 'fashion-mnist', 'mnist' or an image-folder path. */
  data: string;
  /** The run folder (checkpoints, metrics, exported model). */
  out: string;
  /** The U-Net's diffusers config.json contents (snake_case), or null for the reference U-Net. */
  unet: Record<string, unknown> | null;
  /** Optimizer steps in total. */
  steps: number;
  /** Images per step. */
  batchSize: number;
  /** Peak learning rate (AdamW). */
  lr: number;
  /** Linear warm-up steps: step s (0-based) uses lr * min(1, (s + 1) / warmup). */
  warmup: number;
  /** After warm-up: constant, or cosine decay to 0 at `steps`. */
  lrSchedule: LrSchedule;
  /** AdamW decoupled weight decay. */
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = no clipping). */
  gradClip: number;
  /** Maximum EMA decay (diffusers EMAModel: decay_t = min(this, (1 + t) / (10 + t))). */
  emaDecay: number;
  /** Probability of replacing a label by the null class (classifier-free guidance). */
  classDropout: number;
  predictionType: PredictionType;
  betaSchedule: BetaSchedule;
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  /** Min-SNR-gamma loss weighting (Hang et al. 2023), or null for the plain MSE. */
  minSnrGamma: number | null;
  /** Random horizontal flips of the training images. */
  flip: boolean;
  /** Seeds the data order, timesteps, noise and label dropout (dropout uses seed + 1). */
  seed: number;
  /** Write a checkpoint every this many steps (and always at the end). */
  saveEvery: number;
  /** Keep the last this many checkpoints. */
  keep: number;
  /** Native threads, or null for all cores (or DIFFUSE_THREADS). */
  threads: number | null;
  /** Stop (checkpoint and export, as at the end) once training time over all sessions would exceed this many minutes; null = no limit. */
  timeLimit: number | null;
  /** 'generate' (DDPM) or 'superres' (SR3: the U-Net also sees the bicubic-upsampled low-resolution image). */
  task: TrainTask;
  /** Super-resolution factor (task 'superres'): low-resolution images are the training images area-downsampled by it. */
  scale: number;
  /** The reverse variance: fixed_small (DDPM), fixed_large, or learned_range (out_channels = 2 x the data's). */
  varianceType: TrainVarianceType;
  /** 'simple' (DDPM), 'hybrid' (L_simple + vlbWeight L_vlb) or 'vlb'. */
  loss: TrainLoss;
  /** lambda of the hybrid loss (Nichol & Dhariwal: 0.001). */
  vlbWeight: number;
  /** 'uniform', or 'importance' for loss 'vlb' (Nichol & Dhariwal eq. 17). */
  timestepSampler: TimestepSamplerType;
  /** Continuous-time score SDE (src/sde; VP and sub-VP take beta_min/max = N betaStart/betaEnd), or null for discrete DDPM. */
  sde: SdeName | null;
  /** SDE training: weight the score-matching loss by g(t)^2 (likelihood weighting) instead of std(t)^2. */
  likelihoodWeighting: boolean;
  /** VE SDE noise range (score_sde: sigma_min 0.01; sigma_max about the largest distance between training images). */
  sigmaMin: number;
  sigmaMax: number;
}

/**
 * The defaults: `diffuse train --data fashion-mnist --out runs/fm` is the run a user should start.
 * The budget is the issue's: recognisable garments within 2 hours on 2 cores. The reference
 * U-Net (1.6M parameters) trains at about 69 images/s there (batch 128: ~1.9 s/step), so 3000
 * steps = 384k images = 6.4 epochs = about 1h35. diffusers' train_unconditional (lr 1e-4, warm-up
 * 500, EMA 0.9999) is tuned for runs of tens of thousands of steps; in 3000 steps that rate would
 * leave the model undertrained and that EMA would still mostly hold early weights. So: lr 5e-4 (a
 * small model with global-norm clipping at 1 tolerates it), a short warm-up of 200 steps, and EMA
 * max decay 0.999 (a horizon of ~1000 steps, a third of the run). Class dropout 0.1 (the
 * classifier-free guidance paper's p_uncond), the linear DDPM schedule with T = 1000, epsilon
 * prediction, no flips (Fashion-MNIST garments are centred and upright, flips add little).
 */
export const TRAIN_DEFAULTS: Readonly<Omit<TrainConfig, 'data' | 'out'>> = Object.freeze({
  unet: null,
  steps: 3000,
  batchSize: 128,
  lr: 5e-4,
  warmup: 200,
  lrSchedule: 'constant',
  weightDecay: 0.01,
  gradClip: 1.0,
  emaDecay: 0.999,
  classDropout: 0.1,
  predictionType: 'epsilon',
  betaSchedule: 'linear',
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  minSnrGamma: null,
  flip: false,
  seed: 0,
  saveEvery: 500,
  keep: 3,
  threads: null,
  timeLimit: null,
  task: 'generate',
  scale: 2,
  varianceType: 'fixed_small',
  loss: 'simple',
  vlbWeight: 0.001,
  timestepSampler: 'uniform',
  sde: null,
  likelihoodWeighting: false,
  sigmaMin: 0.01,
  sigmaMax: 50,
});

const KEYS = ['data', 'out', ...(Object.keys(TRAIN_DEFAULTS) as (keyof typeof TRAIN_DEFAULTS)[])] as const;

function fail(op: string, name: string, expected: string, found: unknown): never {
  const f = typeof found === 'string' ? JSON.stringify(found) : typeof found === 'number' || typeof found === 'boolean' ? String(found) : found === null ? 'null' : typeof found;
  throw new ArgumentError(`${op}: '${name}' must be ${expected}, found ${f}`);
}

function int(op: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(op, name, `an integer >= ${min}`, v);
  return v;
}

function num(op: string, name: string, v: unknown, lo: number, hi: number, loOpen = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (loOpen ? !(v > lo) : !(v >= lo)) || !(v <= hi)) {
    fail(op, name, `a number in ${loOpen ? '(' : '['}${lo}, ${hi === Infinity ? 'inf)' : `${hi}]`}`, v);
  }
  return v;
}

function oneOf<T extends string>(op: string, name: string, v: unknown, options: readonly T[]): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) fail(op, name, `one of ${options.join(', ')}`, v);
  return v as T;
}

/**
 * Fills defaults into `partial` and validates every field; throws ArgumentError naming the
 * field, what was expected and what was found. Unknown keys are errors (typos must not be ignored).
 * @example const cfg = resolveTrainConfig({ data: 'fashion-mnist', out: 'runs/fm', steps: 100 });
 */
export function resolveTrainConfig(partial: Partial<TrainConfig> & { data: string; out: string }, op = 'train'): TrainConfig {
  if (partial === null || typeof partial !== 'object') throw new ArgumentError(`${op}: options must be an object, found ${partial === null ? 'null' : typeof partial}`);
  const unknown = Object.keys(partial).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new ArgumentError(`${op}: unknown option(s) ${unknown.join(', ')}; known: ${KEYS.join(', ')}`);
  // Explicit undefined means "default" (exactOptionalPropertyTypes callers may still pass it).
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const c = { ...TRAIN_DEFAULTS, ...defined } as TrainConfig;
  if (typeof c.data !== 'string' || c.data === '') fail(op, 'data', "'fashion-mnist', 'mnist' or a folder path", c.data);
  if (typeof c.out !== 'string' || c.out === '') fail(op, 'out', 'a run folder path', c.out);
  if (c.unet !== null && (typeof c.unet !== 'object' || Array.isArray(c.unet))) fail(op, 'unet', 'a U-Net config object or null', c.unet);
  int(op, 'steps', c.steps, 1);
  int(op, 'batchSize', c.batchSize, 1);
  num(op, 'lr', c.lr, 0, 1, true);
  int(op, 'warmup', c.warmup, 0);
  oneOf(op, 'lrSchedule', c.lrSchedule, LR_SCHEDULES);
  num(op, 'weightDecay', c.weightDecay, 0, Infinity);
  num(op, 'gradClip', c.gradClip, 0, Infinity);
  num(op, 'emaDecay', c.emaDecay, 0, 1);
  num(op, 'classDropout', c.classDropout, 0, 1);
  if (c.classDropout === 1) fail(op, 'classDropout', 'a probability below 1 (1 would never show the model a label)', 1);
  oneOf(op, 'predictionType', c.predictionType, PREDICTION_TYPES);
  oneOf(op, 'betaSchedule', c.betaSchedule, BETA_SCHEDULES);
  int(op, 'numTrainTimesteps', c.numTrainTimesteps, 2);
  num(op, 'betaStart', c.betaStart, 0, 1, true);
  num(op, 'betaEnd', c.betaEnd, 0, 1, true);
  if (c.minSnrGamma !== null) num(op, 'minSnrGamma', c.minSnrGamma, 0, Infinity, true);
  if (typeof c.flip !== 'boolean') fail(op, 'flip', 'true or false', c.flip);
  if (typeof c.seed !== 'number' || !Number.isSafeInteger(c.seed) || c.seed < 0) fail(op, 'seed', 'a non-negative safe integer', c.seed);
  int(op, 'saveEvery', c.saveEvery, 1);
  int(op, 'keep', c.keep, 1);
  if (c.threads !== null) int(op, 'threads', c.threads, 1);
  if (c.timeLimit !== null) num(op, 'timeLimit', c.timeLimit, 0, Infinity, true);
  if (c.sde !== null) oneOf(op, 'sde', c.sde, SDE_NAMES);
  if (typeof c.likelihoodWeighting !== 'boolean') fail(op, 'likelihoodWeighting', 'true or false', c.likelihoodWeighting);
  if (c.likelihoodWeighting && c.sde === null) fail(op, 'likelihoodWeighting', "false without an SDE (likelihood weighting is for --sde training)", true);
  num(op, 'sigmaMin', c.sigmaMin, 0, Infinity, true);
  num(op, 'sigmaMax', c.sigmaMax, c.sigmaMin, Infinity, true);
  oneOf(op, 'task', c.task, TRAIN_TASKS);
  int(op, 'scale', c.scale, 2);
  oneOf(op, 'varianceType', c.varianceType, TRAIN_VARIANCE_TYPES);
  oneOf(op, 'loss', c.loss, TRAIN_LOSSES);
  num(op, 'vlbWeight', c.vlbWeight, 0, Infinity, true);
  oneOf(op, 'timestepSampler', c.timestepSampler, TIMESTEP_SAMPLERS);
  if ((c.varianceType !== 'fixed_small' || c.loss !== 'simple' || c.timestepSampler !== 'uniform') && c.task !== 'generate') {
    fail(op, 'task', "'generate' when varianceType, loss or timestepSampler are not the defaults", c.task);
  }
  checkLearnedVarianceConfig(c, op);
  if (c.sde !== null && (c.task !== 'generate' || c.varianceType !== 'fixed_small' || c.loss !== 'simple' || c.predictionType !== 'epsilon' || c.minSnrGamma !== null)) {
    fail(op, 'sde', "null when task, varianceType, loss, predictionType or minSnrGamma are not the defaults (SDE training is its own score-matching objective)", c.sde);
  }
  return c;
}

/** The config as a JSON-safe object (all fields, in a fixed order). */
export function trainConfigToJSON(c: TrainConfig): Record<string, unknown> {
  return Object.fromEntries(KEYS.map((k) => [k, c[k]]));
}

/** Parses a config written by trainConfigToJSON (validated; missing fields take defaults). */
export function trainConfigFromJSON(json: unknown, source = 'train_config.json'): TrainConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ArgumentError(`${source}: expected a JSON object`);
  try {
    return resolveTrainConfig(json as TrainConfig, source);
  } catch (e) {
    if (e instanceof ArgumentError && !e.message.startsWith(source)) throw new ArgumentError(`${source}: ${e.message}`);
    throw e;
  }
}

/** The learning rate at 0-based step `step`: linear warm-up, then constant or cosine to 0. */
export function learningRate(c: Pick<TrainConfig, 'lr' | 'warmup' | 'lrSchedule' | 'steps'>, step: number): number {
  if (step < c.warmup) return (c.lr * (step + 1)) / c.warmup;
  if (c.lrSchedule === 'constant') return c.lr;
  const span = Math.max(1, c.steps - c.warmup);
  const progress = Math.min(1, (step - c.warmup) / span);
  return c.lr * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/**
 * The EMA decay for the update after optimizer step `optimizationStep` (1-based), as diffusers'
 * EMAModel with its defaults (use_ema_warmup False, min_decay 0, update_after_step 0):
 * s = optimizationStep - 1; decay = 0 when s <= 0 (the first update copies the weights), else
 * min(maxDecay, (1 + s) / (10 + s)).
 */
export function emaDecayAt(maxDecay: number, optimizationStep: number): number {
  const s = optimizationStep - 1;
  if (s <= 0) return 0;
  return Math.min(maxDecay, (1 + s) / (10 + s));
}
