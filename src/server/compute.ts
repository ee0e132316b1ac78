/**
 * The work of a job, as a worker thread runs it: load the model (cached per thread), call the
 * library pipeline, and hand back raw pixels (float32 in [-1, 1]). Synchronous compute lives
 * here and only here, so whoever hosts it (a worker thread of `diffuse serve`, or of a
 * `diffuse worker` process) keeps its event loop free to answer requests, Redis and SSE.
 */
import { UNet2DModel } from '../nn/unet_2d.js';
import { readSchedulerConfig } from '../io/checkpoint.js';
import { imageGrid, type RawImage } from '../io/png.js';
import { generate } from '../pipelines/generate.js';
import { inpaint } from '../pipelines/inpaint.js';
import { img2img } from '../pipelines/img2img.js';
import { forwardFrames } from '../pipelines/explain.js';
import { upscale } from '../pipelines/superres.js';
import { sliceBatch } from '../ops/slice.js';
import { Tensor } from '../tensor/tensor.js';
import { DiffuseError } from '../tensor/errors.js';
import type { ProgressEvent } from '../sampling/progress.js';
import type { DiffusersConfig } from '../schedulers/scheduler.js';
import { resolveModelName } from './models.js';
import { base64ToF32, f32ToBase64, type ExplainParams, type GenerateParams, type Img2ImgParams, type InpaintParams, type JobSpec, type SamplingParams, type UpscaleParams, type WireImage } from './job_types.js';

/** The job was cancelled (the signal's reason). */
export class CancelledError extends DiffuseError {}

/** Raw progress: the step, and every few steps the current x_t and predicted x_0 grids. */
export interface RawProgress {
  step: number;
  total: number;
  /** x_t where the pipeline reports it (generate), and the predicted x_0. */
  preview?: { xt?: WireImage; x0: WireImage };
}

/** Raw output, before PNG encoding. */
export interface RawResult {
  images: WireImage[];
  grid: WireImage;
  classLabels: number[] | null;
  timeline?: { stepIndex: number[]; timesteps: number[]; xt: WireImage[]; x0: WireImage[] };
  forward?: { t: number[]; snr: number[]; alphaBar: number[]; frames: WireImage[] };
}

/** How a host runs a job. */
export interface ComputeContext {
  modelsDir: string;
  signal: AbortSignal;
  onProgress(p: RawProgress): void;
}

/** Models loaded in this thread, by resolved folder (a few at most: they hold their weights). */
const MODEL_CACHE_SIZE = 2;
const cache = new Map<string, { model: UNet2DModel; schedulerConfig: DiffusersConfig }>();

