/**
 * Unconditional and class-conditional image generation: the reverse process of a trained U-Net
 * driven by any step-wise scheduler (DDPM, Ho et al. 2020, Alg. 2; DDIM, Song et al. 2021,
 * eq. 12), with classifier-free guidance (Ho & Salimans 2022, eq. 6):
 *   eps~ = eps(x_t, null) + w (eps(x_t, c) - eps(x_t, null)),
 * the conditional and unconditional passes batched into one forward of 2N samples.
 *
 * The reverse process runs either through a step-wise diffusers-compatible scheduler (an instance,
 * a diffusers class name such as 'EulerDiscreteScheduler', or a short name such as 'ddim' or
 * 'unipc') or through a k-diffusion-style sampler (a SAMPLERS entry or its name: 'euler', 'heun',
 * 'dpmpp_2m', ...) over the denoiser adapter of samplers/denoiser.ts and a sigma schedule
 * (default: Karras et al. 2022, eq. 5, over the model's training sigma range).
 *
 * Determinism: image i draws its x_T and every step's noise from its own stream of the seeded
 * Philox generator (counters base + i * IMAGE_STREAM_COUNTERS onwards), so an image depends on
 * the seed, its index and its class, never on n, the batch size or how the work was chunked.
 */
import { Tensor, allocStorage } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { concat } from '../ops/concat.js';
import { sliceBatch } from '../ops/slice.js';
import { UNet2DModel } from '../nn/unet_2d.js';
import type { DiffusersConfig, Scheduler, StepOptions } from '../schedulers/scheduler.js';
import { SCHEDULER_CLASSES, schedulerFromConfig } from '../schedulers/index.js';
import { DDPMScheduler } from '../schedulers/ddpm.js';
import { SAMPLERS, isSamplerName, type SamplerInfo } from '../samplers/index.js';
import { DiscreteSchedule, denoiserFromModel } from '../samplers/denoiser.js';
import { karrasSigmas, exponentialSigmas, polyexponentialSigmas, SIGMA_SCHEDULES, type SigmaScheduleName } from '../diffusion/sigma_ramps.js';
import type { SamplerOptions } from '../samplers/sampler.js';
import { NoisyClassifier } from '../nn/noisy_classifier.js';
import { classifierGuide, type ClassifierGuide, type GuidingClassifier } from './classifier_guidance.js';

/**
 * Philox counters reserved per image: 2^40 counters (4 normals each) hold x_T and 1000 steps of
 * noise for images up to ~2^32 values (checked), and 2^24 images fit before the 64-bit counter wraps.
 */
export const IMAGE_STREAM_COUNTERS = 1n << 40n;

/** Default images per forward pass (per half, with guidance). */
export const DEFAULT_BATCH_SIZE = 16;

/**
 * Short names of the diffusers schedulers (diffusers' class names are accepted as they are). The
 * k-diffusion names (euler, heun, lms, dpmpp_2m, ...) are the samplers of SAMPLERS, the same
 * algorithms as pure functions; the scheduler classes are reached by their class names.
 */
export const SCHEDULER_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  ddpm: 'DDPMScheduler',
  ddim: 'DDIMScheduler',
  pndm: 'PNDMScheduler',
  plms: 'PNDMScheduler',
  lms_discrete: 'LMSDiscreteScheduler',
  euler_discrete: 'EulerDiscreteScheduler',
  euler_ancestral_discrete: 'EulerAncestralDiscreteScheduler',
  heun_discrete: 'HeunDiscreteScheduler',
  kdpm2: 'KDPM2DiscreteScheduler',
  kdpm2_discrete: 'KDPM2DiscreteScheduler',
  kdpm2_ancestral: 'KDPM2AncestralDiscreteScheduler',
  dpmsolver: 'DPMSolverMultistepScheduler',
  dpmsolver_multistep: 'DPMSolverMultistepScheduler',
  dpmsolver_singlestep: 'DPMSolverSinglestepScheduler',
  unipc: 'UniPCMultistepScheduler',
  unipc_multistep: 'UniPCMultistepScheduler',
  deis: 'DEISMultistepScheduler',
  deis_multistep: 'DEISMultistepScheduler',
});

