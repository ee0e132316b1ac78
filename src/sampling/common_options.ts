/**
 * The options every pipeline shares (model, method, steps, n, class labels and classifier-free
 * guidance, classifier guidance, seed or generator, batch size, eta, progress, cancellation),
 * checked once, before any work, with one set of error messages, into a SamplingPlan that the
 * pipelines hand to the engine.
 */
import type { Tensor, DType } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { ArgumentError, ShapeError } from '../tensor/errors.js';
import { UNet2DModel } from '../nn/unet_2d.js';
import { NoisyClassifier } from '../nn/noisy_classifier.js';
import type { DiffusersConfig } from '../schedulers/scheduler.js';
import type { SigmaScheduleName } from '../diffusion/sigma_ramps.js';
import { classifierGuide, type ClassifierGuide, type GuidingClassifier } from './classifier_guidance.js';
import { reverseProcess, type ReverseProcess } from './reverse_process.js';
import type { SchedulerChoice } from './registry.js';
import { streamOrigin, type StreamOrigin } from './noise_streams.js';
import { progressHandler, type ProgressHandler, type ProgressOptions } from './progress.js';
import { conditionedModel, type ConditionedModel } from './conditioned_model.js';
import { checkSamplingMemory } from './memory_check.js';

/** Default images per forward pass (per half, with guidance). */
export const DEFAULT_BATCH_SIZE = 16;

/** The options every pipeline takes. */
export interface SamplingOptions extends ProgressOptions {
  /** The denoiser (eval mode). */
  model: UNet2DModel;
  /**
   * The reverse process: a scheduler instance, a SAMPLERS entry, or a name ('ddim', 'unipc',
   * 'EulerDiscreteScheduler', 'dpmpp_2m', ...; 'diffuse samplers' lists them).
   */
  scheduler?: SchedulerChoice;
  /** The model's scheduler_config.json (builds a named scheduler; gives a sampler the training schedule). */
  schedulerConfig?: DiffusersConfig;
  /** A sampler's sigma schedule (default 'karras', over the training sigma range). */
  sigmaSchedule?: SigmaScheduleName;
  /** Extra options of the sampler (e.g. { sChurn: 10 } for euler, { solverType: 'heun' }, { rtol: 0.01 }). */
  samplerOptions?: Readonly<Record<string, unknown>>;
  /** Reverse steps. */
  steps?: number;
  /**
   * Class of each image (a class-conditional model only): one number for all, or one per image.
   * Default: image i gets class i mod (num_class_embeds - 1) (the last embedding is the null class).
   */
  classLabels?: number | readonly number[];
  /** Classifier-free guidance weight w (default 1: the conditional model alone; 0: unconditional). */
  guidanceScale?: number;
  /** Classifier guidance: a noise-conditional classifier steering every step towards classLabels. */
  classifier?: GuidingClassifier;
  /** The classifier guidance scale s (default 1 with a classifier). */
  classifierScale?: number;
  /** DDIM's eta (passed to every step; schedulers without it ignore it), or a stochastic sampler's. */
  eta?: number;
  /** Seed of the noise, or a generator (advanced past every stream used); exactly one. */
  seed?: number | bigint;
  generator?: Generator;
  /** Images per forward pass (default 16); results do not depend on it. */
  batchSize?: number;
  /** Aborts between steps (throws the signal's reason). */
  signal?: AbortSignal;
}

/** Class labels and guidance, checked. */
export interface Conditioning {
  /** One class per image, or null for an unconditional model. */
  labels: number[] | null;
  /** The null class of guidance (num_class_embeds - 1), or -1. */
  nullClass: number;
  guidance: number;
  /** Whether the conditional and unconditional passes are batched (labels and guidance != 1). */
  guided: boolean;
}

