/**
 * Unconditional and class-conditional image generation: the reverse process of a trained U-Net
 * from pure noise, through the one reverse-process engine (src/sampling/): any diffusers-style
 * scheduler (DDPM, Ho et al. 2020, Alg. 2; DDIM, Song et al. 2021, eq. 12; ...) or k-diffusion-
 * style sampler ('euler', 'heun', 'dpmpp_2m', ...; default sigma schedule Karras et al. 2022,
 * eq. 5), with classifier-free guidance (Ho & Salimans 2022, eq. 6), classifier guidance, and SR3
 * conditioning channels, all composed by sampling/conditioned_model.ts.
 *
 * Determinism: image i draws its x_T and every step's noise from its own stream of the seeded
 * Philox generator (counters base + i * IMAGE_STREAM_COUNTERS onwards; sampling/noise_streams.ts),
 * so an image depends on the seed, its index and its class, never on n, the batch size or how the
 * work was chunked.
 */
import { Tensor } from '../tensor/tensor.js';
import { zeros } from '../tensor/create.js';
import { noGrad } from '../tensor/autograd.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { concat } from '../ops/concat.js';
import { sliceBatch } from '../ops/slice.js';
import { clamp } from '../ops/scalar.js';
import { combine } from '../diffusion/forward.js';
import { UNet2DModel } from '../nn/unet_2d.js';
import { advanceGenerator, checkStreamBudget } from '../sampling/noise_streams.js';
import { planCommon, type SamplingOptions } from '../sampling/common_options.js';
import { makeChunk, runChunk } from '../sampling/run_chunk.js';
import { ProgressCounter } from '../sampling/progress.js';
import type { SchedulerChoice } from '../sampling/registry.js';

export { IMAGE_STREAM_COUNTERS } from '../sampling/noise_streams.js';
export { DEFAULT_BATCH_SIZE } from '../sampling/common_options.js';
export { SCHEDULER_ALIASES, schedulerNames, resolveScheduler, type SchedulerChoice, type ResolvedScheduler } from '../sampling/registry.js';
export { samplerSigmas } from '../sampling/sampler_process.js';

/** Options of `generate`. */
export interface GenerateOptions extends SamplingOptions {
  /**
   * The reverse process: a scheduler (generate calls its setTimesteps(steps) before each chunk), a
   * SAMPLERS entry, or the name of either ('ddim', 'unipc', 'EulerDiscreteScheduler', 'dpmpp_2m', ...).
   */
  scheduler: SchedulerChoice;
  /** Number of images. */
  n: number;
  /** Number of reverse steps (scheduler timesteps). */
  steps: number;
  /**
   * Extra channels concatenated to every model input, (N, H, W, Cc): SR3's upsampled low-resolution
   * image (pipelines/superres.ts). The model's in_channels is then C + Cc; the images have C channels.
   */
  conditioning?: Tensor;
  /** Image size (height, width) when the model's config has no sample_size. */
  size?: number | readonly [number, number];
  /** Record this many frames of (x_t, predicted x_0), evenly spaced over the reverse process. */
  trajectoryFrames?: number;
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

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1;
}

/** The image size: the config's sample_size, or `size`, checked against the U-Net's downsampling. */
function imageSize(op: string, model: UNet2DModel, size: GenerateOptions['size']): [number, number] {
  const cfg = model.config;
  const s = size ?? cfg.sampleSize;
  if (s === null) throw new ArgumentError(`${op}: the model's config has no sample_size; pass 'size' (e.g. 28 or [32, 48])`);
  const [h, w] = typeof s === 'number' ? [s, s] : [s[0], s[1]];
  if (!isPosInt(h) || !isPosInt(w)) throw new ArgumentError(`${op}: 'size' must be an integer >= 1 or [height, width], found ${JSON.stringify(s)}`);
  const factor = 2 ** (cfg.blockOutChannels.length - 1);
  if (h % factor !== 0 || w % factor !== 0) {
    throw new ShapeError(`${op}: image size ${h}x${w} is not divisible by ${factor} (the U-Net halves it ${cfg.blockOutChannels.length - 1} times)`);
  }
  return [h, w];
}

