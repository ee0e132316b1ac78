/**
 * `diffuse train`: parses and checks every flag before any work, then runs the library's
 * train() with a progress bar on stderr; Ctrl-C writes a checkpoint and exits cleanly.
 */
import { existsSync } from 'node:fs';
import { ArgumentError, DiffuseError } from '../../tensor/errors.js';
import { configFromJSON } from '../../nn/unet_2d.js';
import { readJSONFile } from '../../io/checkpoint.js';
import { ProgressBar } from '../progress.js';
import { LossAverage } from '../../train/loss_average.js';
import { TRAIN_DEFAULTS, TRAIN_FIELDS, type TrainConfig } from '../../train/config.js';
import { train, type TrainOptions } from '../../train/trainer.js';
import { boolField, described, optional, stringField, type Field } from '../../schema/field.js';
import { MAX_MEMORY_FLAG, applyMaxMemory, formatFlagHelp, parseCommandFlags } from '../flags.js';

/** The run's fields as flags (train_config.json's fields, less the U-Net config that --config reads); absent flags stay undefined, so resume can tell "given" from "default". */
const { unet: _unet, ...CONFIG_FLAGS } = TRAIN_FIELDS;
type ConfigFlags = { readonly [K in keyof typeof CONFIG_FLAGS]: Field<TrainConfig[K] | undefined> };
const OPTIONAL_CONFIG_FLAGS = Object.fromEntries(
  Object.entries(CONFIG_FLAGS).map(([name, f]) => [name, { ...optional(f as Field<unknown>), ...(f.defaultText === undefined && f.default !== null ? { defaultText: String(f.default) } : {}) }]),
) as unknown as ConfigFlags;

const FLAGS = {
  data: described(optional(stringField('data', '')), "'fashion-mnist', 'mnist' or an image folder (DIR/<class>/*.png gives labels).", { metavar: 'SRC' }),
  out: described(optional(stringField('out', '')), 'The run folder: train_config.json, metrics.jsonl, checkpoints/, latest.json, model/.', { metavar: 'RUN_DIR' }),
  config: described(optional(stringField('config', '')), 'U-Net config.json (diffusers format).', { metavar: 'FILE', defaultText: 'the reference U-Net' }),
  resume: described(boolField('resume', false), 'Continue the run in --out exactly from its latest checkpoint.'),
  ...OPTIONAL_CONFIG_FLAGS,
  maxMemory: MAX_MEMORY_FLAG,
} as const;

export const summary = 'Train a diffusion U-Net (DDPM) on Fashion-MNIST, MNIST or an image folder.';

const D = TRAIN_DEFAULTS;
export const help = `diffuse train: train a UNet2DModel by DDPM, with checkpoints, EMA and exact resume

Usage: diffuse train --data fashion-mnist|mnist|PATH --out RUN_DIR [options]

From your own folder (DIR/<class>/*.png, or a flat DIR/*.png for no classes) one command is
enough: \`diffuse train --data ./my_images --out runs/mine --sample-every 250\` infers the image
size (the most common short side, at most 64; --image-size), the channels and the classes, and
builds a U-Net preset for them (--preset tiny|small|base; by default tiny up to 32 px, small up
to 64, base above). The exported model carries its class names (classes.json) and sampling
defaults (sampling_config.json); --sample-every writes grids from the EMA weights to RUN_DIR/samples/.

The defaults are the run to start: \`diffuse train --data fashion-mnist --out runs/fm\` trains the
reference U-Net (configs/unet_reference.json: 28x28, 32/64/64 channels, attention at 7x7, 10
classes + a null class for classifier-free guidance) for ${D.steps} steps of ${D.batchSize} images: ${((D.steps * D.batchSize) / 60000).toFixed(1)} epochs,
about an hour at the ~105 images/s this model trains at on an idle 2-core machine (add
--time-limit MIN to bound it on a busy one). The shipped models/fashion-mnist/ and models/mnist/
add --lr-schedule cosine --min-snr-gamma 5 (README, "The bundled models"); --flip is refused for
both datasets (their shoes and digits have a direction: a flip-trained model draws them
mirrored). Why not diffusers' train_unconditional values (lr 1e-4, warm-up 500, EMA 0.9999)?
They suit runs of tens of thousands of steps; in ${D.steps} steps that rate undertrains and that
EMA would still mostly hold early weights. So lr ${D.lr} (fine for this 1.6M-parameter model with
gradient clipping at ${D.gradClip}), a short warm-up (${D.warmup}) and EMA max decay ${D.emaDecay} (a ~1000-step horizon).
Ctrl-C and --resume lose nothing.

Options:
${formatFlagHelp(FLAGS)}
Ctrl-C writes a checkpoint and exits; \`--resume\` continues from it. A NaN or infinite loss stops
the run, naming the step and the last good checkpoint. When the run ends, RUN_DIR/model holds a
diffusers DDPMPipeline folder (EMA weights) that \`diffuse sample --model RUN_DIR\` loads.
`;