/** A way to pick the reverse process: a scheduler instance, a SAMPLERS entry, or either's name. */
export type SchedulerChoice = Scheduler<StepOptions & { eta?: number }> | SamplerInfo | string;

/** What a name resolves to. */
export type ResolvedScheduler = { kind: 'scheduler'; scheduler: Scheduler<StepOptions & { eta?: number }> } | { kind: 'sampler'; sampler: SamplerInfo };

/** Every accepted name: sampler names, then scheduler short names and class names (available ones). */
export function schedulerNames(): string[] {
  const aliases = Object.entries(SCHEDULER_ALIASES).filter(([, c]) => c in SCHEDULER_CLASSES).map(([a]) => a);
  return [...Object.keys(SAMPLERS), ...aliases, ...Object.keys(SCHEDULER_CLASSES)];
}

function isSamplerInfo(v: unknown): v is SamplerInfo {
  return v !== null && typeof v === 'object' && isSamplerName((v as SamplerInfo).name) && SAMPLERS[(v as SamplerInfo).name] === v;
}

/**
 * Resolves a scheduler or sampler by name (or passes an instance through). A scheduler named by
 * name is built from `config` (the model's scheduler_config.json; diffusers' defaults if empty).
 * @example resolveScheduler('dpmpp_2m').kind // 'sampler'
 * @example resolveScheduler('unipc', readSchedulerConfig(dir)).kind // 'scheduler'
 */
export function resolveScheduler(choice: SchedulerChoice, config: DiffusersConfig = {}): ResolvedScheduler {
  if (typeof choice === 'string') {
    if (isSamplerName(choice)) return { kind: 'sampler', sampler: SAMPLERS[choice] };
    const className = SCHEDULER_ALIASES[choice] ?? choice;
    if (className in SCHEDULER_CLASSES) return { kind: 'scheduler', scheduler: schedulerFromConfig({ ...config, _class_name: className }, className) as Scheduler<StepOptions & { eta?: number }> };
    throw new ArgumentError(`unknown scheduler or sampler '${choice}'; known: ${schedulerNames().join(', ')}`);
  }
  if (isSamplerInfo(choice)) return { kind: 'sampler', sampler: choice };
  if (choice !== null && typeof choice === 'object' && typeof (choice as Scheduler).step === 'function' && typeof (choice as Scheduler).setTimesteps === 'function') {
    return { kind: 'scheduler', scheduler: choice as Scheduler<StepOptions & { eta?: number }> };
  }
  throw new ArgumentError(`'scheduler' must be a scheduler (DDPMScheduler, DDIMScheduler, schedulerFromConfig(...)), a SAMPLERS entry, or a name (${schedulerNames().join(', ')}), found ${choice === null ? 'null' : typeof choice}`);
}

