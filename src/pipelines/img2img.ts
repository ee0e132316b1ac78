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
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../tensor/errors.js';
import { combine } from '../diffusion/forward.js';
import {
  advanceGenerator, checkImages, checkModel, clampInPlace, drawNoise, imageStream, planEdit, rows, runSampler, runScheduler,
  type EditOptions, type EditPlan,
} from './edit.js';

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
  const p = planEdit(op, options, n, h, w, c);
  const { skip, run } = img2imgStart(p.steps, options.strength);
  if (skip > 0 && run > 0 && p.resolved.kind === 'scheduler' && p.resolved.scheduler.className === 'PNDMScheduler') {
    throw new ArgumentError(`${op}: PNDMScheduler cannot start part-way through its schedule (its Runge-Kutta warm-up is laid out from the first timestep); use another scheduler (ddim, unipc, dpmsolver, ...) or strength 1`);
  }
  const per = h * w * c;
  const input = new Tensor(new Float32Array(n * per), [n, h, w, c]); // (N, H, W, C)
  for (let i = 0; i < n; i++) input.data.set(batch.data.subarray((N === 1 ? 0 : i) * per, ((N === 1 ? 0 : i) + 1) * per), i * per);
  if (run === 0) {
    advanceGenerator(options.generator, p);
    return { images: input, classLabels: p.cond.labels, noised: null, stepsRun: 0, startTimestep: null, startSigma: null };
  }
  const out = new Tensor(p.dtype === 'float64' ? new Float64Array(n * per) : new Float32Array(n * per), [n, h, w, c]);
  const noisedAll = new Tensor(p.dtype === 'float64' ? new Float64Array(n * per) : new Float32Array(n * per), [n, h, w, c]);
  const { from, startTimestep, startSigma, evals } = startOf(p, skip);
  const progress = { done: 0, total: Math.ceil(n / p.batch) * evals };
  for (let start = 0; start < n; start += p.batch) {
    const b = Math.min(p.batch, n - start);
    const gens = Array.from({ length: b }, (_, j) => imageStream(p, start + j));
    const x0 = castRows(rows(input, start, b), p);
    const z = drawNoise(gens, p);
    const chunk = { start, gens, labels: p.cond.labels === null ? null : p.cond.labels.slice(start, start + b), progress };
    let x: Tensor;
    if (p.resolved.kind === 'scheduler') {
      const s = p.resolved.scheduler;
      s.setTimesteps(p.steps);
      x = s.addNoise(x0, z, s.timesteps[from]!);
      noisedAll.data.set(x.data, start * per);
      x = runScheduler(p, s, from, x, chunk, null);
    } else {
      const sigmas = p.sigmas!.subarray(from);
      x = combine(op, 1, x0, sigmas[0]!, z, ['image', 'noise']);
      noisedAll.data.set(x.data, start * per);
      x = runSampler(p, p.resolved.sampler, sigmas, x, chunk, null);
    }
    out.data.set(x.data, start * per);
  }
  advanceGenerator(options.generator, p);
  return { images: clampInPlace(out), classLabels: p.cond.labels, noised: noisedAll, stepsRun: run, startTimestep, startSigma };
}

/** The image batch in the model's dtype. */
function castRows(x: Tensor, p: EditPlan): Tensor {
  if (x.dtype === p.dtype) return x;
  return new Tensor(p.dtype === 'float64' ? Float64Array.from(x.data) : Float32Array.from(x.data), x.shape);
}

/** Where the truncated schedule starts: the index into timesteps (or sigmas), its t and sigma, and evaluations per chunk. */
function startOf(p: EditPlan, skip: number): { from: number; startTimestep: number; startSigma: number; evals: number } {
  if (p.resolved.kind === 'scheduler') {
    const s = p.resolved.scheduler;
    const from = skip * s.order;
    const ts = s.timesteps;
    const t = ts[from]!;
    // Sigma-schedule schedulers list their sigmas; DDPM-family ones have abar.
    const sig = (s as { sigmas?: ArrayLike<number> }).sigmas;
    const acp = (s as { alphasCumprod?: Float64Array }).alphasCumprod;
    const sigma = sig !== undefined ? sig[from]! : acp !== undefined && Number.isInteger(t) ? Math.sqrt((1 - acp[t]!) / acp[t]!) : NaN;
    return { from, startTimestep: t, startSigma: sigma, evals: ts.length - from };
  }
  const sigma = p.sigmas![skip]!;
  return { from: skip, startTimestep: p.schedule!.sigmaToT(sigma), startSigma: sigma, evals: p.steps - skip };
}
