/**
 * What the image-editing pipelines (img2img.ts: SDEdit; inpaint.ts: replace-known-region and
 * RePaint) share: the checks of their common options (model, scheduler, steps, classes and
 * classifier-free guidance, seed, progress, cancellation) and of input images and masks, made
 * before any work; each image's seeded noise stream (the layout of generate(): image i draws from
 * Philox counters base + i * IMAGE_STREAM_COUNTERS onwards, so a result depends on the seed, the
 * image's index and its class, never on the batch size); and one chunk of the reverse process
 * through a scheduler (from any index of its timesteps) or a sampler (over any tail of its
 * sigmas), optionally keeping a known region: before every model evaluation the known pixels of
 * the model's input are replaced by the known image forward-noised to that evaluation's noise
 * level with fresh noise from the image's stream (the "replacement" method of Song et al. 2021,
 * "Score-Based Generative Modeling through SDEs", app. I.2; Lugmayr et al. 2022, eq. 8).
 */
import { Tensor, allocStorage, type DType } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { concat } from '../ops/concat.js';
import { UNet2DModel } from '../nn/unet_2d.js';
import type { DiffusersConfig, Scheduler, StepOptions } from '../schedulers/scheduler.js';
import { DiscreteSchedule, denoiserFromModel } from '../samplers/denoiser.js';
import { SIGMA_SCHEDULES, type SigmaScheduleName } from '../diffusion/sigma_ramps.js';
import type { Denoiser, SamplerOptions } from '../samplers/sampler.js';
import type { SamplerInfo } from '../samplers/index.js';
import { DEFAULT_BATCH_SIZE, IMAGE_STREAM_COUNTERS, guide, resolveScheduler, samplerSigmas, type ResolvedScheduler, type SchedulerChoice } from './generate.js';

/** The default reverse process of the editing pipelines: DDIM (deterministic), 50 steps. */
export const DEFAULT_EDIT_SCHEDULER = 'ddim';
export const DEFAULT_EDIT_STEPS = 50;

/**
 * Progress of a pipeline: `step` of `total` model evaluations done (over all chunks), and the
 * current chunk's estimate of x_0 (B, H, W, C) where one is at hand, for a live preview.
 */
export type ProgressCallback = (step: number, total: number, x0Preview?: Tensor) => void;

