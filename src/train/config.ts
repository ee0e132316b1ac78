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
import { trainingObjectiveOf } from '../diffusion/training_objective.js';
import { boolField, described, enumField, intField, nullable, numberField, type Field } from '../schema/field.js';
import { closestName } from '../schema/did_you_mean.js';
import { UNET_PRESETS, type UNetPreset } from '../nn/unet_presets.js';

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
  /** Image folders: leave out images that cannot be read or decoded (each named in a warning) instead of stopping. */
  skipCorrupt: boolean;
  /** Side of the square training images for an image folder, or null: inferred from the folder (or the --config's sample_size). */
  imageSize: number | null;
  /** The U-Net preset when no --config is given (nn/unet_presets.ts), or null: the reference U-Net for the bundled datasets, else by image size. */
  preset: UNetPreset | null;
  /** Train without labels even where the data has classes. */
  unconditional: boolean;
  /** Write a grid of EMA samples to RUN_DIR/samples/ every this many steps (0: never). */
  sampleEvery: number;
}

/**
 * The fields of a run (schema fields: the key is train_config.json's, the flag is `diffuse train`'s,
 * the default and doc are stated here once; TRAIN_DEFAULTS and --help read them).
 *
 * The defaults: `diffuse train --data fashion-mnist --out runs/fm` is the run a user should start.
 * The budget is the issue's: recognisable garments within 2 hours on 2 cores. The reference
 * U-Net (1.6M parameters) trains at about 69 images/s there (batch 128: ~1.9 s/step), so 3000
 * steps = 384k images = 6.4 epochs = about 1h35. diffusers' train_unconditional (lr 1e-4, warm-up
 * 500, EMA 0.9999) is tuned for runs of tens of thousands of steps; in 3000 steps that rate would
 * leave the model undertrained and that EMA would still mostly hold early weights. So: lr 5e-4 (a
 * small model with global-norm clipping at 1 tolerates it), a short warm-up of 200 steps, and EMA
 * max decay 0.999 (a horizon of ~1000 steps, a third of the run). Class dropout 0.1 (the
 * classifier-free guidance paper's p_uncond), the linear DDPM schedule with T = 1000, epsilon
 * prediction, no flips (the data has no mirror images: FLIP_REFUSED).
 */
