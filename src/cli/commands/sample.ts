/**
 * `diffuse sample`: generate images from a trained model (a thin client of pipelines/generate):
 * a PNG grid, optional per-image PNGs, and an optional GIF of x_t beside the predicted x_0
 * through the reverse process.
 */
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { generate, DEFAULT_BATCH_SIZE } from '../../pipelines/generate.js';
import { findMethod, methodDefaultSteps, methodNames, samplingMethods, schedulerNames } from '../../sampling/registry.js';
import { plannedLoops } from '../../sampling/reverse_process.js';
import { SIGMA_SCHEDULES, type SigmaScheduleName } from '../../diffusion/sigma_ramps.js';
import { resolveModelDir } from '../../train/checkpoint.js';
import { UNet2DModel } from '../../nn/unet_2d.js';
import { readSchedulerConfig } from '../../io/checkpoint.js';
import { defaultSteps, readSamplingConfig } from '../../io/sampling_config.js';
import { imageGrid, writePng, writePngGrid } from '../../io/png.js';
import { writeGif } from '../../io/gif.js';
import { sliceBatch } from '../../ops/slice.js';
import { Tensor } from '../../tensor/tensor.js';
import { DiffuseError } from '../../tensor/errors.js';
import { ProgressBar } from '../progress.js';
import { runSdeSample, sdeSampleHelp, routesToSde, SDE_FLAG_OPTIONS, SDE_SAMPLERS } from './sample_sde.js';
import { NoisyClassifier } from '../../nn/noisy_classifier.js';
import { bundledModel } from '../model_arg.js';

export const summary = 'Generate images from a trained model (PNG grid, per-image PNGs, GIF).';

export const help = `diffuse sample: generate images from a trained diffusion model

Usage: diffuse sample --out grid.png [options]

Options:
  --model DIR        A training run (RUN_DIR), a checkpoint, a diffusers pipeline folder (unet/ +
                     scheduler/) or a U-Net folder (default: the bundled models/fashion-mnist/).
  --scheduler NAME   A sampler (k-diffusion names: euler, euler_ancestral, heun, dpm_2,
                     dpm_2_ancestral, lms, dpmpp_2s_ancestral, dpmpp_2m, dpmpp_2m_sde,
                     dpmpp_3m_sde, dpm_adaptive) or a diffusers scheduler (short names ddpm,
                     ddim, pndm, unipc, dpmsolver, ... or class names such as
                     EulerDiscreteScheduler), on the model's noise schedule (default: the
                     model's sampling_config.json, else ddim). 'diffuse samplers' lists them all.
  --sigmas S         A sampler's sigma schedule: ${SIGMA_SCHEDULES.filter((k) => k !== 'vp').join(', ')} (default karras).
  --steps K          Reverse steps (default: sampling_config.json's with its scheduler, else 50;
                     num_train_timesteps for ddpm).
  --n N              Number of images (default 16).
  --class C          Class of every image, or a comma-separated list of N classes
                     (default: 0, 1, 2, ... cycling over the model's classes).
  --guidance W       Classifier-free guidance weight (default: the model's sampling_config.json,
                     else 1: none; needs a class-conditional model trained with a null class).
  --classifier DIR   Classifier guidance (Dhariwal & Nichol 2021): steer towards --class with the
                     gradient of a noise-conditional classifier ('diffuse train-classifier'; a run
                     folder or its model/). Works with any scheduler, with or without --guidance,
                     and on unconditional models.
  --classifier-scale S  Its scale (default 1 with --classifier).
  --eta E            DDIM's eta (default 0: deterministic), or a stochastic sampler's noise
                     scale (default 1).
  --seed S           Seed (default 0). The same seed gives the same images, whatever --batch is.
  --batch B          Images per forward pass (default ${DEFAULT_BATCH_SIZE}).
  --out FILE         The PNG grid to write (required).
  --nrow R           Images per grid row (default: ceil(sqrt(N))).
  --per-image DIR    Also write each image as DIR/00000_class3.png (or DIR/00000.png).
  --animate FILE     Also write a GIF of x_t (left) and the predicted x_0 (right) through the
                     reverse process.
  --frames F         Frames of the animation, evenly spaced (default 20).
  --delay MS         Milliseconds per frame (default 100; the last frame holds 1 s).
${sdeSampleHelp}`;


/** Pixels between the x_t and x_0 halves of an animation frame. */
const ANIMATION_GAP = 4;