/** The options every editing pipeline takes. */
export interface EditOptions {
  /** The denoiser (eval mode). */
  model: UNet2DModel;
  /**
   * The reverse process: a scheduler instance, a SAMPLERS entry, or a name ('ddim', 'ddpm',
   * 'unipc', 'EulerDiscreteScheduler', 'euler', 'dpmpp_2m', ...). Default 'ddim'.
   */
  scheduler?: SchedulerChoice;
  /** The model's scheduler_config.json (builds a named scheduler; gives a sampler the training schedule). */
  schedulerConfig?: DiffusersConfig;
  /** A sampler's sigma schedule (default 'karras'). */
  sigmaSchedule?: SigmaScheduleName;
  /** Extra options of the sampler (e.g. { sChurn: 10 }). */
  samplerOptions?: Readonly<Record<string, unknown>>;
  /** Reverse steps of the full schedule (default 50). */
  steps?: number;
  /** Class of each image (class-conditional models): one for all, or one per image. */
  classLabels?: number | readonly number[];
  /** Classifier-free guidance weight (default 1: none). */
  guidanceScale?: number;
  /** DDIM's eta, or a stochastic sampler's noise scale. */
  eta?: number;
  /** Seed of the noise, or a generator (advanced past every stream used); exactly one. */
  seed?: number | bigint;
  generator?: Generator;
  /** Images per forward pass (default 16); results do not depend on it. */
  batchSize?: number;
  /** Called after every model evaluation. */
  onProgress?: ProgressCallback;
  /** Aborts between model evaluations (throws the signal's reason). */
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

/** Everything an editing pipeline needs, checked before any work. */
export interface EditPlan {
  op: string;
  model: UNet2DModel;
  resolved: ResolvedScheduler;
  schedulerConfig: DiffusersConfig;
  steps: number;
  /** Model evaluations of the full schedule: the scheduler's timestep entries, or the sampler's steps. */
  loops: number;
  /** A sampler's full sigma schedule (steps + 1 values, last 0), else null. */
  sigmas: Float64Array | null;
  schedule: DiscreteSchedule | null;
  n: number;
  h: number;
  w: number;
  c: number;
  dtype: DType;
  cond: Conditioning;
  batch: number;
  seed: bigint;
  base: bigint;
  eta: number | undefined;
  samplerOptions: Readonly<Record<string, unknown>>;
  onProgress: ProgressCallback | undefined;
  signal: AbortSignal | undefined;
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/**
 * Checks the class labels and guidance for `n` images, with generate()'s rules and messages: an
 * unconditional model takes neither; with guidance the last embedding is the null class, so real
 * classes are 0..num_class_embeds - 2; by default image i gets class i mod (num_class_embeds - 1).
 * @example checkConditioning('inpaint', model, 4, 3, 2) // { labels: [3, 3, 3, 3], guided: true, ... }
 */
export function checkConditioning(op: string, model: UNet2DModel, n: number, classLabels: number | readonly number[] | undefined, guidanceScale: number | undefined): Conditioning {
  const guidance = guidanceScale ?? 1;
  if (typeof guidance !== 'number' || !Number.isFinite(guidance)) throw new ArgumentError(`${op}: 'guidanceScale' must be a finite number, found ${String(guidance)}`);
  const k = model.config.numClassEmbeds;
  if (model.class_embedding === null || k === null) {
    if (model.class_embedding !== null) throw new ArgumentError(`${op}: models with class_embed_type '${String(model.config.classEmbedType)}' and no num_class_embeds are not supported`);
    if (guidance !== 1) throw new ArgumentError(`${op}: guidanceScale ${guidance} needs a class-conditional model with a null class, but this model is unconditional (num_class_embeds is null); leave the guidance at 1`);
    if (classLabels !== undefined) throw new ArgumentError(`${op}: this model is unconditional (num_class_embeds is null); do not pass classLabels`);
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
    if (classLabels.length !== n) throw new ArgumentError(`${op}: ${classLabels.length} class labels for ${n} images; give one number or one per image`);
    labels = [...(classLabels as readonly number[])];
  } else throw new ArgumentError(`${op}: 'classLabels' must be a number or an array of numbers, found ${typeof classLabels}`);
  for (const [i, c] of labels.entries()) {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > top) {
      const why = guided ? ` (num_class_embeds = ${k}; class ${k - 1} is the null class used by guidance)` : ` (num_class_embeds = ${k})`;
      throw new ArgumentError(`${op}: class label ${typeof classLabels === 'number' ? '' : `${i} `}is ${String(c)}, expected an integer in [0, ${top}]${why}`);
    }
  }
  return { labels, nullClass: k - 1, guidance, guided: guided };
}

/** Checks that `model` is a UNet2DModel. */
export function checkModel(op: string, model: unknown): UNet2DModel {
  if (!(model instanceof UNet2DModel)) throw new ArgumentError(`${op}: 'model' must be a UNet2DModel (UNet2DModel.fromPretrained(dir)), found ${describe(model)}`);
  return model;
}

/** The image size a model takes: its sample_size, or null when the config has none. */
export function modelImageSize(model: UNet2DModel): [number, number] | null {
  const s = model.config.sampleSize;
  if (s === null) return null;
  return typeof s === 'number' ? [s, s] : [s[0], s[1]];
}

/**
 * Checks input images for `model`: (H, W, C) or (N, H, W, C), C = the model's in_channels, H x W =
 * its sample_size (when set; else divisible by the U-Net's downsampling factor), finite values in
 * [-1, 1]. Returns the batch (N, H, W, C), sharing the data.
 * @example const x = checkImages('img2img', 'image', await readPng('in.png'), model);
 */
export function checkImages(op: string, name: string, image: unknown, model: UNet2DModel): Tensor {
  if (!(image instanceof Tensor)) throw new ArgumentError(`${op}: '${name}' must be a Tensor (H, W, C) or (N, H, W, C) in [-1, 1] (readPng(path) gives one), found ${describe(image)}`);
  if (image.rank !== 3 && image.rank !== 4) throw new ShapeError(`${op}: '${name}' has shape ${fmtShape(image.shape)}, expected (H, W, C) or (N, H, W, C)`);
  const x = image.rank === 3 ? new Tensor(image.data, [1, ...image.shape]) : image;
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const cfg = model.config;
  if (n < 1 || h < 1 || w < 1) throw new ShapeError(`${op}: '${name}' has shape ${fmtShape(image.shape)}, expected at least one image of at least 1x1 pixels`);
  if (c !== cfg.inChannels) {
    const kind = (ch: number): string => (ch === 1 ? ' (grayscale)' : ch === 3 ? ' (RGB)' : '');
    throw new ShapeError(`${op}: '${name}' has ${c} channel${c === 1 ? '' : 's'}${kind(c)} (shape ${fmtShape(image.shape)}), but the model takes ${cfg.inChannels}${kind(cfg.inChannels)} (in_channels); convert the image first`);
  }
  const size = modelImageSize(model);
  if (size !== null && (size[0] !== h || size[1] !== w)) {
    throw new ShapeError(`${op}: '${name}' is ${h}x${w} pixels, but the model takes ${size[0]}x${size[1]} (its sample_size); resize or crop the image to ${size[0]}x${size[1]}`);
  }
  const factor = 2 ** (cfg.blockOutChannels.length - 1);
  if (h % factor !== 0 || w % factor !== 0) throw new ShapeError(`${op}: '${name}' is ${h}x${w} pixels, not divisible by ${factor} (the U-Net halves it ${cfg.blockOutChannels.length - 1} times)`);
  const d = x.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (!(v >= -1 && v <= 1)) {
      const p = Math.floor(i / c);
      throw new ArgumentError(`${op}: '${name}' has value ${v} at image ${Math.floor(p / (h * w))}, pixel (y ${Math.floor(p / w) % h}, x ${p % w}), channel ${i % c}; pixel values must be finite and in [-1, 1]`);
    }
  }
  return x;
}

