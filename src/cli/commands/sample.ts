/**
 * `diffuse sample`: generate images from a trained model (a thin client of pipelines/generate):
 * a PNG grid, optional per-image PNGs, and an optional GIF of x_t beside the predicted x_0
 * through the reverse process.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '../../pipelines/generate.js';
import { DEFAULT_BATCH_SIZE } from '../../sampling/common_options.js';
import { SCHEDULER_ALIASES, SDE_SAMPLERS, findMethod, methodDefaultSteps, methodNames, samplingMethods, schedulerNames } from '../../sampling/registry.js';
import { plannedLoops } from '../../sampling/reverse_process.js';
import { resolveModelDir } from '../../io/model_folder.js';
import { UNet2DModel } from '../../nn/unet_2d.js';
import { readSchedulerConfig } from '../../io/checkpoint.js';
import { readSamplingConfig, resolveSampling } from '../../io/sampling_config.js';
import { imageGrid, writePng, writePngGrid } from '../../io/png.js';
import { writeGif } from '../../io/gif.js';
import { sliceBatch } from '../../ops/slice.js';
import { Tensor } from '../../tensor/tensor.js';
import { UsageError } from '../../tensor/errors.js';
import { ProgressBar } from '../progress.js';
import { runSdeSample, sdeSampleHelp, wantsSdeSampler, SDE_ONLY_FLAGS } from './sample_sde.js';
import { NoisyClassifier } from '../../nn/noisy_classifier.js';
import { bundledModel } from '../model_arg.js';
import { checkSchedulerFlags } from '../edit_flags.js';
import { resolveClassRefs } from '../class_arg.js';
import { MAX_MEMORY_FLAG, applyMaxMemory, CLASS_FLAG, ETA_FLAG, FALLBACK_SCHEDULER, FALLBACK_STEPS, GUIDANCE_FLAG, MODEL_FLAG, SEED_FLAG, SIGMAS_FLAG, batchFlag, countFlag, formatFlagHelp, parseCommandFlags, pathFlag, schedulerFlag, stepsFlag, ALLOW_NONFINITE_FLAG, CLASSIFIER_SCALE_FIELD } from '../flags.js';
import { described, flagName, hiddenFields, intField, numberField, optional } from '../../schema/field.js';

/** The score-SDE samplers' own flags (--steps is shared). */
const { steps: _sdeSteps, ...SDE_EXTRA_FLAGS } = SDE_ONLY_FLAGS;

const FLAGS = {
  model: { ...MODEL_FLAG, doc: 'A training run (RUN_DIR), a checkpoint, a diffusers pipeline folder (unet/ + scheduler/) or a U-Net folder.' },
  scheduler: {
    ...schedulerFlag(),
    doc: `A sampler (k-diffusion names: ${samplingMethods().filter((m) => m.kind === 'sampler').map((m) => m.name).join(', ')}), a diffusers scheduler (short names such as ${Object.keys(SCHEDULER_ALIASES).slice(0, 5).join(', ')}, ... or class names such as EulerDiscreteScheduler) on the model's noise schedule, or a score-SDE sampler (${SDE_SAMPLERS.join(', ')}); 'diffuse samplers' lists them all.`,
  },
  sigmas: SIGMAS_FLAG,
  steps: stepsFlag(`sampling_config.json's with its scheduler, else ${FALLBACK_STEPS}; num_train_timesteps for ddpm`),
  n: countFlag('n', 16, 1, 'Number of images.'),
  class: { ...CLASS_FLAG, doc: "Class of every image, or a comma-separated list of N classes: indices or the model's class names ('sneaker', 'ankle-boot'; case and punctuation ignored)." },
  guidance: GUIDANCE_FLAG,
  classifier: pathFlag('classifier', "Classifier guidance (Dhariwal & Nichol 2021): steer towards --class with the gradient of a noise-conditional classifier ('diffuse train-classifier'; a run folder or its model/). Works with any scheduler, with or without --guidance, and on unconditional models.", 'DIR'),
  classifierScale: described(optional(CLASSIFIER_SCALE_FIELD, '1 with --classifier'), `Its scale, ${CLASSIFIER_SCALE_FIELD.allowed}; useful values are about 1 to 10.`, { metavar: 'S' }),
  eta: ETA_FLAG,
  seed: SEED_FLAG,
  batch: batchFlag(DEFAULT_BATCH_SIZE),
  out: pathFlag('out', 'The PNG grid to write (required).'),
  nrow: described(optional(intField('nrow', 1, 1), 'ceil(sqrt(N))'), 'Images per grid row.', { metavar: 'R' }),
  perImage: pathFlag('per_image', 'Also write each image as DIR/00000_class3.png (or DIR/00000.png).', 'DIR'),
  animate: pathFlag('animate', 'Also write a GIF of x_t (left) and the predicted x_0 (right) through the reverse process.'),
  frames: countFlag('frames', 20, 2, 'Frames of the animation, evenly spaced.', 'F'),
  delay: countFlag('delay', 100, 0, 'Milliseconds per frame (the last frame holds 1 s).', 'MS'),
  allowNonfinite: ALLOW_NONFINITE_FLAG,
  // Accepted here only to name them in the error: they belong to the score-SDE samplers.
  ...hiddenFields(SDE_EXTRA_FLAGS),
  maxMemory: MAX_MEMORY_FLAG,
} as const;