export const TRAIN_FIELDS = {
  unet: { key: 'unet', default: null, allowed: 'a U-Net config object or null', parse: (v: unknown) => (v === null ? null : v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined), toJson: (v: Record<string, unknown> | null) => v } as Field<Record<string, unknown> | null>,
  steps: described(intField('steps', 3000, 1), 'Optimizer steps in total (with --resume: the new total).'),
  batchSize: described(intField('batchSize', 128, 1), 'Images per step.', { flag: 'batch' }),
  lr: described(numberField('lr', 5e-4, 0, 1, true), 'Peak learning rate, AdamW.'),
  warmup: described(intField('warmup', 200, 0), 'Linear warm-up steps.'),
  lrSchedule: described(enumField<LrSchedule>('lrSchedule', LR_SCHEDULES, 'constant'), `After warm-up: ${LR_SCHEDULES.join(' | ')}.`, { flag: 'lr-schedule' }),
  weightDecay: described(numberField('weightDecay', 0.01, 0), 'AdamW decoupled weight decay.', { flag: 'weight-decay' }),
  gradClip: described(numberField('gradClip', 1.0, 0), 'Clip the global gradient norm to X; 0 = off.', { flag: 'grad-clip' }),
  emaDecay: described(numberField('emaDecay', 0.999, 0, 1), "Maximum EMA decay; warm-up min(X, (1+t)/(10+t)) as diffusers' EMAModel.", { flag: 'ema-decay' }),
  classDropout: described({ ...numberField('classDropout', 0.1, 0, 1, false, true), allowed: 'a probability in [0, 1) (1 would never show the model a label)' }, 'Probability of training a sample with the null class.', { flag: 'class-dropout' }),
  predictionType: described(enumField<PredictionType>('predictionType', PREDICTION_TYPES, 'epsilon'), `${PREDICTION_TYPES.join(' | ')}.`, { flag: 'prediction-type' }),
  betaSchedule: described(enumField<BetaSchedule>('betaSchedule', BETA_SCHEDULES, 'linear'), `${BETA_SCHEDULES.join(' | ')}.`, { flag: 'beta-schedule' }),
  numTrainTimesteps: described(intField('numTrainTimesteps', 1000, 2), 'Training timesteps T.', { flag: 'timesteps' }),
  betaStart: described(numberField('betaStart', 0.0001, 0, 1, true), 'beta_1 of the schedule.', { flag: 'beta-start' }),
  betaEnd: described(numberField('betaEnd', 0.02, 0, 1, true), 'beta_T of the schedule.', { flag: 'beta-end' }),
  minSnrGamma: described(nullable(numberField('minSnrGamma', 5, 0, Infinity, true)), 'Min-SNR-gamma loss weighting (Hang et al. 2023; 5 is typical).', { flag: 'min-snr-gamma', defaultText: 'off' }),
  flip: described(boolField('flip', false), "Random horizontal flips of an image folder's images; refused for fashion-mnist and mnist, whose images have a direction (FLIP_REFUSED)."),
  seed: described(intField('seed', 0, 0), 'Seeds data order, timesteps, noise, label and weight dropout, init.'),
  saveEvery: described(intField('saveEvery', 500, 1), 'Checkpoint every N steps, and always at the end.', { flag: 'save-every' }),
  keep: described(intField('keep', 3, 1), 'Keep the last N checkpoints.'),
  threads: described(nullable(intField('threads', 1, 1)), 'native threads of the kernels (the one meaning of --threads in every command).', { defaultText: 'all cores, or DIFFUSE_THREADS' }),
  timeLimit: described(nullable(numberField('timeLimit', 1, 0, Infinity, true)), 'Stop at this much training time in minutes (all sessions), checkpoint and export the model as at the end (e.g. --time-limit 115 keeps a run inside 2 hours).', { flag: 'time-limit', metavar: 'MIN', defaultText: 'no limit' }),
  task: described(
    enumField<TrainTask>('task', TRAIN_TASKS, 'generate'),
    `${TRAIN_TASKS.join(' | ')}. superres trains an SR3 super-resolution U-Net: it sees the low-resolution image (the training image area-downsampled by --scale, then bicubic-upsampled back) concatenated to x_t, so its config needs in_channels = 2 x the data's channels, out_channels = the data's, sample_size = the high resolution (e.g. configs/unet_superres_fm.json); \`diffuse upscale --model RUN_DIR\` then uses it.`,
  ),
  scale: described(intField('scale', 2, 2), 'Super-resolution factor, an integer >= 2 dividing the image size (Fashion-MNIST: 2 for 14 -> 28, 4 for 7 -> 28).'),
  varianceType: described(
    enumField<TrainVarianceType>('varianceType', TRAIN_VARIANCE_TYPES, 'fixed_small'),
    `${TRAIN_VARIANCE_TYPES.join(' | ')}. learned_range (Nichol & Dhariwal 2021) needs a U-Net config with out_channels = 2 x the data's channels and --loss hybrid or vlb; the exported scheduler gets variance_type learned_range.`,
    { flag: 'variance-type' },
  ),
  loss: described(enumField<TrainLoss>('loss', TRAIN_LOSSES, 'simple'), `${TRAIN_LOSSES.join(' | ')}: hybrid = L_simple + W x L_vlb with the mean stop-gradient in L_vlb (L_vlb estimated as T x L_t); vlb = L_vlb alone.`),
  vlbWeight: described(numberField('vlbWeight', 0.001, 0, Infinity, true), "lambda of the hybrid loss (the paper's).", { flag: 'vlb-weight' }),
  timestepSampler: described(
    enumField<TimestepSamplerType>('timestepSampler', TIMESTEP_SAMPLERS, 'uniform'),
    `${TIMESTEP_SAMPLERS.join(' | ')}; importance (loss vlb only): p_t ∝ sqrt(E[L_t^2]) over the last 10 losses per t, uniform until all t have 10.`,
    { flag: 'timestep-sampler' },
  ),
  sde: described(
    nullable(enumField<SdeName>('sde', SDE_NAMES, 'vp')),
    `${SDE_NAMES.join(' | ')}: continuous-time denoising score matching (Song et al. 2021), t ~ U(1e-5, 1); VP/sub-VP take beta_min/max = timesteps x beta-start/end (0.1, 20) and the model predicts the noise; VE: the model predicts -noise, sigma-min..max. The U-Net sees t x (timesteps - 1). Sample with \`diffuse sample --sde-sampler pc|ode\`.`,
    { defaultText: 'off (discrete DDPM)' },
  ),
  likelihoodWeighting: described(boolField('likelihoodWeighting', false), '(--sde) weight the loss by g(t)^2 instead of std(t)^2 (a bound on the NLL).', { flag: 'likelihood-weighting' }),
  sigmaMin: described(numberField('sigmaMin', 0.01, 0, Infinity, true), '(--sde ve) smallest noise std.', { flag: 'sigma-min' }),
  sigmaMax: described(numberField('sigmaMax', 50, 0, Infinity, true), '(--sde ve) largest noise std.', { flag: 'sigma-max' }),
  skipCorrupt: described(boolField('skipCorrupt', false), 'Image folders: leave out images that cannot be read or decoded (truncated, empty, not an image, a dangling link), naming each in a warning, instead of stopping at the first.', { flag: 'skip-corrupt' }),
  imageSize: described(nullable(intField('imageSize', 32, 8, 1024)), "Image folders: train at SIZE x SIZE (every image resized and centre-cropped).", {
    flag: 'image-size',
    metavar: 'SIZE',
    defaultText: "the folder's most common short side, rounded down to a multiple of 4, at most 64",
  }),
  preset: described(nullable(enumField<UNetPreset>('preset', UNET_PRESETS, 'tiny')), `The U-Net without --config: ${UNET_PRESETS.join(' | ')} (32 / 64 / 128 base channels; depth and attention follow the image size; README "Presets").`, {
    defaultText: 'the reference U-Net for fashion-mnist and mnist; for a folder tiny up to 32 px, small up to 64, base above',
  }),
  unconditional: described(boolField('unconditional', false), 'Train without labels even where the data has classes (a folder of class folders).'),
  sampleEvery: described(intField('sampleEvery', 0, 0), 'Write a grid of EMA samples to RUN_DIR/samples/step-N.png every N steps (0: never); a fixed seed, so grids compare.', { flag: 'sample-every' }),
} as const;