/**
 * Checks a keep-mask for images (N, H, W, C) and expands it to one byte per value (1: known, kept;
 * 0: generated). Accepted shapes: (H, W), (H, W, 1 | C), (1 | N, H, W, 1 | C); values exactly 0
 * or 1 (a 1-channel mask applies to every channel).
 * @example const keep = checkMask('inpaint', mask, x.shape);
 */
export function checkMask(op: string, mask: unknown, shape: readonly number[]): Uint8Array {
  const [n, h, w, c] = shape as [number, number, number, number];
  if (!(mask instanceof Tensor)) throw new ArgumentError(`${op}: 'mask' must be a Tensor (H, W), (H, W, 1) or (N, H, W, 1) of 0 (generate) and 1 (keep), found ${describe(mask)}`);
  const s = mask.shape;
  let mn = 1;
  let mh: number;
  let mw: number;
  let mc = 1;
  if (s.length === 2) [mh, mw] = s as [number, number];
  else if (s.length === 3) [mh, mw, mc] = s as [number, number, number];
  else if (s.length === 4) [mn, mh, mw, mc] = s as [number, number, number, number];
  else throw new ShapeError(`${op}: 'mask' has shape ${fmtShape(s)}, expected (H, W), (H, W, 1) or (N, H, W, 1)`);
  if (mh !== h || mw !== w) throw new ShapeError(`${op}: 'mask' is ${mh}x${mw} pixels (shape ${fmtShape(s)}) but the image is ${h}x${w}; the mask must match the image's size`);
  if (mn !== 1 && mn !== n) throw new ShapeError(`${op}: 'mask' holds ${mn} masks (shape ${fmtShape(s)}) for ${n} images; give one mask for all or one per image`);
  if (mc !== 1 && mc !== c) throw new ShapeError(`${op}: 'mask' has ${mc} channels (shape ${fmtShape(s)}), expected 1 or the image's ${c}`);
  const md = mask.data;
  for (let i = 0; i < md.length; i++) {
    if (md[i] !== 0 && md[i] !== 1) {
      const p = Math.floor(i / mc);
      throw new ArgumentError(`${op}: 'mask' has value ${md[i]} at pixel (y ${Math.floor(p / mw) % mh}, x ${p % mw}); mask values must be 0 (generate) or 1 (keep). Threshold a soft mask first`);
    }
  }
  const keep = new Uint8Array(n * h * w * c); // (N, H, W, C)
  for (let b = 0; b < n; b++) {
    const mb = mn === 1 ? 0 : b;
    for (let p = 0; p < h * w; p++) {
      for (let ch = 0; ch < c; ch++) keep[(b * h * w + p) * c + ch] = md[(mb * h * w + p) * mc + (mc === 1 ? 0 : ch)]!;
    }
  }
  return keep;
}