/** Options of `generate`. */
export interface GenerateOptions {
  /** The denoiser (eval mode). */
  model: UNet2DModel;
  /**
   * The reverse process: a scheduler (generate calls its setTimesteps(steps) before each chunk), a
   * SAMPLERS entry, or the name of either ('ddim', 'unipc', 'EulerDiscreteScheduler', 'dpmpp_2m', ...).
   */
  scheduler: SchedulerChoice;
  /**
   * The model's scheduler_config.json: builds a scheduler given by name, and gives a sampler the
   * training noise schedule (default: diffusers' DDPM defaults, linear betas over 1000 steps).
   */
  schedulerConfig?: DiffusersConfig;
  /** A sampler's sigma schedule over `steps` (default 'karras', over the training sigma range). */
  sigmaSchedule?: SigmaScheduleName;
  /** Extra options of the sampler (e.g. { sChurn: 10 } for euler, { solverType: 'heun' }, { rtol: 0.01 }). */
  samplerOptions?: Readonly<Record<string, unknown>>;
  /** Number of images. */
  n: number;
  /** Number of reverse steps (scheduler timesteps). */
  steps: number;
  /**
   * Class of each image (a class-conditional model only): one number for all, or one per image.
   * Default: image i gets class i mod (num_class_embeds - 1) (the last embedding is the null class).
   */
  classLabels?: number | readonly number[];
  /** Classifier-free guidance weight w (default 1: the conditional model alone; 0: unconditional). */
  guidanceScale?: number;
  /**
   * Classifier guidance (Dhariwal & Nichol 2021; pipelines/classifier_guidance.ts): a noise-conditional
   * classifier steering every step towards classLabels (which unconditional models then accept too).
   */
  classifier?: GuidingClassifier;
  /** The classifier guidance scale s (default 1 with a classifier). */
  classifierScale?: number;
  /**
   * Extra channels concatenated to every model input, (N, H, W, Cc): SR3's upsampled low-resolution
   * image (pipelines/superres.ts). The model's in_channels is then C + Cc; the images have C channels.
   */
  conditioning?: Tensor;
  /** Seed of the noise (or pass `generator`; it is advanced past every stream used). */
  seed?: number | bigint;
  generator?: Generator;
  /** Images per forward pass (default 16); the result does not depend on it. */
  batchSize?: number;
  /** DDIM's eta (passed to every step; schedulers without it ignore it), or a stochastic sampler's. */
  eta?: number;
  /** Image size (height, width) when the model's config has no sample_size. */
  size?: number | readonly [number, number];
  /** Record this many frames of (x_t, predicted x_0), evenly spaced over the reverse process. */
  trajectoryFrames?: number;
  /**
   * Called after every step: `i` counts completed steps over all chunks (1..total), `xt` and
   * `x0Pred` are the current chunk's new sample and x_0 estimate.
   */
  onStep?(i: number, total: number, xt: Tensor, x0Pred: Tensor): void;
  /** Aborts between steps (throws the signal's reason). */
  signal?: AbortSignal;
}

/** Recorded states of the reverse process. */
export interface Trajectory {
  /** For each frame, how many steps had run (0: x_T; `steps`: the final images). */
  stepIndex: number[];
  /** The timestep of each frame (-1 for the final images). */
  timesteps: number[];
  /** x_t at each frame, (N, H, W, C) each. */
  xt: Tensor[];
  /** The model's x_0 estimate at each frame (the final images at the last), (N, H, W, C) each. */
  x0: Tensor[];
}

/** What `generate` returns. */
export interface GenerateResult {
  /** (N, H, W, C), clamped to [-1, 1] (NaN stays NaN). */
  images: Tensor;
  /** The class of each image, or null for an unconditional model. */
  classLabels: number[] | null;
  trajectory?: Trajectory;
}

interface Plan {
  n: number;
  steps: number;
  /** Model-evaluation entries per chunk: the scheduler's timesteps, or the sampler's steps. */
  loops: number;
  resolved: ResolvedScheduler;
  sigmas: Float64Array | null;
  schedule: DiscreteSchedule | null;
  h: number;
  w: number;
  c: number;
  labels: number[] | null;
  nullClass: number;
  guidance: number;
  batch: number;
  seed: bigint;
  base: bigint;
  frames: number[];
  /** The conditioning channels (N, H, W, Cc), or null. */
  cond: Tensor | null;
  classifier: ClassifierGuide | null;
}

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1;
}

