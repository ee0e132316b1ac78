/**
 * Inpainting with an unconditionally trained diffusion model: generate the masked-out region of an
 * image so that it fits the known region, which comes back exactly as it went in.
 *
 * - 'replace' (the replacement method: Song et al. 2021, "Score-Based Generative Modeling through
 *   SDEs", app. I.2; diffusers' legacy inpaint pipeline): any scheduler or sampler generate()
 *   accepts runs from pure noise, and before every model evaluation the known pixels of its input
 *   are the known image forward-noised to that evaluation's noise level (fresh noise from the
 *   image's seeded stream), which is the same as replacing them after each step at the new level.
 * - 'repaint' (Lugmayr et al. 2022, "RePaint: Inpainting using Denoising Diffusion Probabilistic
 *   Models", Alg. 1 and sec. 4.2): DDPM steps (or DDIM with eta) with the same replacement, plus
 *   resampling: on the time-travel schedule (repaintSchedule) the sample jumps back up
 *   `jumpLength` steps through the forward process x_t ~ q(x_t | x_s) = N(sqrt(abar_t / abar_s)
 *   x_s, (1 - abar_t / abar_s) I) and is denoised again, `jumpNSample` times in all, so the
 *   generated region harmonises with the known one.
 * The output is the final composite: known pixels are the input's values exactly.
 *
 * Mask convention (mask_convention.ts): diffusers', 1 = repaint (generate), 0 = keep (known), as
 * on every surface of diffuse; `maskConvention: 'keep'` reads 1 = keep (the library and CLI before
 * 0.1.0). boxMask(h, w, box) builds a mask that repaints a rectangle.
 */
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { ArgumentError } from '../tensor/errors.js';
import { concat } from '../ops/concat.js';
import { sliceBatch } from '../ops/slice.js';
import { clamp } from '../ops/scalar.js';
import { where } from '../ops/where.js';
import { combine } from '../diffusion/forward.js';
import { DDIMScheduler, DDPMScheduler } from '../schedulers/index.js';
import type { StepOptions } from '../schedulers/scheduler.js';
import { advanceGenerator, checkStreamBudget } from '../sampling/noise_streams.js';
import { planCommon, type SamplingPlan } from '../sampling/common_options.js';
import { makeChunk, runChunk, type Chunk } from '../sampling/run_chunk.js';
import { ProgressCounter } from '../sampling/progress.js';
import type { KnownRegion } from '../sampling/reverse_process.js';
import { checkImages, checkMask, checkModel, repeatImages, type EditOptions } from './edit.js';
import { DEFAULT_STEPS, FALLBACK_SCHEDULER } from '../sampling/registry.js';
import { maskConventionOf, maskMeaning, type MaskConvention } from '../diffusion/mask_convention.js';

/** The inpainting methods. */
export type InpaintMethod = 'replace' | 'repaint';
export const INPAINT_METHODS: readonly InpaintMethod[] = ['replace', 'repaint'];

/** RePaint's defaults in the paper (sec. 5: 250 steps, j = 10, r = 10). */
export const REPAINT_JUMP_LENGTH = 10;
export const REPAINT_JUMP_N_SAMPLE = 10;

/** A rectangle: left column x, top row y, width w, height h, in pixels. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Options of `inpaint`. */
export interface InpaintOptions extends EditOptions {
  /** The image(s) to complete: (H, W, C) or (N, H, W, C) in [-1, 1]. */
  image: Tensor;
  /**
   * Which pixels to repaint: 1 = repaint (generate), 0 = keep, diffusers' convention (or the
   * reverse with `maskConvention: 'keep'`); (H, W), (H, W, 1) or (N, H, W, 1) (or C channels),
   * values exactly 0 or 1. Give this or `box`.
   */
  mask?: Tensor;
  /**
   * What the mask's 1 means: 'repaint' (default; diffusers') or 'keep' (diffuse before 0.1.0,
   * whose masks were 1 = keep: pass this to use such masks unchanged).
   */
  maskConvention?: MaskConvention;
  /** The rectangle to generate (everything else is kept). Give this or `mask`. */
  box?: Box;
  /** 'replace' (default; any scheduler or sampler) or 'repaint' (DDPM or DDIM steps with resampling). */
  method?: InpaintMethod;
  /** RePaint: steps to jump back up each time (default 10). */
  jumpLength?: number;
  /** RePaint: how many times each jump interval is traversed (default 10; 1 = no resampling). */
  jumpNSample?: number;
  /** Completions of a single input image (default: 1, or the batch size N of `image`). */
  n?: number;
}