/**
 * Checks the options every editing pipeline shares, for `n` images of h x w x c, before any work.
 * A scheduler's setTimesteps(steps) runs here, so a step count it cannot do is reported first.
 */
export function planEdit(op: string, o: EditOptions, n: number, h: number, w: number, c: number): EditPlan {
  const { model } = o;
  let resolved: ResolvedScheduler;
  try {
    resolved = resolveScheduler(o.scheduler ?? DEFAULT_EDIT_SCHEDULER, o.schedulerConfig ?? {});
  } catch (e) {
    throw e instanceof ArgumentError ? new ArgumentError(`${op}: ${e.message}`) : e;
  }
  const steps = o.steps ?? DEFAULT_EDIT_STEPS;
  if (!isPosInt(steps)) throw new ArgumentError(`${op}: 'steps' must be an integer >= 1, found ${String(steps)}`);
  const batch = o.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!isPosInt(batch)) throw new ArgumentError(`${op}: 'batchSize' must be an integer >= 1, found ${String(batch)}`);
  const cond = checkConditioning(op, model, n, o.classLabels, o.guidanceScale);
  if ((o.seed === undefined) === (o.generator === undefined)) throw new ArgumentError(`${op}: pass exactly one of 'seed' (a non-negative integer) or 'generator' (a Generator)`);
  let seed: bigint;
  let base = 0n;
  if (o.generator !== undefined) {
    if (!(o.generator instanceof Generator)) throw new ArgumentError(`${op}: 'generator' must be a Generator, found ${describe(o.generator)}`);
    seed = o.generator.seed;
    base = o.generator.offset;
  } else {
    try {
      seed = new Generator(o.seed as number | bigint).seed;
    } catch (e) {
      throw e instanceof ArgumentError ? new ArgumentError(`${op}: ${e.message}`) : e;
    }
  }
  if (o.eta !== undefined && (typeof o.eta !== 'number' || !Number.isFinite(o.eta) || o.eta < 0)) throw new ArgumentError(`${op}: 'eta' must be a finite number >= 0, found ${String(o.eta)}`);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new ArgumentError(`${op}: 'onProgress' must be a function (step, total, x0Preview?) => void, found ${describe(o.onProgress)}`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new ArgumentError(`${op}: 'signal' must be an AbortSignal (new AbortController().signal)`);
  if (o.samplerOptions !== undefined && (o.samplerOptions === null || typeof o.samplerOptions !== 'object')) throw new ArgumentError(`${op}: 'samplerOptions' must be an object`);
  let loops = steps;
  let sigmas: Float64Array | null = null;
  let schedule: DiscreteSchedule | null = null;
  if (resolved.kind === 'scheduler') {
    try {
      resolved.scheduler.setTimesteps(steps);
    } catch (e) {
      throw e instanceof ArgumentError ? new ArgumentError(`${op}: ${e.message}`) : e;
    }
    loops = resolved.scheduler.timesteps.length;
  } else {
    try {
      schedule = DiscreteSchedule.fromConfig(o.schedulerConfig ?? {});
    } catch (e) {
      throw e instanceof ArgumentError ? new ArgumentError(`${op}: schedulerConfig: ${e.message}`) : e;
    }
    const kind = o.sigmaSchedule ?? 'karras';
    if (!SIGMA_SCHEDULES.includes(kind)) throw new ArgumentError(`${op}: 'sigmaSchedule' must be one of ${SIGMA_SCHEDULES.join(', ')}, found ${String(kind)}`);
    sigmas = samplerSigmas(op, kind, steps, schedule);
  }
  // Each image's draws (start noise, then up to two per model evaluation) must fit its stream.
  const counters = BigInt(Math.ceil((h * w * c) / 4)) * BigInt(2 * loops + 1);
  if (counters > IMAGE_STREAM_COUNTERS) throw new ArgumentError(`${op}: ${loops} steps of ${h}x${w}x${c} noise need ${counters} Philox counters per image, more than the ${IMAGE_STREAM_COUNTERS} reserved`);
  return {
    op, model, resolved, schedulerConfig: o.schedulerConfig ?? {}, steps, loops, sigmas, schedule, n, h, w, c, dtype: model.dtype, cond, batch, seed, base,
    eta: o.eta, samplerOptions: o.samplerOptions ?? {}, onProgress: o.onProgress, signal: o.signal,
  };
}