/** Validates everything before any work starts. */
function plan(o: GenerateOptions): Plan {
  const op = 'generate';
  if (o === null || typeof o !== 'object') throw new ArgumentError(`${op}: expected an options object { model, scheduler, n, steps, seed | generator, ... }`);
  const { model } = o;
  if (!(model instanceof UNet2DModel)) throw new ArgumentError(`${op}: 'model' must be a UNet2DModel (UNet2DModel.fromPretrained(dir)), found ${model === null ? 'null' : typeof model}`);
  let resolved: ResolvedScheduler;
  try {
    resolved = resolveScheduler(o.scheduler, o.schedulerConfig ?? {});
  } catch (e) {
    throw e instanceof ArgumentError ? new ArgumentError(`${op}: ${e.message}`) : e;
  }
  if (!isPosInt(o.n)) throw new ArgumentError(`${op}: 'n' (number of images) must be an integer >= 1, found ${String(o.n)}`);
  if (!isPosInt(o.steps)) throw new ArgumentError(`${op}: 'steps' must be an integer >= 1, found ${String(o.steps)}`);
  const batch = o.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!isPosInt(batch)) throw new ArgumentError(`${op}: 'batchSize' must be an integer >= 1, found ${String(batch)}`);
  const cfg = model.config;

  // Image size: the config's sample_size, or `size`.
  const size = o.size ?? cfg.sampleSize;
  if (size === null) throw new ArgumentError(`${op}: the model's config has no sample_size; pass 'size' (e.g. 28 or [32, 48])`);
  const [h, w] = typeof size === 'number' ? [size, size] : [size[0], size[1]];
  if (!isPosInt(h) || !isPosInt(w)) throw new ArgumentError(`${op}: 'size' must be an integer >= 1 or [height, width], found ${JSON.stringify(size)}`);
  const factor = 2 ** (cfg.blockOutChannels.length - 1);
  if (h % factor !== 0 || w % factor !== 0) {
    throw new ShapeError(`${op}: image size ${h}x${w} is not divisible by ${factor} (the U-Net halves it ${cfg.blockOutChannels.length - 1} times)`);
  }

  // Guidance and classes.
  const guidance = o.guidanceScale ?? 1;
  if (typeof guidance !== 'number' || !Number.isFinite(guidance)) throw new ArgumentError(`${op}: 'guidanceScale' must be a finite number, found ${String(guidance)}`);
  const k = cfg.numClassEmbeds;
  let labels: number[] | null = null;
  const nullClass = k === null ? -1 : k - 1;
  if (model.class_embedding === null || k === null) {
    if (model.class_embedding !== null) throw new ArgumentError(`${op}: models with class_embed_type '${String(cfg.classEmbedType)}' and no num_class_embeds are not supported`);
    if (guidance !== 1) {
      throw new ArgumentError(`${op}: guidanceScale ${guidance} needs a class-conditional model with a null class, but this model is unconditional (num_class_embeds is null); leave the guidance at 1`);
    }
    if (o.classLabels !== undefined && o.classifier === undefined) throw new ArgumentError(`${op}: this model is unconditional (num_class_embeds is null); do not pass classLabels (or steer it with a classifier)`);
  } else {
    // With guidance the last embedding is the null class, so real classes are 0..k-2.
    const guided = guidance !== 1;
    if (guided && k < 2) throw new ArgumentError(`${op}: guidance needs a null class besides the real ones, but num_class_embeds = ${k}`);
    const top = guided ? k - 2 : k - 1;
    const real = Math.max(1, k - 1);
    const given = o.classLabels;
    if (given === undefined) labels = Array.from({ length: o.n }, (_, i) => i % real);
    else if (typeof given === 'number') labels = new Array<number>(o.n).fill(given);
    else if (Array.isArray(given)) {
      if (given.length !== o.n) throw new ArgumentError(`${op}: ${given.length} class labels for n = ${o.n} images; give one number or one per image`);
      labels = [...(given as readonly number[])];
    } else throw new ArgumentError(`${op}: 'classLabels' must be a number or an array of numbers, found ${typeof given}`);
    for (const [i, c] of labels.entries()) {
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > top) {
        const why = guided ? ` (num_class_embeds = ${k}; class ${k - 1} is the null class used by guidance)` : ` (num_class_embeds = ${k})`;
        throw new ArgumentError(`${op}: class label ${typeof given === 'number' ? '' : `${i} `}is ${String(c)}, expected an integer in [0, ${top}]${why}`);
      }
    }
  }

  // Noise source.
  if ((o.seed === undefined) === (o.generator === undefined)) {
    throw new ArgumentError(`${op}: pass exactly one of 'seed' (a non-negative integer) or 'generator' (a Generator)`);
  }
  let seed: bigint;
  let base: bigint;
  if (o.generator !== undefined) {
    if (!(o.generator instanceof Generator)) throw new ArgumentError(`${op}: 'generator' must be a Generator, found ${typeof o.generator}`);
    seed = o.generator.seed;
    base = o.generator.offset;
  } else {
    seed = new Generator(o.seed as number | bigint).seed; // validates the seed
    base = 0n;
  }

  // Trajectory frames: states 0..steps (state s = after s steps), evenly spaced.
  const nf = o.trajectoryFrames;
  let frames: number[] = [];
  if (nf !== undefined) {
    if (!Number.isInteger(nf) || nf < 2) throw new ArgumentError(`${op}: 'trajectoryFrames' must be an integer >= 2, found ${String(nf)}`);
    frames = [...new Set(Array.from({ length: nf }, (_, f) => Math.round((f * o.steps) / (nf - 1))))];
  }
  if (o.onStep !== undefined && typeof o.onStep !== 'function') throw new ArgumentError(`${op}: 'onStep' must be a function, found ${typeof o.onStep}`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new ArgumentError(`${op}: 'signal' must be an AbortSignal`);

  if (o.eta !== undefined && (typeof o.eta !== 'number' || !Number.isFinite(o.eta) || o.eta < 0)) {
    throw new ArgumentError(`${op}: 'eta' must be a finite number >= 0 (0: deterministic DDIM), found ${String(o.eta)}`);
  }
  let loops = o.steps;
  let sigmas: Float64Array | null = null;
  let schedule: DiscreteSchedule | null = null;
  if (resolved.kind === 'scheduler') {
    // The scheduler rejects step counts it cannot do (e.g. more than num_train_timesteps) here;
    // second-order schedulers (Heun, KDPM2) list more timesteps than steps.
    resolved.scheduler.setTimesteps(o.steps);
    loops = resolved.scheduler.timesteps.length;
  } else {
    try {
      schedule = DiscreteSchedule.fromConfig(o.schedulerConfig ?? {});
    } catch (e) {
      throw e instanceof ArgumentError ? new ArgumentError(`${op}: schedulerConfig: ${e.message}`) : e;
    }
    const kind = o.sigmaSchedule ?? 'karras';
    if (!SIGMA_SCHEDULES.includes(kind)) throw new ArgumentError(`${op}: 'sigmaSchedule' must be one of ${SIGMA_SCHEDULES.join(', ')}, found ${String(kind)}`);
    sigmas = samplerSigmas(op, kind, o.steps, schedule);
    if (o.samplerOptions !== undefined && (o.samplerOptions === null || typeof o.samplerOptions !== 'object')) throw new ArgumentError(`${op}: 'samplerOptions' must be an object`);
  }
  if (frames.length > 0 && loops !== o.steps) frames = [...new Set(Array.from({ length: nf! }, (_, f) => Math.round((f * loops) / (nf! - 1))))];
  const cond = o.conditioning ?? null;
  if (cond !== null && (!(cond instanceof Tensor) || cond.rank !== 4 || cond.shape[0] !== o.n || cond.shape[1] !== h || cond.shape[2] !== w || !(cond.shape[3]! < cfg.inChannels))) {
    throw new ShapeError(`${op}: 'conditioning' must be (n, H, W, Cc) = (${o.n}, ${h}, ${w}, Cc) with Cc below the model's in_channels ${cfg.inChannels}, found ${cond instanceof Tensor ? fmtShape(cond.shape) : typeof cond}`);
  }
  const c = cfg.inChannels - (cond?.shape[3] ?? 0);
  const classifier = planClassifier(op, o, labels, [h, w, c], resolved);
  // Each image's draws (x_T and one per model evaluation) must fit its counter stream.
  const counters = BigInt(Math.ceil((h * w * c) / 4)) * BigInt(loops + 1);
  if (counters > IMAGE_STREAM_COUNTERS) {
    throw new ArgumentError(`${op}: ${loops} steps of ${h}x${w}x${cfg.inChannels} noise need ${counters} Philox counters per image, more than the ${IMAGE_STREAM_COUNTERS} reserved`);
  }
  return { n: o.n, steps: o.steps, loops, resolved, sigmas, schedule, h, w, c, labels, nullClass, guidance, batch, seed, base, frames, cond, classifier };
}