/** Everything a pipeline needs, checked before any work. */
export interface SamplingPlan {
  op: string;
  model: UNet2DModel;
  process: ReverseProcess;
  steps: number;
  n: number;
  h: number;
  w: number;
  /** The images' channels (the model's in_channels less any conditioning channels). */
  c: number;
  dtype: DType;
  cond: Conditioning;
  classifier: ClassifierGuide | null;
  batch: number;
  /** DDIM's eta, or a stochastic sampler's noise scale (as given). */
  eta: number | undefined;
  origin: StreamOrigin;
  emit: ProgressHandler | undefined;
  signal: AbortSignal | undefined;
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** Checks that `model` is a UNet2DModel. */
export function checkModel(op: string, model: unknown): UNet2DModel {
  if (!(model instanceof UNet2DModel)) throw new ArgumentError(`${op}: 'model' must be a UNet2DModel (UNet2DModel.fromPretrained(dir)), found ${describe(model)}`);
  return model;
}

/**
 * Checks the class labels and guidance for `n` images: an unconditional model takes neither
 * (labels only as a classifier's targets, with `forClassifier`); with guidance the last embedding
 * is the null class, so real classes are 0..num_class_embeds - 2; by default image i gets class
 * i mod (num_class_embeds - 1).
 * @example checkConditioning('inpaint', model, 4, 3, 2) // { labels: [3, 3, 3, 3], guided: true, ... }
 */
export function checkConditioning(op: string, model: UNet2DModel, n: number, classLabels: number | readonly number[] | undefined, guidanceScale: number | undefined, forClassifier = false): Conditioning {
  const guidance = guidanceScale ?? 1;
  if (typeof guidance !== 'number' || !Number.isFinite(guidance)) throw new ArgumentError(`${op}: 'guidanceScale' must be a finite number, found ${String(guidance)}`);
  const k = model.config.numClassEmbeds;
  if (model.class_embedding === null || k === null) {
    if (model.class_embedding !== null) throw new ArgumentError(`${op}: models with class_embed_type '${String(model.config.classEmbedType)}' and no num_class_embeds are not supported`);
    if (guidance !== 1) throw new ArgumentError(`${op}: guidanceScale ${guidance} needs a class-conditional model with a null class, but this model is unconditional (num_class_embeds is null); leave the guidance at 1`);
    if (classLabels !== undefined && !forClassifier) throw new ArgumentError(`${op}: this model is unconditional (num_class_embeds is null); do not pass classLabels (or steer it with a classifier)`);
    return { labels: null, nullClass: -1, guidance: 1, guided: false };
  }
  const guided = guidance !== 1;
  if (guided && k < 2) throw new ArgumentError(`${op}: guidance needs a null class besides the real ones, but num_class_embeds = ${k}`);
  const top = guided ? k - 2 : k - 1;
  const real = Math.max(1, k - 1);
  let labels: number[];
  if (classLabels === undefined) labels = Array.from({ length: n }, (_, i) => i % real);
  else if (typeof classLabels === 'number') labels = new Array<number>(n).fill(classLabels);
  else if (Array.isArray(classLabels)) {
    if (classLabels.length !== n) throw new ArgumentError(`${op}: ${classLabels.length} class labels for n = ${n} images; give one number or one per image`);
    labels = [...(classLabels as readonly number[])];
  } else throw new ArgumentError(`${op}: 'classLabels' must be a number or an array of numbers, found ${typeof classLabels}`);
  for (const [i, c] of labels.entries()) {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > top) {
      const why = guided ? ` (num_class_embeds = ${k}; class ${k - 1} is the null class used by guidance)` : ` (num_class_embeds = ${k})`;
      throw new ArgumentError(`${op}: class label ${typeof classLabels === 'number' ? '' : `${i} `}is ${String(c)}, expected an integer in [0, ${top}]${why}`);
    }
  }
  return { labels, nullClass: k - 1, guidance, guided };
}