/** Image i's noise stream. */
export function imageStream(p: Pick<EditPlan, 'seed' | 'base'>, i: number): Generator {
  const offset = (p.base + BigInt(i) * IMAGE_STREAM_COUNTERS) & ((1n << 64n) - 1n);
  return Generator.fromState({ seed: p.seed.toString(), offset: offset.toString() });
}

/** Moves a caller's generator past the streams of n images (as generate() does). */
export function advanceGenerator(generator: Generator | undefined, p: Pick<EditPlan, 'seed' | 'base' | 'n'>): void {
  if (generator === undefined) return;
  const next = (p.base + BigInt(p.n) * IMAGE_STREAM_COUNTERS) & ((1n << 64n) - 1n);
  generator.setState({ seed: p.seed.toString(), offset: next.toString() });
}

/** One standard normal draw per image from its stream, stacked into (B, H, W, C). */
export function drawNoise(gens: readonly Generator[], p: Pick<EditPlan, 'h' | 'w' | 'c' | 'dtype'>): Tensor {
  const per = p.h * p.w * p.c;
  const data = allocStorage(p.dtype, gens.length * per);
  for (const [j, g] of gens.entries()) data.set(g.normal([1, p.h, p.w, p.c], 0, 1, { dtype: p.dtype }).data, j * per);
  return new Tensor(data, [gens.length, p.h, p.w, p.c]);
}

/** out = keep ? a : b, elementwise (a, b shaped alike; keep one byte per value). */
export function where(keep: Uint8Array, a: Tensor, b: Tensor): Tensor {
  const out = allocStorage(b.dtype, b.size);
  const ad = a.data;
  const bd = b.data;
  for (let i = 0; i < out.length; i++) out[i] = keep[i] === 1 ? ad[i]! : bd[i]!;
  return new Tensor(out, b.shape);
}

/** A copy of the rows [start, start + b) of a batch (N, ...). */
export function rows(x: Tensor, start: number, b: number): Tensor {
  const per = x.size / x.shape[0]!;
  const data = allocStorage(x.dtype, b * per);
  data.set(x.data.subarray(start * per, (start + b) * per));
  return new Tensor(data, [b, ...x.shape.slice(1)]);
}

/** Clamps to [-1, 1] in place (NaN stays NaN, so a broken model is visible). */
export function clampInPlace(x: Tensor): Tensor {
  const d = x.data;
  for (let i = 0; i < d.length; i++) d[i] = Math.min(1, Math.max(-1, d[i]!));
  return x;
}

/** The known region of a chunk: the clean known images (B, H, W, C) and which values are known. */
export interface KnownRegion {
  image: Tensor;
  keep: Uint8Array;
}

/** A chunk of images on its way through the reverse process. */
export interface Chunk {
  /** Index of the chunk's first image. */
  start: number;
  /** Each image's noise stream, positioned after the draws already made. */
  gens: Generator[];
  /** The class of each image, or null. */
  labels: number[] | null;
  /** Counts model evaluations over all chunks, for progress. */
  progress: { done: number; total: number };
}