/** Classifier guidance's checks and targets: the model's labels, else classLabels, else i mod K. */
function planClassifier(op: string, o: GenerateOptions, labels: number[] | null, [h, w, c]: [number, number, number], resolved: ResolvedScheduler): ClassifierGuide | null {
  if (o.classifier === undefined) {
    if (o.classifierScale !== undefined) throw new ArgumentError(`${op}: classifierScale ${String(o.classifierScale)} needs a classifier to take gradients of (pass 'classifier', e.g. --classifier DIR)`);
    return null;
  }
  const clf = o.classifier;
  if (clf instanceof NoisyClassifier) {
    const cc = clf.config;
    if (cc.sampleSize !== h || cc.sampleSize !== w || cc.inChannels !== c) {
      throw new ShapeError(`${op}: the classifier takes ${cc.sampleSize}x${cc.sampleSize}x${cc.inChannels} images but the model makes ${h}x${w}x${c}; use a classifier trained on the model's data`);
    }
  }
  const k = clf instanceof NoisyClassifier ? clf.config.numClasses : clf !== null && typeof clf === 'object' ? clf.numClasses : 0;
  let targets: number[];
  const given = o.classLabels;
  if (labels !== null) targets = labels;
  else if (given === undefined) targets = Array.from({ length: o.n }, (_, i) => i % k);
  else if (typeof given === 'number') targets = new Array<number>(o.n).fill(given);
  else if (Array.isArray(given) && given.length === o.n) targets = [...(given as readonly number[])];
  else throw new ArgumentError(`${op}: 'classLabels' must be one number or one per image (n = ${o.n}), found ${Array.isArray(given) ? `${given.length} labels` : typeof given}`);
  const scale = o.classifierScale ?? 1;
  const config = o.schedulerConfig ?? (resolved.kind === 'scheduler' ? resolved.scheduler.toConfig() : {});
  try {
    return classifierGuide(clf, scale, targets, config);
  } catch (e) {
    throw e instanceof ArgumentError ? new ArgumentError(`${op}: ${e.message}`) : e;
  }
}