/** What `inpaint` returns. */
export interface InpaintResult {
  /** (N, H, W, C): the known pixels exactly as given, the rest generated and clamped to [-1, 1]. */
  images: Tensor;
  /** The class of each image, or null for an unconditional model. */
  classLabels: number[] | null;
  /** The keep-mask used, one byte per value of `images` (1: kept). */
  keep: Uint8Array;
  /** Model evaluations per image. */
  modelEvaluations: number;
}

/**
 * A mask (H, W, 1) in the default convention: ones (repaint) inside `box`, zeros (keep) outside;
 * the box must lie inside the image.
 * @example boxMask(28, 28, { x: 7, y: 7, w: 14, h: 14 }) // repaint the central 14x14
 */
export function boxMask(height: number, width: number, box: Box): Tensor {
  const op = 'boxMask';
  if (box === null || typeof box !== 'object') throw new ArgumentError(`${op}: 'box' must be { x, y, w, h } in pixels, found ${box === null ? 'null' : typeof box}`);
  for (const k of ['x', 'y', 'w', 'h'] as const) {
    const v = box[k];
    const min = k === 'w' || k === 'h' ? 1 : 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ArgumentError(`${op}: box.${k} must be an integer >= ${min}, found ${String(v)}`);
  }
  if (box.x + box.w > width || box.y + box.h > height) {
    throw new ArgumentError(`${op}: box x ${box.x}, y ${box.y}, w ${box.w}, h ${box.h} reaches column ${box.x + box.w - 1} and row ${box.y + box.h - 1}, outside the ${height}x${width} image (columns 0..${width - 1}, rows 0..${height - 1})`);
  }
  const m = new Float32Array(height * width); // (H, W, 1): 1 = repaint
  for (let y = box.y; y < box.y + box.h; y++) m.fill(1, y * width + box.x, y * width + box.x + box.w);
  return new Tensor(m, [height, width, 1]);
}

/**
 * RePaint's time-travel schedule (Lugmayr et al. 2022, sec. 4.2 and their get_schedule_jump):
 * the states visited, as indices into `steps` inference steps (steps - 1 = the noisiest, -1 = the
 * final image). From every jumpLength-th state j in [0, steps - jumpLength) the chain jumps back
 * up jumpLength states jumpNSample - 1 times. Consecutive states differ by one: down is a reverse
 * (denoising) step, up a forward (noising) one.
 * @example repaintSchedule(5, 2, 2) // [4, 3, 2, 3, 4, 3, 2, 1, 0, 1, 2, 1, 0, -1]
 */