/** The model's output for x at timestep t, with classifier-free guidance batched (2B) when on. */
export function modelOutput(p: EditPlan, x: Tensor, t: number, labels: number[] | null): Tensor {
  const b = x.shape[0]!;
  if (!p.cond.guided || labels === null) return p.model.forward(x, t, labels);
  const both = [...labels, ...new Array<number>(b).fill(p.cond.nullClass)];
  return guide(p.model.forward(concat([x, x], 0), t, both), b, p.cond.guidance);
}

function tick(p: EditPlan, chunk: Chunk, x0: Tensor | undefined): void {
  chunk.progress.done++;
  p.onProgress?.(chunk.progress.done, chunk.progress.total, x0);
}

/**
 * Runs a scheduler over timesteps[from:] of setTimesteps(steps) from x (the sample at
 * timesteps[from], in the scheduler's space), optionally keeping a known region; returns the
 * final sample (unclamped). Every entry draws one noise per image for its step (used by the
 * stochastic ones), and with a known region one more, first, for the known pixels.
 */
export function runScheduler(p: EditPlan, scheduler: Scheduler<StepOptions & { eta?: number }>, from: number, x: Tensor, chunk: Chunk, known: KnownRegion | null): Tensor {
  scheduler.setTimesteps(p.steps); // a fresh run: multistep schedulers keep history between steps
  const timesteps = scheduler.timesteps.slice(from);
  return noGrad(() => {
    for (const t of timesteps) {
      p.signal?.throwIfAborted();
      if (known !== null) x = where(known.keep, scheduler.addNoise(known.image, drawNoise(chunk.gens, p), t), x);
      const out = modelOutput(p, scheduler.scaleModelInput(x, t), t, chunk.labels);
      const stepOptions: StepOptions & { eta?: number } = { noise: drawNoise(chunk.gens, p) };
      if (p.eta !== undefined) stepOptions.eta = p.eta;
      const r = scheduler.step(out, t, x, stepOptions);
      x = r.prevSample;
      tick(p, chunk, r.predOriginalSample);
    }
    return x;
  });
}

/**
 * Runs a sampler over sigmas (a tail of the plan's sigmas, ending at 0) from x = x_0 + sigmas[0] n,
 * optionally keeping a known region: the denoiser sees the known pixels as known + sigma z (fresh
 * z per evaluation) and returns the known image there, so the sampler's own state follows the
 * known image exactly (every sampler step is elementwise); returns the final sample (unclamped).
 */
export function runSampler(p: EditPlan, sampler: SamplerInfo, sigmas: Float64Array, x: Tensor, chunk: Chunk, known: KnownRegion | null): Tensor {
  const base = denoiserFromModel(p.model, {
    schedule: p.schedule!,
    classLabels: chunk.labels,
    guidanceScale: p.cond.guided ? p.cond.guidance : 1,
    ...(p.cond.guided ? { nullClass: p.cond.nullClass } : {}),
  });
  let denoiser: Denoiser = base;
  if (known !== null) {
    const k = known;
    denoiser = (xs: Tensor, sigma: number): Tensor => {
      const z = drawNoise(chunk.gens, p);
      const noised = new Tensor(k.image.data.map((v, i) => v + sigma * z.data[i]!), xs.shape);
      return where(k.keep, k.image, base(where(k.keep, noised, xs), sigma));
    };
  }
  const cap = chunk.progress.done + sigmas.length - 1;
  const options: SamplerOptions & Record<string, unknown> = {
    ...p.samplerOptions,
    ...(p.eta !== undefined ? { eta: p.eta } : {}),
    noise: () => drawNoise(chunk.gens, p),
    // One tick per step (dpm_adaptive's trial steps are capped at the plan).
    callback: ({ denoised }) => {
      if (chunk.progress.done < cap) tick(p, chunk, denoised);
    },
    ...(p.signal !== undefined ? { signal: p.signal } : {}),
  };
  p.signal?.throwIfAborted();
  const out = sampler.sample(denoiser, x, sigmas, options);
  // dpm_adaptive may take fewer steps than planned: the chunk is done all the same.
  while (chunk.progress.done < cap) tick(p, chunk, undefined);
  return out;
}