/** A sampler's sigmas over `steps`, on the model's training sigma range, ending at 0. */
export function samplerSigmas(op: string, kind: SigmaScheduleName, steps: number, schedule: DiscreteSchedule): Float64Array {
  switch (kind) {
    case 'karras':
      return karrasSigmas(steps, schedule.sigmaMin, schedule.sigmaMax);
    case 'exponential':
      return exponentialSigmas(steps, schedule.sigmaMin, schedule.sigmaMax);
    case 'polyexponential':
      return polyexponentialSigmas(steps, schedule.sigmaMin, schedule.sigmaMax);
    case 'discrete':
      return schedule.getSigmas(steps);
    case 'vp':
      throw new ArgumentError(`${op}: sigmaSchedule 'vp' is the continuous VP SDE's schedule and does not fit a model trained on discrete timesteps; use karras, exponential, polyexponential or discrete`);
  }
}

/** Image i's noise stream. */
function imageStream(p: Plan, i: number): Generator {
  const offset = (p.base + BigInt(i) * IMAGE_STREAM_COUNTERS) & ((1n << 64n) - 1n);
  return Generator.fromState({ seed: p.seed.toString(), offset: offset.toString() });
}

/** One standard normal draw per image from its stream, stacked into (B, H, W, C). */
function drawNoise(gens: Generator[], p: Plan, dtype: 'float32' | 'float64'): Tensor {
  const per = p.h * p.w * p.c;
  const data = allocStorage(dtype, gens.length * per);
  for (const [j, g] of gens.entries()) data.set(g.normal([1, p.h, p.w, p.c], 0, 1, { dtype }).data, j * per);
  return new Tensor(data, [gens.length, p.h, p.w, p.c]);
}

/** The first C of the 2C output channels (the prediction of a learned-variance model). */
function predictionChannels(out: Tensor, C: number): Tensor {
  const rows = out.size / (2 * C);
  const data = allocStorage(out.dtype, rows * C);
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) data[r * C + c] = out.data[r * 2 * C + c]!;
  return new Tensor(data, [...out.shape.slice(0, -1), C]);
}