function loadModel(modelsDir: string, name: string): { model: UNet2DModel; schedulerConfig: DiffusersConfig } {
  const { unetDir, schedulerDir } = resolveModelName(modelsDir, name);
  const hit = cache.get(unetDir);
  if (hit !== undefined) {
    cache.delete(unetDir); // move to the back: most recently used
    cache.set(unetDir, hit);
    return hit;
  }
  const entry = { model: UNet2DModel.fromPretrained(unetDir), schedulerConfig: schedulerDir === null ? {} : readSchedulerConfig(schedulerDir) };
  cache.set(unetDir, entry);
  while (cache.size > MODEL_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return entry;
}

export function wire(raw: RawImage): WireImage {
  return { height: raw.height, width: raw.width, channels: raw.channels, f32: f32ToBase64(raw.data) };
}

/** A batch (N, H, W, C) as one grid image. */
export function gridOf(t: Tensor): WireImage {
  return wire(imageGrid(t));
}

function eachImage(t: Tensor): WireImage[] {
  const [n, h, w, c] = t.shape as [number, number, number, number];
  return Array.from({ length: n }, (_, i) => wire({ data: sliceBatch(t, i, i + 1).toArray(), height: h, width: w, channels: c }));
}

/** Steps between previews: about 25 previews per job, at least one every step for short jobs. */
export function previewInterval(total: number, every?: number): number {
  return every ?? Math.max(1, Math.ceil(total / 25));
}

/**
 * A pipeline's onProgress handler that forwards the engine's ProgressEvent to the job's progress,
 * with preview grids (x_0, and x_t when `withXt`) every previewEvery steps and at the last.
 */
function progressTo(spec: JobSpec, ctx: ComputeContext, withXt: boolean): (e: ProgressEvent) => void {
  let every = 1;
  return ({ step, total, x, x0Preview }) => {
    if (step === 1) every = previewInterval(total, spec.previewEvery);
    if (x0Preview !== undefined && (step % every === 0 || step === total)) {
      ctx.onProgress({ step, total, preview: withXt && x !== undefined ? { xt: gridOf(x), x0: gridOf(x0Preview) } : { x0: gridOf(x0Preview) } });
    } else ctx.onProgress({ step, total });
  };
}

function runGenerate(spec: JobSpec, p: GenerateParams, ctx: ComputeContext): RawResult {
  const { model, schedulerConfig } = loadModel(ctx.modelsDir, p.model);
  const result = generate({
    model,
    scheduler: p.sampler,
    schedulerConfig,
    n: p.n,
    steps: p.steps,
    seed: p.seed,
    guidanceScale: p.guidance,
    ...(p.classLabel === null ? {} : { classLabels: p.classLabel }),
    ...(p.eta === undefined ? {} : { eta: p.eta }),
    trajectoryFrames: Math.min(p.steps + 1, spec.maxTimelineFrames),
    signal: ctx.signal,
    onProgress: progressTo(spec, ctx, true),
  });
  const out: RawResult = { images: eachImage(result.images), grid: gridOf(result.images), classLabels: result.classLabels };
  const tr = result.trajectory;
  if (tr !== undefined) {
    out.timeline = { stepIndex: tr.stepIndex, timesteps: tr.timesteps, xt: tr.xt.map(gridOf), x0: tr.x0.map(gridOf) };
  }
  return out;
}

/** An uploaded image as a batch of one (1, H, W, C). */
function tensorOf(img: WireImage): Tensor {
  return new Tensor(base64ToF32(img.f32), [1, img.height, img.width, img.channels]);
}

/** The options every editing pipeline shares, from the request's sampling fields. */
function editOptions(spec: JobSpec, p: SamplingParams, ctx: ComputeContext) {
  const { model, schedulerConfig } = loadModel(ctx.modelsDir, p.model);
  return {
    model,
    scheduler: p.sampler,
    schedulerConfig,
    steps: p.steps,
    seed: p.seed,
    guidanceScale: p.guidance,
    ...(p.classLabel === null ? {} : { classLabels: p.classLabel }),
    ...(p.eta === undefined ? {} : { eta: p.eta }),
    signal: ctx.signal,
    onProgress: progressTo(spec, ctx, false),
  };
}

function runInpaint(spec: JobSpec, p: InpaintParams, ctx: ComputeContext): RawResult {
  // The request's mask is 1 where the model paints: inpaint()'s own convention (diffusers').
  const paint = base64ToF32(p.mask.f32);
  const repaint = new Float32Array(paint.length); // (1, H, W, 1)
  for (let i = 0; i < paint.length; i++) repaint[i] = paint[i]! >= 0.5 ? 1 : 0;
  const r = inpaint({ ...editOptions(spec, p, ctx), image: tensorOf(p.image), mask: new Tensor(repaint, [1, p.mask.height, p.mask.width, 1]), maskConvention: 'repaint' });
  return { images: eachImage(r.images), grid: gridOf(r.images), classLabels: r.classLabels };
}

function runImg2Img(spec: JobSpec, p: Img2ImgParams, ctx: ComputeContext): RawResult {
  const r = img2img({ ...editOptions(spec, p, ctx), image: tensorOf(p.image), strength: p.strength });
  return { images: eachImage(r.images), grid: gridOf(r.images), classLabels: r.classLabels };
}

/** SR3: the low-resolution upload, upsampled and refined by the super-resolution model. */
function runUpscale(spec: JobSpec, p: UpscaleParams, ctx: ComputeContext): RawResult {
  const { model, schedulerConfig } = loadModel(ctx.modelsDir, p.model);
  const r = upscale({
    model,
    schedulerConfig,
    scale: p.scale,
    image: tensorOf(p.image),
    scheduler: p.sampler,
    steps: p.steps,
    seed: p.seed,
    ...(p.eta === undefined ? {} : { eta: p.eta }),
    signal: ctx.signal,
    onProgress: progressTo(spec, ctx, false),
  });
  return { images: eachImage(r.images), grid: gridOf(r.images), classLabels: null };
}

/** The forward process of one image at the requested timesteps, one noise draw for all. */
function runExplain(p: ExplainParams, ctx: ComputeContext): RawResult {
  const { schedulerConfig } = loadModel(ctx.modelsDir, p.model);
  const f = forwardFrames({ image: tensorOf(p.image), timesteps: p.t, schedulerConfig, seed: p.seed });
  ctx.onProgress({ step: 1, total: 1 });
  const frames = eachImage(f.frames);
  // JSON has no Infinity: SNR at abar = 1 is sent as null (infinite).
  return { images: [wire({ data: tensorOf(p.image).toArray(), height: p.image.height, width: p.image.width, channels: p.image.channels })], grid: gridOf(f.frames), classLabels: null, forward: { t: f.timesteps, snr: f.snr, alphaBar: f.alphaBar, frames } };
}

/**
 * Runs one job to its raw result. Throws CancelledError when `ctx.signal` aborts.
 */
export function runJob(spec: JobSpec, ctx: ComputeContext): RawResult {
  try {
    ctx.signal.throwIfAborted();
    switch (spec.kind) {
      case 'generate':
        return runGenerate(spec, spec.params, ctx);
      case 'inpaint':
        return runInpaint(spec, spec.params, ctx);
      case 'img2img':
        return runImg2Img(spec, spec.params, ctx);
      case 'explain':
        return runExplain(spec.params, ctx);
      case 'upscale':
        return runUpscale(spec, spec.params, ctx);
    }
  } catch (e) {
    if (ctx.signal.aborted) throw new CancelledError('cancelled');
    throw e;
  }
}