function intFlag(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(x) || x < min) throw new DiffuseError(`--${name} must be an integer >= ${min}, found '${v}'`);
  return x;
}

function numFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new DiffuseError(`--${name} must be a number, found '${v}'`);
  return x;
}

/** One animation frame: the x_t grid, a gap, the x_0 grid, side by side. */
function sideBySide(xt: Tensor, x0: Tensor, nrow: number | undefined): { data: Float32Array; h: number; w: number; c: number } {
  const grid = (t: Tensor) => imageGrid(t, nrow === undefined ? {} : { nrow });
  const a = grid(xt);
  const b = grid(x0);
  const c = a.channels;
  const w = a.width + ANIMATION_GAP + b.width;
  const data = new Float32Array(a.height * w * c).fill(-1); // (H', W', C)
  for (let y = 0; y < a.height; y++) {
    data.set(a.data.subarray(y * a.width * c, (y + 1) * a.width * c), y * w * c);
    data.set(b.data.subarray(y * b.width * c, (y + 1) * b.width * c), (y * w + a.width + ANIMATION_GAP) * c);
  }
  return { data, h: a.height, w, c };
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      scheduler: { type: 'string' },
      sigmas: { type: 'string' },
      steps: { type: 'string' },
      n: { type: 'string' },
      class: { type: 'string' },
      guidance: { type: 'string' },
      classifier: { type: 'string' },
      'classifier-scale': { type: 'string' },
      eta: { type: 'string' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      out: { type: 'string' },
      nrow: { type: 'string' },
      'per-image': { type: 'string' },
      animate: { type: 'string' },
      frames: { type: 'string' },
      delay: { type: 'string' },
      ...SDE_FLAG_OPTIONS,
    },
    strict: true,
    allowPositionals: true,
  });
  // The registry decides where the method runs: the score-SDE samplers take their own flags.
  if (routesToSde(values)) return runSdeSample(argv);
  for (const k of Object.keys(SDE_FLAG_OPTIONS) as (keyof typeof SDE_FLAG_OPTIONS)[]) {
    if (values[k] !== undefined) throw new DiffuseError(`--${k} applies to the score-SDE samplers only (--scheduler ${SDE_SAMPLERS.join(' | ')}); '${values.scheduler ?? 'the default sampler'}' is not one`);
  }
  if (positionals.length > 0) throw new DiffuseError(`unexpected argument '${positionals[0]}'; see 'diffuse sample --help'`);
  // Every flag is checked before the model is loaded.
  const out = values.out;
  if (out === undefined || out === '') throw new DiffuseError(`--out FILE (the PNG grid to write) is required`);
  const names = schedulerNames();
  // The model folder's sampling_config.json supplies what the flags leave out.
  const { unetDir, schedulerDir } = resolveModelDir(values.model ?? bundledModel());
  const defaults = readSamplingConfig(unetDir, names);
  const schedName = values.scheduler ?? defaults.scheduler ?? 'ddim';
  if (!names.includes(schedName)) throw new DiffuseError(`--scheduler must be one of ${methodNames().join(', ')}, found '${schedName}'`);
  const method = findMethod(schedName)!;
  const sigmaSchedule = values.sigmas;
  if (sigmaSchedule !== undefined) {
    if (!method.takesSigmas) throw new DiffuseError(`--sigmas applies to the samplers (${samplingMethods().filter((m) => m.takesSigmas).map((m) => m.name).join(', ')}) only; a scheduler sets its own timesteps`);
    if (!SIGMA_SCHEDULES.includes(sigmaSchedule as SigmaScheduleName) || sigmaSchedule === 'vp') throw new DiffuseError(`--sigmas must be one of ${SIGMA_SCHEDULES.filter((k) => k !== 'vp').join(', ')}, found '${sigmaSchedule}'`);
  }
  const n = intFlag('n', values.n, 1) ?? 16;
  const stepsFlag = intFlag('steps', values.steps, 1);
  const seed = intFlag('seed', values.seed, 0) ?? 0;
  const batch = intFlag('batch', values.batch, 1) ?? DEFAULT_BATCH_SIZE;
  const nrow = intFlag('nrow', values.nrow, 1);
  const frames = intFlag('frames', values.frames, 2) ?? 20;
  const delay = intFlag('delay', values.delay, 0) ?? 100;
  const guidanceFlag = numFlag('guidance', values.guidance);
  const classifierScale = numFlag('classifier-scale', values['classifier-scale']);
  if (classifierScale !== undefined && values.classifier === undefined) throw new DiffuseError('--classifier-scale needs --classifier DIR (a classifier from diffuse train-classifier)');
  const eta = numFlag('eta', values.eta);
  if (eta !== undefined && !method.takesEta) {
    throw new DiffuseError(`--eta applies to --scheduler ddim only, or to a stochastic sampler (${samplingMethods().filter((m) => m.kind === 'sampler' && m.takesEta).map((m) => m.name).join(', ')}); '${schedName}' has no eta`);
  }
  let classes: number | number[] | undefined;
  if (values.class !== undefined) {
    const list = values.class.split(',').map((s) => intFlag('class', s, 0) as number);
    classes = list.length === 1 ? list[0]! : list;
  }

  const model = UNet2DModel.fromPretrained(unetDir);
  const clfDir = values.classifier === undefined ? null : existsSync(join(values.classifier, 'model', 'config.json')) ? join(values.classifier, 'model') : values.classifier;
  const classifier = clfDir === null ? null : NoisyClassifier.fromPretrained(clfDir);
  const schedConfig = schedulerDir === null ? {} : readSchedulerConfig(schedulerDir);
  const guidance = guidanceFlag ?? defaults.guidanceScale;
  const numTrainTimesteps = typeof schedConfig['num_train_timesteps'] === 'number' ? schedConfig['num_train_timesteps'] : undefined;
  const steps = stepsFlag ?? defaultSteps(defaults.numInferenceSteps, values.scheduler !== undefined) ?? methodDefaultSteps(method, null, numTrainTimesteps === undefined ? {} : { numTrainTimesteps })!;
  // Second-order schedulers list more model evaluations than steps.
  const perChunk = plannedLoops(schedName, steps, schedConfig);

  const bar = new ProgressBar({ total: Math.ceil(n / batch) * perChunk, label: 'sample', unit: 'step' });
  const result = generate({
    model,
    scheduler: schedName,
    schedulerConfig: schedConfig,
    ...(sigmaSchedule === undefined ? {} : { sigmaSchedule: sigmaSchedule as SigmaScheduleName }),
    n,
    steps,
    seed,
    batchSize: batch,
    guidanceScale: guidance,
    ...(classifier === null ? {} : { classifier, ...(classifierScale === undefined ? {} : { classifierScale }) }),
    ...(classes === undefined ? {} : { classLabels: classes }),
    ...(eta === undefined ? {} : { eta }),
    ...(values.animate === undefined ? {} : { trajectoryFrames: frames }),
    onProgress: ({ step }) => bar.update(step),
  });
  // The bar drew its last line at the final step; a TTY still needs its line ended.
  if (process.stderr.isTTY) bar.done();

  const { images, classLabels, trajectory } = result;
  await writePngGrid(out, images, nrow === undefined ? {} : { nrow });
  const wrote = [`${out} (${n} images, ${images.shape[1]}x${images.shape[2]}x${images.shape[3]})`];
  const perImage = values['per-image'];
  if (perImage !== undefined) {
    mkdirSync(perImage, { recursive: true });
    for (let i = 0; i < n; i++) {
      const name = `${String(i).padStart(5, '0')}${classLabels === null ? '' : `_class${classLabels[i]}`}.png`;
      await writePng(join(perImage, name), sliceBatch(images, i, i + 1));
    }
    wrote.push(`${perImage}/ (${n} PNGs)`);
  }
  if (values.animate !== undefined && trajectory !== undefined) {
    const parts = trajectory.xt.map((xt, f) => sideBySide(xt, trajectory.x0[f]!, nrow));
    const { h, w, c } = parts[0]!;
    const data = new Float32Array(parts.length * h * w * c); // (F, H', W', C)
    for (const [f, p] of parts.entries()) data.set(p.data, f * h * w * c);
    // Hold the final images a moment before the loop restarts.
    const delays = parts.map((_, f) => (f === parts.length - 1 ? Math.max(delay, 1000) : delay));
    await writeGif(values.animate, new Tensor(data, [parts.length, h, w, c]), { delayMs: delays });
    wrote.push(`${values.animate} (${parts.length} frames, ${w}x${h})`);
  }
  process.stdout.write(`wrote ${wrote.join(', ')}\n`);
}