/** eps_u + w (eps_c - eps_u), with the conditional half first in `out` (2B, ...). */
export function guide(out: Tensor, b: number, w: number): Tensor {
  const cond = sliceBatch(out, 0, b).data;
  const uncond = sliceBatch(out, b, 2 * b).data;
  const data = allocStorage(out.dtype, cond.length);
  for (let i = 0; i < data.length; i++) data[i] = uncond[i]! + w * (cond[i]! - uncond[i]!);
  return new Tensor(data, [b, ...out.shape.slice(1)]);
}

/**
 * Generates `n` images with `model` and `scheduler`, in chunks of `batchSize`, optionally with
 * class labels and classifier-free guidance, and optionally recording the trajectory.
 * @example
 * const model = UNet2DModel.fromPretrained('models/fashion-mnist/unet');
 * const scheduler = new DDIMScheduler(readSchedulerConfig('models/fashion-mnist/scheduler'));
 * const { images } = generate({ model, scheduler, n: 16, steps: 50, classLabels: 3, guidanceScale: 2, seed: 0 });
 * await writePngGrid('grid.png', images);
 * // Or any sampler or scheduler by name, on the model's noise schedule:
 * const schedulerConfig = readSchedulerConfig('models/fashion-mnist/scheduler');
 * generate({ model, scheduler: 'dpmpp_2m', schedulerConfig, n: 16, steps: 20, seed: 0 });
 * generate({ model, scheduler: 'unipc', schedulerConfig, n: 16, steps: 20, seed: 0 });
 */
