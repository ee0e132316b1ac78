/**
 * "Seeing it work": figures of what a diffusion model does.
 * - forwardFrames: one image through the forward process q(x_t | x_0) = N(sqrt(abar_t) x_0,
 *   (1 - abar_t) I) (Ho et al. 2020, eq. 4) at chosen timesteps with one shared noise draw, with
 *   each t's SNR(t) = abar_t / (1 - abar_t) (Kingma et al. 2021) and sigma_t = sqrt(1 / SNR).
 * - reverseTrajectory: the reverse process (generate()'s trajectory), x_t beside the model's
 *   x_0 estimate at evenly spaced steps; x_t of sigma-space samplers is shown VP-scaled,
 *   x / sqrt(sigma^2 + 1), so every frame is on the data's scale.
 * - lossPerTimestep: the model's training loss (the mean squared error of its own
 *   parameterization's target, Ho et al. eq. 14 for epsilon) on real images, binned over t: where
 *   in the schedule the model is good or poor.
 * Writers render each as a labelled PNG (SVG through sharp), a GIF, or a chart (io/plot.ts).
 */
import sharp from 'sharp';
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/autograd.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { UNet2DModel } from '../nn/unet_2d.js';
import { concat } from '../ops/concat.js';
import { sliceBatch } from '../ops/slice.js';
import { reshape } from '../ops/shape.js';
import { addNoise, combine } from '../diffusion/forward.js';
import { trainingTarget } from '../diffusion/loss.js';
import { DDPMScheduler } from '../schedulers/ddpm.js';
import type { DiffusersConfig } from '../schedulers/scheduler.js';
import { DiscreteSchedule } from '../samplers/denoiser.js';
import type { Dataset } from '../data/dataset.js';
import { signedToUint } from '../data/transforms.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeGif } from '../io/gif.js';
import { writeLineChartPng } from '../io/plot.js';
import { generate, type SchedulerChoice } from './generate.js';
import { reverseProcess } from '../sampling/reverse_process.js';
import { progressHandler, type ProgressHandler } from '../sampling/progress.js';
import { checkImages, checkModel } from './edit.js';
import { DEFAULT_STEPS, FALLBACK_SCHEDULER } from '../sampling/registry.js';

/** The training schedule's abar_t (float64) of a scheduler_config.json (diffusers' defaults if empty). */
function alphasCumprodOf(op: string, config: DiffusersConfig): Float64Array {
  try {
    return new DDPMScheduler({ ...config, _class_name: 'DDPMScheduler' }).alphasCumprod;
  } catch (e) {
    throw e instanceof ArgumentError ? new ArgumentError(`${op}: schedulerConfig: ${e.message}`) : e;
  }
}

// ---------------------------------------------------------------------------------------------
// The forward process

/** Options of `forwardFrames`. */
export interface ForwardFramesOptions {
  /** One image, (H, W, C) or (1, H, W, C), in [-1, 1]. */
  image: Tensor;
  /** Integer timesteps in [0, T), any order. */
  timesteps: readonly number[];
  /** The training schedule (scheduler_config.json; default diffusers' linear 1000 steps). */
  schedulerConfig?: DiffusersConfig;
  /** The noise, shaped like the image (or a seed to draw it from; default seed 0). */
  noise?: Tensor;
  seed?: number | bigint;
}

/** One image noised at several timesteps. */
export interface ForwardFrames {
  /** (F, H, W, C): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise, one frame per timestep. */
  frames: Tensor;
  timesteps: number[];
  alphaBar: number[];
  /** abar / (1 - abar) (Infinity where abar = 1). */
  snr: number[];
  /** sqrt((1 - abar) / abar). */
  sigma: number[];
  /** The shared noise, (1, H, W, C). */
  noise: Tensor;
}

/**
 * One image through the forward process at `timesteps`, with one noise draw for all of them.
 * @example const f = forwardFrames({ image, timesteps: [0, 100, 250, 500, 999], schedulerConfig, seed: 0 });
 */