/** The defaults of every field (see TRAIN_FIELDS). */
export const TRAIN_DEFAULTS: Readonly<Omit<TrainConfig, 'data' | 'out'>> = Object.freeze(
  Object.fromEntries(Object.entries(TRAIN_FIELDS).map(([name, f]) => [name, f.default])) as unknown as Omit<TrainConfig, 'data' | 'out'>,
);

const KEYS = ['data', 'out', ...(Object.keys(TRAIN_FIELDS) as (keyof typeof TRAIN_FIELDS)[])] as const;

function fail(op: string, name: string, expected: string, found: unknown): never {
  const f = typeof found === 'string' ? JSON.stringify(found) : typeof found === 'number' || typeof found === 'boolean' ? String(found) : found === null ? 'null' : typeof found;
  throw new ArgumentError(`${op}: '${name}' must be ${expected}, found ${f}`);
}

/**
 * Fills defaults into `partial` and validates every field; throws ArgumentError naming the
 * field, what was expected and what was found. Unknown keys are errors (typos must not be ignored).
 * @example const cfg = resolveTrainConfig({ data: 'fashion-mnist', out: 'runs/fm', steps: 100 });
 */
export function resolveTrainConfig(partial: Partial<TrainConfig> & { data: string; out: string }, op = 'train'): TrainConfig {
  if (partial === null || typeof partial !== 'object') throw new ArgumentError(`${op}: options must be an object, found ${partial === null ? 'null' : typeof partial}`);
  const unknown = Object.keys(partial).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    const hints = unknown.map((k) => {
      const guess = closestName(k, KEYS);
      return guess === undefined ? k : `${k} (did you mean ${guess}?)`;
    });
    throw new ArgumentError(`${op}: unknown option(s) ${hints.join(', ')}; known: ${KEYS.join(', ')}`);
  }
  // Explicit undefined means "default" (exactOptionalPropertyTypes callers may still pass it).
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const c = { ...TRAIN_DEFAULTS, ...defined } as TrainConfig;
  if (typeof c.data !== 'string' || c.data === '') fail(op, 'data', "'fashion-mnist', 'mnist' or a folder path", c.data);
  if (typeof c.out !== 'string' || c.out === '') fail(op, 'out', 'a run folder path', c.out);
  for (const [name, f] of Object.entries(TRAIN_FIELDS) as [keyof typeof TRAIN_FIELDS, Field<unknown>][]) {
    const v = c[name];
    if (f.parse(v) === undefined) fail(op, name, f.allowed.replace(/"([^"]*)"/g, '$1'), v);
  }
  if (c.sigmaMax < c.sigmaMin) fail(op, 'sigmaMax', `a number >= sigmaMin (${c.sigmaMin})`, c.sigmaMax);
  // Which objective the flat keys describe: options of another kind than the chosen one are refused there.
  const objective = trainingObjectiveOf(c, op);
  if (objective.kind === 'learned_variance') checkLearnedVarianceConfig(c, op);
  return c;
}

/**
 * The bundled datasets that --flip would teach wrong images: every Fashion-MNIST shoe points left
 * and no digit is mirrored, so a model trained on mirrored copies draws shoes and digits both ways
 * (the first shipped Fashion-MNIST model did: about half its shoes pointed right).
 */
export const FLIP_REFUSED: Readonly<Record<string, string>> = Object.freeze({
  'fashion-mnist': 'every Fashion-MNIST shoe (sandal, sneaker, ankle boot) points left, so a model trained on mirrored copies draws about half its shoes pointing right',
  mnist: 'no MNIST digit is mirrored, so a model trained on mirrored copies draws mirrored digits',
});

/**
 * The --flip rule of a new run: refused for the datasets of FLIP_REFUSED; for an image folder, a
 * warning to pass on (null without --flip).
 */
export function checkFlip(c: Pick<TrainConfig, 'flip' | 'data'>, op = 'train'): string | null {
  if (!c.flip) return null;
  const why = FLIP_REFUSED[c.data];
  if (why !== undefined) throw new ArgumentError(`${op}: --flip is refused for ${c.data}: ${why}. Train without --flip`);
  return `--flip: the model also learns the mirror image of every training image; if a class has a direction (text, digits, shoes, faces with a parting), its samples will point both ways`;
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