export function repaintSchedule(steps: number, jumpLength: number, jumpNSample: number): number[] {
  const op = 'repaintSchedule';
  for (const [name, v] of [['steps', steps], ['jumpLength', jumpLength], ['jumpNSample', jumpNSample]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(`${op}: '${name}' must be an integer >= 1, found ${String(v)}`);
  }
  const jumps = new Map<number, number>();
  for (let j = 0; j < steps - jumpLength; j += jumpLength) jumps.set(j, jumpNSample - 1);
  const states: number[] = [];
  let t = steps;
  while (t >= 1) {
    t--;
    states.push(t);
    const left = jumps.get(t) ?? 0;
    if (left > 0) {
      jumps.set(t, left - 1);
      for (let k = 0; k < jumpLength; k++) states.push(++t);
    }
  }
  states.push(-1);
  return states;
}

/** Reverse (model) steps in a RePaint schedule: the number of downward moves. */
function countDown(states: readonly number[]): number {
  let down = 0;
  for (let i = 1; i < states.length; i++) if (states[i]! < states[i - 1]!) down++;
  return down;
}

function checkMethod(op: string, o: InpaintOptions): { method: InpaintMethod; jumpLength: number; jumpNSample: number } {
  const method = o.method ?? 'replace';
  if (!INPAINT_METHODS.includes(method)) throw new ArgumentError(`${op}: 'method' must be one of ${INPAINT_METHODS.join(', ')}, found ${String(method)}`);
  const jumpLength = o.jumpLength ?? REPAINT_JUMP_LENGTH;
  const jumpNSample = o.jumpNSample ?? REPAINT_JUMP_N_SAMPLE;
  if (method === 'replace' && (o.jumpLength !== undefined || o.jumpNSample !== undefined)) {
    throw new ArgumentError(`${op}: 'jumpLength' and 'jumpNSample' are RePaint's; pass method: 'repaint' to use them`);
  }
  for (const [name, v] of [['jumpLength', jumpLength], ['jumpNSample', jumpNSample]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(`${op}: '${name}' must be an integer >= 1, found ${String(v)}`);
  }
  return { method, jumpLength, jumpNSample };
}

/**
 * Completes the masked-out region of `image` with `model`, keeping the known pixels exactly.
 * @example
 * const model = UNet2DModel.fromPretrained('models/fashion-mnist/unet');
 * const schedulerConfig = readSchedulerConfig('models/fashion-mnist/scheduler');
 * const image = await readPng('shirt.png'); // (28, 28, 1)
 * const { images } = inpaint({ model, schedulerConfig, image, box: { x: 7, y: 7, w: 14, h: 14 }, classLabels: 6, seed: 0 });
 * inpaint({ model, schedulerConfig, image, mask, method: 'repaint', scheduler: 'ddpm', steps: 100, jumpLength: 10, jumpNSample: 5, seed: 0 });
 */
export function inpaint(options: InpaintOptions): InpaintResult {
  const op = 'inpaint';
  if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: expected an options object { model, image, mask | box, seed, ... }`);
  const model = checkModel(op, options.model);
  const batch = checkImages(op, 'image', options.image, model);
  const [N, h, w, c] = batch.shape as [number, number, number, number];
  let n = N;
  if (options.n !== undefined) {
    if (!Number.isInteger(options.n) || options.n < 1) throw new ArgumentError(`${op}: 'n' must be an integer >= 1, found ${String(options.n)}`);
    if (N !== 1 && options.n !== N) throw new ArgumentError(`${op}: 'n' = ${options.n} completions need a single input image, but 'image' holds ${N}`);
    n = options.n;
  }
  const convention = maskConventionOf(op, options.maskConvention);
  if ((options.mask === undefined) === (options.box === undefined)) throw new ArgumentError(`${op}: pass exactly one of 'mask' (${maskMeaning(convention)}) or 'box' ({ x, y, w, h }: the region to generate)`);
  if (options.box !== undefined && options.maskConvention !== undefined) throw new ArgumentError(`${op}: 'maskConvention' applies to 'mask'; 'box' is the region to generate whatever the convention`);
  const { method, jumpLength, jumpNSample } = checkMethod(op, options);
  // One image's mask applies to all its n completions.
  const keep = options.mask !== undefined ? checkMask(op, options.mask, [N === 1 ? 1 : n, h, w, c], convention) : checkMask(op, boxMask(h, w, options.box!), [N === 1 ? 1 : n, h, w, c]);
  const per = h * w * c;
  const keepAll = new Uint8Array(n * per);
  for (let i = 0; i < n; i++) keepAll.set(keep.subarray((N === 1 ? 0 : i) * per, ((N === 1 ? 0 : i) + 1) * per), i * per);
  const p = planCommon(op, options, { n, h, w, c, defaultScheduler: FALLBACK_SCHEDULER, defaultSteps: DEFAULT_STEPS });
  const { process } = p;
  checkStreamBudget(op, 2 * process.loops + 1, h, w, c, `${process.loops} steps of ${h}x${w}x${c} noise`);
  const input = repeatImages(batch, n, p.dtype); // (N, H, W, C)
  const keepMask = new Tensor(p.dtype === 'float64' ? Float64Array.from(keepAll) : Float32Array.from(keepAll), [n, h, w, c]); // 1: known
  let states: number[] = [];
  if (method === 'repaint') {
    const s = process.scheduler;
    if (!(s instanceof DDPMScheduler || s instanceof DDIMScheduler)) {
      throw new ArgumentError(`${op}: RePaint runs on DDPM steps (scheduler 'ddpm', or 'ddim' with eta), found '${process.name}'; use method 'replace' for other schedulers and samplers`);
    }
    states = repaintSchedule(p.steps, jumpLength, jumpNSample);
  }
  const evals = method === 'repaint' ? countDown(states) : process.loops;
  const progress = new ProgressCounter(Math.ceil(n / p.batch) * evals, p.emit);
  const outs: Tensor[] = [];
  for (let start = 0; start < n; start += p.batch) {
    const b = Math.min(p.batch, n - start);
    const chunk = makeChunk(p, start, b, null);
    const known: KnownRegion = { image: sliceBatch(input, start, start + b), keep: sliceBatch(keepMask, start, start + b) };
    const z = chunk.noise(); // x_T / its std
    let x: Tensor;
    if (method === 'repaint') x = repaintChunk(p, states, z, chunk, known, progress);
    else x = runChunk(p, chunk, process.initNoiseSigma === 1 ? z : combine(op, process.initNoiseSigma, z, 0, z), progress, { known });
    // The final composite: known pixels exactly as given.
    outs.push(where(known.keep, known.image, clamp(x, -1, 1)));
  }
  advanceGenerator(options.generator, p.origin, n);
  return { images: outs.length === 1 ? outs[0]! : concat(outs, 0), classLabels: p.cond.labels, keep: keepAll, modelEvaluations: evals };
}

/**
 * One chunk of RePaint: walks the state schedule; a downward move from state i (timestep
 * asc[i]) replaces the known pixels at that level and takes a DDPM/DDIM step to asc[i - 1] (the
 * next listed timestep, x_0 after the last); an upward move noises x_{asc[i]} to x_{asc[i + 1]}.
 * Draws per image: x_T (by the caller), then per downward move the known pixels' noise and the
 * step's noise, per upward move the jump's noise.
 */
function repaintChunk(p: SamplingPlan, states: readonly number[], x: Tensor, chunk: Chunk, known: KnownRegion, progress: ProgressCounter): Tensor {
  const s = p.process.scheduler;
  if (!(s instanceof DDPMScheduler || s instanceof DDIMScheduler)) throw new ArgumentError(`${p.op}: RePaint needs a DDPM or DDIM scheduler`);
  s.setTimesteps(p.steps);
  const desc = s.timesteps;
  // Explicit timesteps make each step land on the next listed one, so states and timesteps agree.
  s.setTimesteps({ timesteps: desc });
  const asc = [...desc].reverse(); // state i <-> timestep asc[i]
  const acp = s.alphasCumprod;
  const { guard } = chunk;
  guard.total = countDown(states);
  guard.entry = 0;
  guard.sample(x, -1);
  return noGrad(() => {
    for (let k = 1; k < states.length; k++) {
      const from = states[k - 1]!;
      const to = states[k]!;
      if (to < from) {
        p.signal?.throwIfAborted();
        const t = asc[from]!;
        x = where(known.keep, s.addNoise(known.image, chunk.noise(), t), x);
        const out = chunk.model.output(x, t);
        const stepOptions: StepOptions & { eta?: number } = { noise: chunk.noise() };
        if (p.eta !== undefined) stepOptions.eta = p.eta;
        const r = s.step(out, t, x, stepOptions);
        x = r.prevSample;
        guard.sample(x, guard.entry++);
        progress.tick(x, r.predOriginalSample);
      } else {
        // q(x_t | x_s) of the chain: one Gaussian jump from timestep asc[from] up to asc[to].
        const ratio = acp[asc[to]!]! / acp[asc[from]!]!;
        x = combine(p.op, Math.sqrt(ratio), x, Math.sqrt(1 - ratio), chunk.noise(), ['x', 'noise']);
      }
    }
    return x;
  });
}