export function generate(options: GenerateOptions): GenerateResult {
  const p = plan(options);
  const { model } = options;
  const dtype = model.dtype;
  const per = p.h * p.w * p.c;
  const images = allocStorage(dtype, p.n * per); // (N, H, W, C)
  const traj = p.frames.map(() => ({ xt: allocStorage(dtype, p.n * per), x0: allocStorage(dtype, p.n * per) }));
  const chunks = Math.ceil(p.n / p.batch);
  const total = chunks * p.loops;
  let done = 0;
  const guided = p.labels !== null && p.guidance !== 1;
  let timesteps: number[] = [];
  // A learned-variance model (Nichol & Dhariwal 2021) outputs 2C channels, the prediction then the
  // variance values: DDPMScheduler with variance_type learned/learned_range uses both; every other
  // scheduler and every sampler gets the prediction alone (their variances are their own).
  const keepsVariance = p.resolved.kind === 'scheduler' && p.resolved.scheduler instanceof DDPMScheduler && (p.resolved.scheduler.config.varianceType === 'learned' || p.resolved.scheduler.config.varianceType === 'learned_range');
  const dropsVariance = model.config.outChannels === 2 * p.c && !keepsVariance;

  noGrad(() => {
    for (let start = 0; start < p.n; start += p.batch) {
      const b = Math.min(p.batch, p.n - start);
      const gens = Array.from({ length: b }, (_, j) => imageStream(p, start + j));
      const labels = p.labels === null ? null : p.labels.slice(start, start + b);
      // The model's input: x_t, with the chunk's conditioning channels (repeated for a guided 2B batch).
      const cond = p.cond === null ? null : sliceBatch(p.cond, start, start + b);
      const forward = (xIn: Tensor, t: number, l: readonly number[] | null): Tensor => {
        const out = model.forward(cond === null ? xIn : concat([xIn, xIn.shape[0] === b ? cond : concat([cond, cond], 0)], -1), t, l);
        return dropsVariance ? predictionChannels(out, p.c) : out;
      };
      const record = (s: number, xt: Tensor, x0: Tensor): void => {
        const f = p.frames.indexOf(s);
        if (f < 0) return;
        traj[f]!.xt.set(xt.data, start * per);
        traj[f]!.x0.set(x0.data, start * per);
      };
      let x = drawNoise(gens, p, dtype); // (B, H, W, C) = x_T / its std
      if (p.resolved.kind === 'scheduler') {
        const scheduler = p.resolved.scheduler;
        // A fresh run per chunk: multistep schedulers keep their history between steps.
        scheduler.setTimesteps(p.steps);
        timesteps = scheduler.timesteps;
        // Guidance: conditional labels first, then the null class, one forward of 2B samples.
        const modelLabels = labels === null ? null : guided ? [...labels, ...new Array<number>(b).fill(p.nullClass)] : labels;
        if (scheduler.initNoiseSigma !== 1) for (let i = 0; i < x.data.length; i++) x.data[i] = x.data[i]! * scheduler.initNoiseSigma;
        for (const [s, t] of timesteps.entries()) {
          options.signal?.throwIfAborted();
          const input = scheduler.scaleModelInput(x, t);
          let out = guided ? guide(forward(concat([input, input], 0), t, modelLabels), b, p.guidance) : forward(input, t, modelLabels);
          if (p.classifier !== null) out = p.classifier.modelOutput(out, input, t, start);
          const stepOptions: StepOptions & { eta?: number } = { noise: drawNoise(gens, p, dtype) };
          if (options.eta !== undefined) stepOptions.eta = options.eta;
          const r = scheduler.step(out, t, x, stepOptions);
          record(s, x, r.predOriginalSample);
          x = r.prevSample;
          done++;
          options.onStep?.(done, total, x, r.predOriginalSample);
        }
      } else {
        const sigmas = p.sigmas!;
        timesteps = Array.from(sigmas.subarray(0, -1), (sg) => p.schedule!.sigmaToT(sg));
        const modelDenoiser = denoiserFromModel(cond === null && !dropsVariance ? model : forward, {
          schedule: p.schedule!,
          classLabels: labels,
          guidanceScale: guided ? p.guidance : 1,
          ...(guided ? { nullClass: p.nullClass } : {}),
        });
        const denoiser = p.classifier === null ? modelDenoiser : p.classifier.denoiser(modelDenoiser, start);
        // x_T = x_0 + sigma_max n has std sqrt(sigma_max^2 + 1) for unit-variance data (diffusers' init_noise_sigma).
        const scale = Math.sqrt(sigmas[0]! ** 2 + 1);
        for (let i = 0; i < x.data.length; i++) x.data[i] = x.data[i]! * scale;
        const samplerOptions: SamplerOptions & Record<string, unknown> = {
          ...(options.samplerOptions ?? {}),
          ...(options.eta !== undefined ? { eta: options.eta } : {}),
          noise: () => drawNoise(gens, p, dtype),
          callback: ({ i, x: xi, denoised }) => {
            record(i, xi, denoised);
            // Progress: one tick per step (dpm_adaptive's trial steps are capped at the plan).
            if (done < (start / p.batch + 1) * p.loops) {
              done++;
              options.onStep?.(done, total, xi, denoised);
            }
          },
          ...(options.signal !== undefined ? { signal: options.signal } : {}),
        };
        options.signal?.throwIfAborted();
        x = p.resolved.sampler.sample(denoiser, x, sigmas, samplerOptions);
        // dpm_adaptive may take fewer steps than planned: the chunk is done all the same.
        const chunkEnd = Math.ceil((start + b) / p.batch) * p.loops;
        if (done < chunkEnd) {
          done = chunkEnd;
          options.onStep?.(done, total, x, x);
        }
      }
      record(p.loops, x, x);
      images.set(x.data, start * per);
    }
  });

  // [-1, 1] for display; NaN stays NaN so a broken model is visible.
  for (let i = 0; i < images.length; i++) images[i] = Math.min(1, Math.max(-1, images[i]!));
  if (options.generator !== undefined) {
    const next = (p.base + BigInt(p.n) * IMAGE_STREAM_COUNTERS) & ((1n << 64n) - 1n);
    options.generator.setState({ seed: p.seed.toString(), offset: next.toString() });
  }
  const shape = [p.n, p.h, p.w, p.c];
  const result: GenerateResult = { images: new Tensor(images, shape), classLabels: p.labels };
  if (p.frames.length > 0) {
    result.trajectory = {
      stepIndex: [...p.frames],
      timesteps: p.frames.map((s) => timesteps[s] ?? -1),
      xt: traj.map((f) => new Tensor(f.xt, shape)),
      x0: traj.map((f) => new Tensor(f.x0, shape)),
    };
  }
  return result;
}