/** Parses the flags into train() options; every error is raised here, before any work. */
export function parseTrainArgs(argv: string[]): TrainOptions {
  const { values: v, positionals } = parseCommandFlags('train', FLAGS, argv, true);
  if (positionals.length > 0) throw new ArgumentError(`unexpected argument '${positionals[0]}' (flags take the form --name value)`);
  if (v.out === undefined || v.out === '') throw new ArgumentError('--out RUN_DIR is required (the run folder)');
  const resume = v.resume;
  if (!resume && (v.data === undefined || v.data === '')) throw new ArgumentError("--data is required: 'fashion-mnist', 'mnist' or an image folder");
  if (v.data !== undefined && v.data !== 'fashion-mnist' && v.data !== 'mnist' && !existsSync(v.data)) {
    throw new ArgumentError(`--data '${v.data}' is neither 'fashion-mnist', 'mnist' nor an existing folder`);
  }
  let unet: Record<string, unknown> | undefined;
  if (v.config !== undefined) {
    if (!existsSync(v.config)) throw new ArgumentError(`--config '${v.config}': no such file`);
    const j = readJSONFile(v.config);
    if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new ArgumentError(`--config '${v.config}': expected a JSON object (a diffusers UNet2DModel config.json)`);
    unet = j as Record<string, unknown>;
    // Checked here so the error names the file (a bad field, or a size the memory budget refuses).
    try {
      configFromJSON(unet);
    } catch (e) {
      if (e instanceof DiffuseError) throw new ArgumentError(`--config ${v.config}: ${e.message}`);
      throw e;
    }
  }
  const o: { [K in keyof TrainConfig]?: TrainConfig[K] | undefined } = { unet };
  for (const name of Object.keys(CONFIG_FLAGS) as (keyof typeof CONFIG_FLAGS)[]) (o as Record<string, unknown>)[name] = v[name];
  if (o.likelihoodWeighting === true && o.sde === undefined && !resume) throw new ArgumentError('--likelihood-weighting applies to --sde training only; add --sde vp|subvp|ve');
  if ((o.sigmaMin !== undefined || o.sigmaMax !== undefined) && o.sde !== undefined && o.sde !== 've') throw new ArgumentError(`--sigma-min/--sigma-max apply to --sde ve only, found --sde ${o.sde}`);
  if (o.scale !== undefined && o.task !== 'superres') throw new ArgumentError('--scale applies to --task superres only; add --task superres or drop --scale');
  if (o.classDropout === 1) throw new ArgumentError('--class-dropout must be below 1 (1 would never show the model a label)');
  // Only flags actually given reach train(), so resume can tell "given" from "default".
  const given = Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<TrainConfig>;
  return { ...given, data: v.data ?? '', out: v.out, resume };
}

export async function run(argv: string[]): Promise<void> {
  const options = parseTrainArgs(argv);
  applyMaxMemory(parseCommandFlags('train', FLAGS, argv, true).values.maxMemory);
  const controller = new AbortController();
  let bar: ProgressBar | null = null;
  const average = new LossAverage();
  const onSigint = (): void => {
    if (controller.signal.aborted) return;
    process.stderr.write('\ninterrupt: finishing the current step and writing a checkpoint (Ctrl-C again to force)\n');
    controller.abort();
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  try {
    const r = await train(options, {
      signal: controller.signal,
      // Checkpoints, grids and warnings appear as they happen (on a TTY above the bar).
      onLog: (msg) => {
        if (bar === null) process.stderr.write(`${msg}\n`);
        else bar.log(msg);
      },
      onProgress: (m, total, secondsLeft) => {
        bar ??= new ProgressBar({ total, label: 'train', unit: 'it' });
        // The running mean of the loss (per-step values are noisy: t is random) and the last step's.
        bar.update(m.step, { loss: average.add(m.loss), last: m.loss, 'img/s': m.images_per_s.toFixed(1) }, secondsLeft);
      },
    });
    // On a TTY done() ends the redrawn line; elsewhere the last update already printed it.
    if (process.stderr.isTTY) (bar as ProgressBar | null)?.done();
    if (r.interrupted) process.stderr.write(`interrupted at step ${r.step}; checkpoint ${r.checkpoint}; continue with --resume\n`);
    else process.stderr.write(`${r.timeLimited ? 'time limit reached' : 'done'}: ${r.step} steps, ${r.imagesPerSecond.toFixed(1)} images/s; model in ${r.modelDir}, checkpoint ${r.checkpoint}\n`);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
