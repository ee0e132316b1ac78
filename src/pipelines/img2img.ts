/**
 * Image-to-image translation by SDEdit (Meng et al. 2022, "SDEdit: Guided Image Synthesis and
 * Editing with Stochastic Differential Equations", Alg. 1): noise the input x_0 part of the way
 * up the forward process and run the reverse process from there. The strength S in [0, 1] is the
 * fraction of the reverse schedule that runs, with diffusers' img2img truncation: of the N steps
 * of the full schedule, the last floor(N S) run (none at S = 0: the input comes back unchanged).
 *   scheduler: timesteps[(N - floor(N S)) * order:], start x = scheduler.addNoise(x_0, z, t_start)
 *              (VP: sqrt(abar) x_0 + sqrt(1 - abar) z; VE schedulers: x_0 + sigma z);
 *   sampler:   sigmas[N - floor(N S):], start x = x_0 + sigma_start z (EDM's x = x_0 + sigma n).
 * Low strength keeps the input's layout and changes details; S = 1 starts from the noisiest
 * level of the schedule (still carrying a trace of the input unless that level has zero SNR).
 */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { concat } from '../ops/concat.js';
import { sliceBatch } from '../ops/slice.js';
import { clamp } from '../ops/scalar.js';
import { advanceGenerator, checkStreamBudget } from '../sampling/noise_streams.js';
import { planCommon } from '../sampling/common_options.js';
import { makeChunk, runChunk } from '../sampling/run_chunk.js';
import { ProgressCounter } from '../sampling/progress.js';
import { checkImages, checkModel, repeatImages, type EditOptions } from './edit.js';
import { DEFAULT_STEPS, FALLBACK_SCHEDULER } from '../sampling/registry.js';

/** Options of `img2img`. */
export interface Img2ImgOptions extends EditOptions {
  /** The input: (H, W, C) or (N, H, W, C) in [-1, 1], C = the model's in_channels. */
  image: Tensor;
  /** The fraction of the schedule to run, in [0, 1] (0: the input unchanged; 1: the whole schedule). */
  strength: number;
  /** Variations of a single input image (default: 1, or the batch size N of `image`). */
  n?: number;
}

/** What `img2img` returns. */
export interface Img2ImgResult {
  /** (N, H, W, C), clamped to [-1, 1] (NaN stays NaN). */
  images: Tensor;
  /** The class of each image, or null for an unconditional model. */
  classLabels: number[] | null;
  /** The noised input the reverse process started from, in the sampler's space; null when no step runs. */
  noised: Tensor | null;
  /** Reverse steps that ran: floor(steps * strength) (model evaluations may be more for 2nd-order schedulers). */
  stepsRun: number;
  /** The timestep the reverse process started at (a sampler's: the fractional one of its sigma), or null. */
  startTimestep: number | null;
  /** The noise level sigma = sqrt((1 - abar) / abar) of the start, or null. */
  startSigma: number | null;
}

/**
 * Which part of the schedule SDEdit runs at `strength`: diffusers' truncation, the last
 * floor(steps * strength) of `steps` steps.
 * @example img2imgStart(50, 0.3) // { skip: 35, run: 15 }
 */
export function img2imgStart(steps: number, strength: number): { skip: number; run: number } {
  const run = Math.min(Math.floor(steps * strength), steps);
  return { skip: steps - run, run };
}

function checkStrength(op: string, s: unknown): asserts s is number {
  if (typeof s !== 'number' || !(s >= 0 && s <= 1)) throw new ArgumentError(`${op}: 'strength' must be a number in [0, 1] (the fraction of the schedule to run: 0 keeps the input, 1 runs it all), found ${String(s)}`);
}

/**
 * SDEdit: noises `image` to `strength` and runs the reverse process from there, with any
 * scheduler or sampler generate() accepts, class labels and classifier-free guidance.
 * @example
 * const model = UNet2DModel.fromPretrained('models/fashion-mnist/unet');
 * const schedulerConfig = readSchedulerConfig('models/fashion-mnist/scheduler');
 * const image = await readPng('shirt.png'); // (28, 28, 1)
 * const { images } = img2img({ model, schedulerConfig, image, strength: 0.5, classLabels: 6, seed: 0 });
 */
export function img2img(options: Img2ImgOptions): Img2ImgResult {
  const op = 'img2img';
  if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: expected an options object { model, image, strength, seed, ... }`);
  const model = checkModel(op, options.model);
  checkStrength(op, options.strength);
  const batch = checkImages(op, 'image', options.image, model);
  const [N, h, w, c] = batch.shape as [number, number, number, number];
  let n = N;
  if (options.n !== undefined) {
    if (!Number.isInteger(options.n) || options.n < 1) throw new ArgumentError(`${op}: 'n' must be an integer >= 1, found ${String(options.n)}`);
    if (N !== 1 && options.n !== N) throw new ArgumentError(`${op}: 'n' = ${options.n} variations need a single input image, but 'image' holds ${N}`);
    n = options.n;
  }
  const p = planCommon(op, options, { n, h, w, c, defaultScheduler: FALLBACK_SCHEDULER, defaultSteps: DEFAULT_STEPS });
  const { process } = p;
  // Each image's draws (start noise, then up to two per model evaluation) must fit its stream.
  checkStreamBudget(op, 2 * process.loops + 1, h, w, c, `${process.loops} steps of ${h}x${w}x${c} noise`);
  const { skip, run } = img2imgStart(p.steps, options.strength);
  if (skip > 0 && run > 0 && !process.startsPartWay) {
    throw new ArgumentError(`${op}: ${process.name} cannot start part-way through its schedule (its Runge-Kutta warm-up is laid out from the first timestep); use another scheduler (ddim, unipc, dpmsolver, ...) or strength 1`);
  }
  const input = repeatImages(batch, n, 'float32'); // (N, H, W, C)
  if (run === 0) {
    advanceGenerator(options.generator, p.origin, n);
    return { images: input, classLabels: p.cond.labels, noised: null, stepsRun: 0, startTimestep: null, startSigma: null };
  }
  const from = process.entryAfter(skip);
  const { timestep: startTimestep, sigma: startSigma } = process.levelAt(from);
  const progress = new ProgressCounter(Math.ceil(n / p.batch) * (process.loops - from), p.emit);
  const outs: Tensor[] = [];
  const noised: Tensor[] = [];
  for (let start = 0; start < n; start += p.batch) {
    const b = Math.min(p.batch, n - start);
    const chunk = makeChunk(p, start, b, null);
    const x0 = repeatImages(sliceBatch(input, start, start + b), b, p.dtype);
    const x = process.noiseTo(x0, chunk.noise(), from);
    noised.push(x);
    outs.push(runChunk(p, chunk, x, progress, { from }));
  }
  advanceGenerator(options.generator, p.origin, n);
  const cat = (ts: Tensor[]): Tensor => (ts.length === 1 ? ts[0]! : concat(ts, 0));
  return { images: clamp(cat(outs), -1, 1), classLabels: p.cond.labels, noised: cat(noised), stepsRun: run, startTimestep, startSigma };
}