/** Classifier guidance's checks and targets: the model's labels, else classLabels, else i mod K. */
function planClassifier(op: string, o: SamplingOptions, n: number, labels: number[] | null, [h, w, c]: [number, number, number], config: DiffusersConfig): ClassifierGuide | null {
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
  else if (given === undefined) targets = Array.from({ length: n }, (_, i) => i % k);
  else if (typeof given === 'number') targets = new Array<number>(n).fill(given);
  else if (Array.isArray(given) && given.length === n) targets = [...(given as readonly number[])];
  else throw new ArgumentError(`${op}: 'classLabels' must be one number or one per image (n = ${n}), found ${Array.isArray(given) ? `${given.length} labels` : typeof given}`);
  try {
    return classifierGuide(clf, o.classifierScale ?? 1, targets, config);
  } catch (e) {
    throw e instanceof ArgumentError ? new ArgumentError(`${op}: ${e.message}`) : e;
  }
}

/** What the pipeline fixes before planCommon: the images' count and size, the defaults. */
export interface PlanShape {
  n: number;
  h: number;
  w: number;
  c: number;
  defaultScheduler?: SchedulerChoice;
  defaultSteps?: number;
}

/**
 * Checks the shared options for `n` images of h x w x c and sets up the reverse process (a step
 * count the method cannot do is reported here), before any work.
 * @example const p = planCommon('img2img', options, { n: 4, h: 28, w: 28, c: 1, defaultScheduler: 'ddim', defaultSteps: 50 });
 */
export function planCommon(op: string, o: SamplingOptions, shape: PlanShape): SamplingPlan {
  const { n, h, w, c } = shape;
  const model = checkModel(op, o.model);
  // null is passed on to be refused by name; undefined takes the pipeline's default.
  const choice = (o.scheduler === undefined ? shape.defaultScheduler : o.scheduler) as SchedulerChoice;
  const steps = o.steps ?? shape.defaultSteps;
  if (!isPosInt(steps)) throw new ArgumentError(`${op}: 'steps' must be an integer >= 1, found ${String(steps)}`);
  const batch = o.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!isPosInt(batch)) throw new ArgumentError(`${op}: 'batchSize' must be an integer >= 1, found ${String(batch)}`);
  const cond = checkConditioning(op, model, n, o.classLabels, o.guidanceScale, o.classifier !== undefined);
  checkSamplingMemory(op, model, { n, h, w, c }, batch, cond.guided);
  const origin = streamOrigin(op, o);
  const emit = progressHandler(op, o);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new ArgumentError(`${op}: 'signal' must be an AbortSignal (new AbortController().signal)`);
  if (o.eta !== undefined && (typeof o.eta !== 'number' || !Number.isFinite(o.eta) || o.eta < 0)) {
    throw new ArgumentError(`${op}: 'eta' must be a finite number >= 0 (0: deterministic DDIM), found ${String(o.eta)}`);
  }
  const process = reverseProcess(op, choice, { steps, schedulerConfig: o.schedulerConfig, sigmaSchedule: o.sigmaSchedule, samplerOptions: o.samplerOptions, eta: o.eta });
  const classifier = planClassifier(op, o, n, cond.labels, [h, w, c], o.schedulerConfig ?? process.scheduleConfig);
  return { op, model, process, steps, n, h, w, c, dtype: model.dtype, cond, classifier, batch, eta: o.eta, origin, emit, signal: o.signal };
}

/**
 * The conditioned model of the chunk of images start .. start + b - 1 (its labels and conditioning rows).
 * @example const m = chunkModel(p, start, b, null);
 */
export function chunkModel(p: SamplingPlan, start: number, b: number, conditioning: Tensor | null): ConditionedModel {
  return conditionedModel({
    model: p.model,
    labels: p.cond.labels === null ? null : p.cond.labels.slice(start, start + b),
    guidance: p.cond.guidance,
    nullClass: p.cond.nullClass,
    conditioning,
    channels: p.c,
    keepVariance: p.process.usesLearnedVariance,
    classifier: p.classifier,
    start,
  });
}
