/**
 * `diffuse explain`: figures of what a model does (a thin client of pipelines/explain): the
 * forward process on one image with the SNR, the reverse trajectory (x_t beside the predicted x_0,
 * as a grid and a GIF), and the training loss per timestep on real images.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../../tensor/tensor.js';
import { DiffuseError, UsageError } from '../../tensor/errors.js';
import { loadDataset } from '../../data/index.js';
import type { Dataset } from '../../data/dataset.js';
import { writeJSONAtomic } from '../../io/checkpoint.js';
import { forwardFrames, reverseTrajectory, lossPerTimestep, writeForwardFigure, writeTrajectoryFigure, writeTrajectoryGif, writeLossChart } from '../../pipelines/explain.js';
import { checkImages, modelImageSize } from '../../pipelines/edit.js';
import { ProgressBar } from '../progress.js';
import { loadModelArg } from '../model_arg.js';
import { EDIT_FLAGS, parseEditFlags, readImageFlag, withSamplingDefaults } from '../edit_flags.js';
import { countFlag, formatFlagHelp, parseCommandFlags, pathFlag } from '../flags.js';
import { arrayField, boolField, described, hidden, intField, optional, stringField } from '../../schema/field.js';

/** The forward-process frames' timesteps when --t is not given (clipped to the schedule). */
const DEFAULT_T = [0, 50, 100, 200, 300, 500, 700, 999];

const FLAGS = {
  out: pathFlag('out', 'The folder for the figures (required).', 'DIR'),
  image: pathFlag('image', 'The image for the forward process.', 'FILE', "the first test image of the model's training data"),
  t: described(optional(arrayField('t', intField('t', 0, 0), [], 1), `${DEFAULT_T.join(',')}, clipped to the schedule`), 'Timesteps of the forward frames.', { metavar: 'LIST' }),
  data: described(optional(stringField('data', '')), 'Real images for the loss: fashion-mnist, mnist or an image folder.', { metavar: 'SRC', defaultText: "the model's training data, its test split for the bundled sets" }),
  bins: described(optional(intField('bins', 20, 1), '20'), 'Timestep bins of the loss.', { metavar: 'B' }),
  lossImages: described(optional(intField('loss_images', 64, 1), '64'), 'Images per bin.', { metavar: 'N' }),
  noLoss: described(boolField('no_loss', false), 'Skip the loss figure.'),
  frames: countFlag('frames', 10, 2, 'Frames of the trajectory.', 'F'),
  n: countFlag('n', 1, 1, 'Images in the trajectory.'),
  ...EDIT_FLAGS,
  // Accepted as by the other editing commands, but the trajectory does not use them.
  sigmas: hidden(EDIT_FLAGS.sigmas),
  eta: hidden(EDIT_FLAGS.eta),
  batch: hidden(EDIT_FLAGS.batch),
} as const;

export const summary = 'Figures of the forward process, the reverse trajectory and the loss per t.';

export const help = `diffuse explain: see a diffusion model work

Usage: diffuse explain --out DIR [options]

Writes to DIR:
  forward.png        One image noised at each --t (one shared noise draw), with SNR and sigma.
  trajectory.png     The reverse process: x_t (top row) and the model's predicted x_0 (bottom
                     row) at evenly spaced steps.
  trajectory.gif     The same as an animation, x_t beside x_0.
  loss-per-t.png     The model's training loss on real images, binned over t (and .json).

Options:
${formatFlagHelp(FLAGS)}`;

export async function run(argv: string[]): Promise<void> {
  const { values, given } = parseCommandFlags('explain', FLAGS, argv);
  const out = values.out;
  if (out === undefined || out === '') throw new UsageError('--out DIR (the folder for the figures) is required');
  const ts = values.t === undefined ? undefined : [...values.t];
  const bins = values.bins ?? 20;
  const lossImages = values.lossImages ?? 64;
  const { frames, n, noLoss } = values;
  if (noLoss && (given.has('data') || given.has('bins') || given.has('lossImages'))) throw new UsageError('--data, --bins and --loss-images set up the loss figure; drop them or --no-loss');
  const parsed = parseEditFlags(values);

  const { model, schedulerConfig, data: trainData, sampling } = loadModelArg(values.model, { allowNonfinite: values.allowNonfinite });
  const flags = withSamplingDefaults(parsed, sampling);
  const T = typeof schedulerConfig['num_train_timesteps'] === 'number' ? (schedulerConfig['num_train_timesteps'] as number) : 1000;
  const timesteps = ts ?? [...new Set(DEFAULT_T.map((t) => Math.min(t, T - 1)))];
  const bad = timesteps.find((t) => t >= T);
  if (bad !== undefined) throw new UsageError(`--t ${bad} is outside the model's schedule: timesteps are 0..${T - 1}`);
  const source = values.data ?? trainData;
  const needData = !noLoss || values.image === undefined;
  if (needData && source === null) throw new DiffuseError(`the model does not record its training data; pass --data SRC (and --image FILE), or --image FILE --no-loss`);
  const size = model.config.sampleSize;
  let dataset: Dataset | null = null;
  if (needData) {
    const bundled = source === 'fashion-mnist' || source === 'mnist';
    dataset = await loadDataset(source!, bundled ? { split: 'test' } : { imageSize: typeof size === 'number' ? size : (size?.[0] ?? 0) });
  }
  let image: Tensor;
  if (values.image !== undefined) image = await readImageFlag('image', values.image, modelImageSize(model));
  else {
    const s = dataset!.get(0);
    image = new Tensor(s.image, [dataset!.imageSize, dataset!.imageSize, dataset!.channels]);
  }
  checkImages('explain', 'image', image, model);
  mkdirSync(out, { recursive: true });
  const wrote: string[] = [];

  const f = forwardFrames({ image, timesteps, schedulerConfig, seed: flags.seed });
  await writeForwardFigure(join(out, 'forward.png'), f);
  wrote.push(join(out, 'forward.png'));

  let bar: ProgressBar | null = null;
  const tr = reverseTrajectory({
    model, schedulerConfig, scheduler: flags.scheduler, steps: flags.steps, n, frames, seed: flags.seed, guidanceScale: flags.guidanceScale,
    ...(flags.classLabels === undefined ? {} : { classLabels: flags.classLabels }),
    onProgress: ({ step, total }) => {
      bar ??= new ProgressBar({ total, label: 'trajectory', unit: 'step' });
      bar.update(step);
    },
  });
  if (process.stderr.isTTY) (bar as ProgressBar | null)?.done();
  await writeTrajectoryFigure(join(out, 'trajectory.png'), tr);
  await writeTrajectoryGif(join(out, 'trajectory.gif'), tr);
  wrote.push(join(out, 'trajectory.png'), join(out, 'trajectory.gif'));

  if (!noLoss) {
    let lbar: ProgressBar | null = null;
    const l = lossPerTimestep({
      model, schedulerConfig, dataset: dataset!, bins, imagesPerBin: lossImages, seed: flags.seed,
      onProgress: ({ step, total }) => {
        lbar ??= new ProgressBar({ total, label: 'loss per t', unit: 'batch' });
        lbar.update(step);
      },
    });
    if (process.stderr.isTTY) (lbar as ProgressBar | null)?.done();
    await writeLossChart(join(out, 'loss-per-t.png'), l, `Training loss per timestep on ${dataset!.name}`);
    writeJSONAtomic(join(out, 'loss-per-t.json'), l);
    wrote.push(join(out, 'loss-per-t.png'), join(out, 'loss-per-t.json'));
  }
  process.stdout.write(`wrote ${wrote.join(', ')}\n`);
}