export function forwardFrames(options: ForwardFramesOptions): ForwardFrames {
  const op = 'forwardFrames';
  if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: expected an options object { image, timesteps, ... }`);
  const { image } = options;
  if (!(image instanceof Tensor) || !((image.rank === 3) || (image.rank === 4 && image.shape[0] === 1))) {
    throw new ShapeError(`${op}: 'image' must be one image, (H, W, C) or (1, H, W, C), found ${image instanceof Tensor ? `shape ${fmtShape(image.shape)}` : typeof image}`);
  }
  const [h, w, c] = image.shape.slice(-3) as [number, number, number];
  const acp = alphasCumprodOf(op, options.schedulerConfig ?? {});
  const ts = options.timesteps;
  if (!Array.isArray(ts) || ts.length === 0) throw new ArgumentError(`${op}: 'timesteps' must be a non-empty array of integers in [0, ${acp.length}), found ${JSON.stringify(ts)}`);
  for (const t of ts) {
    if (!Number.isInteger(t) || t < 0 || t >= acp.length) throw new ArgumentError(`${op}: timestep ${String(t)} is not an integer in [0, ${acp.length}) (num_train_timesteps = ${acp.length})`);
  }
  let noise: Tensor;
  if (options.noise !== undefined) {
    if (!(options.noise instanceof Tensor) || options.noise.size !== h * w * c) throw new ShapeError(`${op}: 'noise' must be shaped like the image (${h}, ${w}, ${c})`);
    noise = new Tensor(options.noise.toArray(), [1, h, w, c]);
  } else noise = new Generator(options.seed ?? 0).normal([1, h, w, c]);
  const F = ts.length;
  const one = new Tensor(image.toArray(), [1, h, w, c]); // float32, as the frames are drawn
  const x0 = F === 1 ? one : concat(new Array<Tensor>(F).fill(one), 0); // (F, H, W, C)
  const z = F === 1 ? noise : concat(new Array<Tensor>(F).fill(noise), 0);
  const frames = noGrad(() => addNoise(acp, x0, z, ts));
  const alphaBar = ts.map((t) => acp[t]!);
  return { frames, timesteps: [...ts], alphaBar, snr: alphaBar.map((a) => a / (1 - a)), sigma: alphaBar.map((a) => Math.sqrt((1 - a) / a)), noise };
}

// ---------------------------------------------------------------------------------------------
// The reverse process

/** Options of `reverseTrajectory`. */
export interface ReverseTrajectoryOptions {
  model: UNet2DModel;
  scheduler?: SchedulerChoice;
  schedulerConfig?: DiffusersConfig;
  /** Reverse steps (default 50). */
  steps?: number;
  /** Images (default 1). */
  n?: number;
  classLabels?: number | readonly number[];
  guidanceScale?: number;
  /** Frames recorded, evenly spaced from x_T to the final image (default 10). */
  frames?: number;
  seed?: number | bigint;
  onProgress?: ProgressHandler;
  signal?: AbortSignal;
}

/** x_t and the predicted x_0 along the reverse process. */
export interface ReverseTrajectory {
  /** Per frame: steps done (0 = x_T). */
  stepIndex: number[];
  /** Per frame: the timestep (-1 for the final images). */
  timesteps: number[];
  /** Per frame: x_t on the data's (VP) scale, (N, H, W, C). */
  xt: Tensor[];
  /** Per frame: the model's x_0 estimate, (N, H, W, C). */
  x0: Tensor[];
  /** The final images, (N, H, W, C). */
  images: Tensor;
  classLabels: number[] | null;
}

/**
 * Runs generate() and records `frames` states of x_t (VP-scaled) and the predicted x_0.
 * @example const tr = reverseTrajectory({ model, schedulerConfig, classLabels: 0, frames: 10, seed: 0 });
 */
export function reverseTrajectory(options: ReverseTrajectoryOptions): ReverseTrajectory {
  const op = 'reverseTrajectory';
  if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: expected an options object { model, ... }`);
  const model = checkModel(op, options.model);
  const config = options.schedulerConfig ?? {};
  const choice = options.scheduler ?? FALLBACK_SCHEDULER;
  const steps = options.steps ?? DEFAULT_STEPS;
  const r = generate({
    model,
    scheduler: choice,
    schedulerConfig: config,
    n: options.n ?? 1,
    steps,
    trajectoryFrames: options.frames ?? 10,
    seed: options.seed ?? 0,
    ...(options.classLabels === undefined ? {} : { classLabels: options.classLabels }),
    ...(options.guidanceScale === undefined ? {} : { guidanceScale: options.guidanceScale }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const traj = r.trajectory!;
  // Sigma-space runs (samplers; schedulers whose x_T has std != 1) keep x = x_0 + sigma n.
  const veScale = reverseProcess(op, choice, { steps, schedulerConfig: config }).initNoiseSigma !== 1;
  const schedule = veScale ? DiscreteSchedule.fromConfig(config) : null;
  const xt = traj.xt.map((x, f) => {
    const t = traj.timesteps[f]!;
    if (schedule === null || t < 0) return x;
    const sigma = schedule.tToSigma(t);
    const s = 1 / Math.sqrt(sigma * sigma + 1);
    return combine(op, s, x, 0, x);
  });
  return { stepIndex: traj.stepIndex, timesteps: traj.timesteps, xt, x0: traj.x0, images: r.images, classLabels: r.classLabels };
}

// ---------------------------------------------------------------------------------------------
// The training loss per timestep

/** Options of `lossPerTimestep`. */
export interface LossPerTimestepOptions {
  model: UNet2DModel;
  /** The training schedule and prediction type (scheduler_config.json). */
  schedulerConfig?: DiffusersConfig;
  /** Real images: a dataset (its labels are used for a class-conditional model). */
  dataset: Dataset;
  /** Equal-width bins over [0, T) (default 20). */
  bins?: number;
  /** Images per bin, spread evenly over the dataset (default 64). */
  imagesPerBin?: number;
  /** Images per forward pass (default 64). */
  batchSize?: number;
  /** Seed of the timesteps within each bin and of the noise (default 0). */
  seed?: number | bigint;
  onProgress?: ProgressHandler;
  signal?: AbortSignal;
}

/** The loss binned over t. */
export interface LossPerTimestep {
  /** Each bin's [start, end) timesteps and centre. */
  binStart: number[];
  binEnd: number[];
  binCentre: number[];
  /** Mean and standard error of the per-image loss in each bin. */
  loss: number[];
  stderr: number[];
  /** Images per bin. */
  count: number;
  predictionType: string;
}

/**
 * The model's loss (MSE to its own target: epsilon, x_0 or v) on real images, per timestep bin:
 * each image gets a uniform timestep within each bin and fresh noise.
 * @example const l = lossPerTimestep({ model, schedulerConfig, dataset: fashionMnist('test'), bins: 20 });
 */
export function lossPerTimestep(options: LossPerTimestepOptions): LossPerTimestep {
  const op = 'lossPerTimestep';
  if (options === null || typeof options !== 'object') throw new ArgumentError(`${op}: expected an options object { model, dataset, ... }`);
  const model = checkModel(op, options.model);
  const config = options.schedulerConfig ?? {};
  const acp = alphasCumprodOf(op, config);
  const predictionType = DiscreteSchedule.fromConfig(config).predictionType;
  const T = acp.length;
  const bins = options.bins ?? 20;
  const per = options.imagesPerBin ?? 64;
  const batch = options.batchSize ?? 64;
  for (const [name, v, max] of [['bins', bins, T], ['imagesPerBin', per, Infinity], ['batchSize', batch, Infinity]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new ArgumentError(`${op}: '${name}' must be an integer in [1, ${max}], found ${String(v)}`);
  }
  const ds = options.dataset;
  if (ds === null || typeof ds !== 'object' || typeof ds.get !== 'function' || !(ds.length >= 1)) throw new ArgumentError(`${op}: 'dataset' must be a Dataset with at least one image (loadDataset(...))`);
  const cfg = model.config;
  if (ds.channels !== cfg.inChannels) throw new ShapeError(`${op}: the dataset's images have ${ds.channels} channels but the model takes ${cfg.inChannels}`);
  // Checks the size like the editing pipelines do (one image).
  const first = ds.get(0);
  checkImages(op, 'dataset image', new Tensor(first.image, [ds.imageSize, ds.imageSize, ds.channels]), model);
  const k = cfg.numClassEmbeds;
  const conditional = model.class_embedding !== null && k !== null;
  const label = (l: number | null): number => {
    // Real labels where the model knows them; else the null class (the last embedding).
    if (l !== null && l >= 0 && l < k! - 1) return l;
    return k! - 1;
  };
  const idx = Array.from({ length: per }, (_, i) => Math.floor((i * ds.length) / per));
  const samples = idx.map((i) => ds.get(i));
  const hwc = ds.imageSize * ds.imageSize * ds.channels;
  const gen = new Generator(options.seed ?? 0);
  const binStart: number[] = [];
  const binEnd: number[] = [];
  const loss: number[] = [];
  const stderr: number[] = [];
  const total = bins * Math.ceil(per / batch);
  let done = 0;
  const emit = progressHandler('lossPerTimestep', options);
  noGrad(() => {
    for (let b = 0; b < bins; b++) {
      const lo = Math.floor((b * T) / bins);
      const hi = Math.floor(((b + 1) * T) / bins);
      binStart.push(lo);
      binEnd.push(hi);
      const u = gen.uniform([per]).toArray(); // float32 (what the native kernels draw)
      const ts = Array.from(u, (v) => Math.min(hi - 1, lo + Math.floor(v * (hi - lo))));
      const values: number[] = [];
      for (let s = 0; s < per; s += batch) {
        options.signal?.throwIfAborted();
        const m = Math.min(batch, per - s);
        const buf = new Float32Array(m * hwc); // (M, H, W, C), from the dataset's host images
        for (let j = 0; j < m; j++) buf.set(samples[s + j]!.image, j * hwc);
        const x0 = new Tensor(buf, [m, ds.imageSize, ds.imageSize, ds.channels]);
        const noise = gen.normal(x0.shape);
        const t = ts.slice(s, s + m);
        const xt = addNoise(acp, x0, noise, t);
        const labels = conditional ? samples.slice(s, s + m).map((x) => label(x.label)) : null;
        const pred = model.forward(xt, t, labels);
        const target = trainingTarget(predictionType, x0, noise, acp, t);
        // Host reads, once per batch: the per-image errors are summed in float64.
        const pd = pred.toArray();
        const td = target.toArray();
        for (let j = 0; j < m; j++) {
          let e = 0;
          for (let i = j * hwc; i < (j + 1) * hwc; i++) e += (pd[i]! - td[i]!) ** 2;
          values.push(e / hwc);
        }
        done++;
        emit?.({ step: done, total });
      }
      const mean = values.reduce((a, v) => a + v, 0) / values.length;
      const variance = values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
      loss.push(mean);
      stderr.push(Math.sqrt(variance / values.length));
    }
  });
  return { binStart, binEnd, binCentre: binStart.map((s, i) => (s + binEnd[i]! - 1) / 2), loss, stderr, count: per, predictionType };
}

// ---------------------------------------------------------------------------------------------
// Figures

/** Pixels per image pixel in the figures (28x28 Fashion-MNIST tiles become 84x84). */
const FIGURE_SCALE = 3;

/** One image (H, W, C) of a batch as a PNG tile, upscaled by nearest neighbour. */
async function tilePng(x: Tensor, i: number, scale: number): Promise<Buffer> {
  const [, h, w, c] = x.shape as [number, number, number, number];
  const px = signedToUint(Array.from(sliceBatch(x, i, i + 1).toArray(), (v) => Math.min(1, Math.max(-1, v))), 8);
  return sharp(Buffer.from(px), { raw: { width: w, height: h, channels: c as 1 | 3 } })
    .resize(w * scale, h * scale, { kernel: 'nearest' })
    .png()
    .toBuffer();
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A labelled grid: rows of tiles, a caption under each tile, a label left of each row. */
async function writeLabelledGrid(path: string, title: string, rowsOf: { label: string; tiles: { image: Tensor; index: number; caption: string[] }[] }[], scale = FIGURE_SCALE): Promise<void> {
  const first = rowsOf[0]!.tiles[0]!.image;
  const [, h, w] = first.shape as [number, number, number, number];
  const tw = w * scale;
  const th = h * scale;
  const lines = Math.max(...rowsOf.flatMap((r) => r.tiles.map((t) => t.caption.length)));
  const gap = 8;
  const left = Math.max(...rowsOf.map((r) => r.label.length)) * 7 + 12;
  // Wide enough for the longest caption line (about 6.5 px per character at 11 px).
  const longest = Math.max(...rowsOf.flatMap((r) => r.tiles.flatMap((t) => t.caption.map((l) => l.length))));
  const colW = Math.max(tw, 84, Math.ceil(longest * 6.5)) + gap;
  const rowH = th + lines * 13 + gap + 4;
  const cols = Math.max(...rowsOf.map((r) => r.tiles.length));
  const width = left + cols * colW + gap;
  const height = 30 + rowsOf.length * rowH + gap;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="19" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  for (const [r, row] of rowsOf.entries()) {
    const y = 30 + r * rowH;
    parts.push(`<text x="${left - 8}" y="${y + th / 2 + 4}" text-anchor="end">${esc(row.label)}</text>`);
    for (const [c, tile] of row.tiles.entries()) {
      const x = left + c * colW + Math.floor((colW - gap - tw) / 2);
      const png = await tilePng(tile.image, tile.index, scale);
      parts.push(`<image x="${x}" y="${y}" width="${tw}" height="${th}" href="data:image/png;base64,${png.toString('base64')}"/>`);
      parts.push(`<rect x="${x - 0.5}" y="${y - 0.5}" width="${tw + 1}" height="${th + 1}" fill="none" stroke="#999"/>`);
      tile.caption.forEach((line, k) => parts.push(`<text x="${x + tw / 2}" y="${y + th + 12 + 13 * k}" text-anchor="middle">${esc(line)}</text>`));
    }
  }
  parts.push('</svg>');
  writeFileAtomic(path, await sharp(Buffer.from(parts.join('\n'))).png().toBuffer());
}

const num = (v: number): string => (!Number.isFinite(v) ? '\u221e' : v >= 100 || (v < 0.01 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(3))));

/**
 * The forward process as a labelled strip: x_t at each timestep with t, SNR and sigma.
 * @example await writeForwardFigure('forward.png', forwardFrames({ image, timesteps: [0, 250, 500, 999] }));
 */
export async function writeForwardFigure(path: string, f: ForwardFrames): Promise<void> {
  await writeLabelledGrid(path, 'Forward process: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, one eps', [
    { label: 'x_t', tiles: f.timesteps.map((t, i) => ({ image: f.frames, index: i, caption: [`t = ${t}`, `SNR ${num(f.snr[i]!)}`, `sigma ${num(f.sigma[i]!)}`] })) },
  ]);
}

/**
 * The reverse process as a labelled grid: per image, a row of x_t and a row of the predicted x_0.
 * @example await writeTrajectoryFigure('trajectory.png', reverseTrajectory({ model, frames: 8 }));
 */
export async function writeTrajectoryFigure(path: string, tr: ReverseTrajectory): Promise<void> {
  const n = tr.images.shape[0]!;
  const cap = (f: number): string[] => [tr.timesteps[f]! < 0 ? 'final' : `t = ${Number.isInteger(tr.timesteps[f]!) ? tr.timesteps[f]! : tr.timesteps[f]!.toFixed(1)}`];
  const rowsOf = [];
  for (let i = 0; i < n; i++) {
    const cls = tr.classLabels === null ? '' : ` (class ${tr.classLabels[i]})`;
    rowsOf.push({ label: `x_t${n > 1 ? ` #${i}` : ''}${cls}`, tiles: tr.xt.map((x, f) => ({ image: x, index: i, caption: cap(f) })) });
    rowsOf.push({ label: `predicted x_0`, tiles: tr.x0.map((x, f) => ({ image: x, index: i, caption: cap(f) })) });
  }
  await writeLabelledGrid(path, 'Reverse process: x_t and the model\u2019s estimate of x_0', rowsOf);
}

/**
 * The reverse process as a GIF: each frame x_t (left) beside the predicted x_0 (right), upscaled;
 * the last frame holds one second.
 * @example await writeTrajectoryGif('trajectory.gif', tr, { delayMs: 150 });
 */
export async function writeTrajectoryGif(path: string, tr: ReverseTrajectory, options: { delayMs?: number; scale?: number } = {}): Promise<void> {
  const scale = options.scale ?? FIGURE_SCALE;
  const delay = options.delayMs ?? 150;
  const [n, h, w, c] = tr.images.shape as [number, number, number, number];
  const gap = 2 * scale;
  const fw = 2 * w * scale + gap;
  const fh = n * h * scale + (n - 1) * gap;
  const F = tr.xt.length;
  const data = new Float32Array(F * fh * fw * c).fill(1); // (F, H', W', C), white gaps
  for (let f = 0; f < F; f++) {
    for (const [side, src] of [tr.xt[f]!.toArray(), tr.x0[f]!.toArray()].entries()) {
      for (let i = 0; i < n; i++) {
        for (let y = 0; y < h * scale; y++) {
          for (let x = 0; x < w * scale; x++) {
            const oy = i * (h * scale + gap) + y;
            const ox = side * (w * scale + gap) + x;
            for (let ch = 0; ch < c; ch++) {
              const v = src[((i * h + Math.floor(y / scale)) * w + Math.floor(x / scale)) * c + ch]!;
              data[((f * fh + oy) * fw + ox) * c + ch] = Math.min(1, Math.max(-1, v));
            }
          }
        }
      }
    }
  }
  const delays = Array.from({ length: F }, (_, f) => (f === F - 1 ? Math.max(delay, 1000) : delay));
  await writeGif(path, new Tensor(data, [F, fh, fw, c]), { delayMs: delays });
}

/**
 * The loss per timestep as a chart (log y axis).
 * @example await writeLossChart('loss-per-t.png', lossPerTimestep({ model, dataset }));
 */
export async function writeLossChart(path: string, l: LossPerTimestep, title = 'Training loss per timestep'): Promise<void> {
  await writeLineChartPng(path, {
    title: `${title} (${l.count} real images per bin)`,
    xLabel: 'timestep t',
    yLabel: `MSE of the ${l.predictionType} prediction`,
    logY: true,
    series: [{ name: 'mean loss', points: l.binCentre.map((t, i) => [t, l.loss[i]!] as const) }],
  });
}

/**
 * A row (or rows) of labelled images, e.g. input | mask | output, or outputs over strengths:
 * `rows[r][c]` is one image, (H, W, C) or (1, H, W, C), with its caption.
 * @example await writeComparisonFigure('inpaint.png', 'Inpainting', [[{ image: x, caption: 'input' }, { image: out, caption: 'output' }]]);
 */
export async function writeComparisonFigure(path: string, title: string, rows: readonly (readonly { image: Tensor; caption: string }[])[], rowLabels: readonly string[] = []): Promise<void> {
  const as4 = (t: Tensor): Tensor => (t.rank === 3 ? reshape(t, [1, ...t.shape]) : t);
  await writeLabelledGrid(
    path,
    title,
    rows.map((r, i) => ({ label: rowLabels[i] ?? '', tiles: r.map((c) => ({ image: as4(c.image), index: 0, caption: [c.caption] })) })),
  );
}