/** States 0..loops (state s = after s entries) of `frames` evenly spaced frames. */
function frameStates(frames: number, loops: number): number[] {
  return [...new Set(Array.from({ length: frames }, (_, f) => Math.round((f * loops) / (frames - 1))))];
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
 * generate({ model, scheduler: 'unipc', schedulerConfig, n: 16, steps: 20, seed: 0, onProgress: (e) => console.log(e.step, e.total) });
 */
export function generate(options: GenerateOptions): GenerateResult {
  const op = 'generate';
  if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: expected an options object { model, scheduler, n, steps, seed | generator, ... }`);
  const { model } = options;
  if (!(model instanceof UNet2DModel)) throw new ArgumentError(`${op}: 'model' must be a UNet2DModel (UNet2DModel.fromPretrained(dir)), found ${model === null ? 'null' : typeof model}`);
  if (!isPosInt(options.n)) throw new ArgumentError(`${op}: 'n' (number of images) must be an integer >= 1, found ${String(options.n)}`);
  const n = options.n;
  const [h, w] = imageSize(op, model, options.size);
  const cond = options.conditioning ?? null;
  const cfg = model.config;
  if (cond !== null && (!(cond instanceof Tensor) || cond.rank !== 4 || cond.shape[0] !== n || cond.shape[1] !== h || cond.shape[2] !== w || !(cond.shape[3]! < cfg.inChannels))) {
    throw new ShapeError(`${op}: 'conditioning' must be (n, H, W, Cc) = (${n}, ${h}, ${w}, Cc) with Cc below the model's in_channels ${cfg.inChannels}, found ${cond instanceof Tensor ? fmtShape(cond.shape) : typeof cond}`);
  }
  const c = cfg.inChannels - (cond?.shape[3] ?? 0);
  const nf = options.trajectoryFrames;
  if (nf !== undefined && (!Number.isInteger(nf) || nf < 2)) throw new ArgumentError(`${op}: 'trajectoryFrames' must be an integer >= 2, found ${String(nf)}`);
  const p = planCommon(op, options, { n, h, w, c });
  const { process } = p;
  // Each image's draws (x_T and one per model evaluation) must fit its counter stream.
  checkStreamBudget(op, process.loops + 1, h, w, c, `${process.loops} steps of ${h}x${w}x${cfg.inChannels} noise`);
  const frames = nf === undefined ? [] : frameStates(nf, process.loops);

  const progress = new ProgressCounter(Math.ceil(n / p.batch) * process.loops, p.emit);
  const chunks: Tensor[] = [];
  const traj = frames.map(() => ({ xt: [] as Tensor[], x0: [] as Tensor[] }));
  noGrad(() => {
    for (let start = 0; start < n; start += p.batch) {
      const b = Math.min(p.batch, n - start);
      const ci = chunks.length;
      const chunk = makeChunk(p, start, b, cond === null ? null : sliceBatch(cond, start, start + b));
      const record = (s: number, xt: Tensor, x0: Tensor): void => {
        const f = frames.indexOf(s);
        if (f < 0) return;
        traj[f]!.xt[ci] = xt;
        traj[f]!.x0[ci] = x0;
      };
      const z = chunk.noise(); // (B, H, W, C) = x_T / its std
      const xT = process.initNoiseSigma === 1 ? z : combine(op, process.initNoiseSigma, z, 0, z);
      const x = runChunk(p, chunk, xT, progress, { onEntry: (e) => record(e.entry, e.x, e.x0) });
      record(process.loops, x, x);
      chunks.push(x);
      // A frame the run never reached (an adaptive sampler's fewer steps) stays zeros.
      for (const f of traj) {
        f.xt[ci] ??= zeros([b, h, w, c], { dtype: p.dtype });
        f.x0[ci] ??= zeros([b, h, w, c], { dtype: p.dtype });
      }
    }
  });
  advanceGenerator(options.generator, p.origin, n);
  // [-1, 1] for display; NaN stays NaN so a broken model is visible.
  const images = clamp(chunks.length === 1 ? chunks[0]! : concat(chunks, 0), -1, 1);
  const result: GenerateResult = { images, classLabels: p.cond.labels };
  if (frames.length > 0) {
    result.trajectory = {
      stepIndex: [...frames],
      timesteps: frames.map((s) => process.timesteps[s] ?? -1),
      xt: traj.map((f) => (f.xt.length === 1 ? f.xt[0]! : concat(f.xt, 0))),
      x0: traj.map((f) => (f.x0.length === 1 ? f.x0[0]! : concat(f.x0, 0))),
    };
  }
  return result;
}