export const summary = 'Generate images from a trained model (PNG grid, per-image PNGs, GIF).';

export const help = `diffuse sample: generate images from a trained diffusion model

Usage: diffuse sample --out grid.png [options]

Options:
${formatFlagHelp(FLAGS)}${sdeSampleHelp}`;


/** Pixels between the x_t and x_0 halves of an animation frame. */
const ANIMATION_GAP = 4;

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
  if (wantsSdeSampler(argv)) return runSdeSample(argv);
  const { values } = parseCommandFlags('sample', FLAGS, argv);
  applyMaxMemory(values.maxMemory);
  for (const [k, f] of Object.entries(SDE_EXTRA_FLAGS)) {
    if ((values as Record<string, unknown>)[k] !== undefined) throw new UsageError(`--${flagName(f)} applies to the score-SDE samplers only (--scheduler ${SDE_SAMPLERS.join(' | ')}); '${values.scheduler ?? 'the default sampler'}' is not one`);
  }
  // Every flag is checked before the model is loaded.
  const out = values.out;
  if (out === undefined || out === '') throw new UsageError(`--out FILE (the PNG grid to write) is required`);
  const names = schedulerNames();
  // The model folder's sampling_config.json supplies what the flags leave out.
  const { unetDir, schedulerDir } = resolveModelDir(values.model ?? bundledModel());
  const defaults = readSamplingConfig(unetDir, names);
  const choice = resolveSampling(defaults, { scheduler: values.scheduler, steps: values.steps, guidanceScale: values.guidance }, FALLBACK_SCHEDULER);
  const schedName = choice.scheduler;
  if (!names.includes(schedName)) throw new UsageError(`--scheduler must be one of ${methodNames().join(', ')}, found '${schedName}'`);
  const sigmaSchedule = values.sigmas;
  checkSchedulerFlags(schedName, sigmaSchedule, values.eta);
  const { n, seed, nrow, frames, delay, eta, classifierScale } = values;
  const batch = values.batch ?? DEFAULT_BATCH_SIZE;
  if (classifierScale !== undefined && values.classifier === undefined) throw new UsageError('--classifier-scale needs --classifier DIR (a classifier from diffuse train-classifier)');
  const classList = values.class === undefined ? undefined : resolveClassRefs(values.class, values.model);
  const classes: number | number[] | undefined = classList === undefined ? undefined : classList.length === 1 ? classList[0]! : classList;

  const loadOptions = { allowNonfinite: values.allowNonfinite };
  const model = UNet2DModel.fromPretrained(unetDir, loadOptions);
  const clfDir = values.classifier === undefined ? null : existsSync(join(values.classifier, 'model', 'config.json')) ? join(values.classifier, 'model') : values.classifier;
  const classifier = clfDir === null ? null : NoisyClassifier.fromPretrained(clfDir, loadOptions);
  const schedConfig = schedulerDir === null ? {} : readSchedulerConfig(schedulerDir);
  const guidance = choice.guidanceScale;
  const numTrainTimesteps = typeof schedConfig['num_train_timesteps'] === 'number' ? schedConfig['num_train_timesteps'] : undefined;
  const method = findMethod(schedName);
  const steps = choice.steps ?? (method === null ? FALLBACK_STEPS : (methodDefaultSteps(method, null, numTrainTimesteps === undefined ? {} : { numTrainTimesteps }) ?? FALLBACK_STEPS));
  // Second-order schedulers list more model evaluations than steps.
  const perChunk = plannedLoops(schedName, steps, schedConfig);

  const bar = new ProgressBar({ total: Math.ceil(n / batch) * perChunk, label: 'sample', unit: 'step' });
  const result = generate({
    model,
    scheduler: schedName,
    schedulerConfig: schedConfig,
    ...(sigmaSchedule === undefined ? {} : { sigmaSchedule }),
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
  const perImage = values.perImage;
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
