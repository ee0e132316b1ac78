/**
 * `diffuse train`: parses and checks every flag before any work, then runs the library's
 * train() with a progress bar on stderr; Ctrl-C writes a checkpoint and exits cleanly.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { ArgumentError } from '../../tensor/errors.js';
import { readJSONFile } from '../../io/checkpoint.js';
import { ProgressBar } from '../progress.js';
import { TRAIN_DEFAULTS, LR_SCHEDULES, TRAIN_TASKS, TRAIN_VARIANCE_TYPES, TRAIN_LOSSES, TIMESTEP_SAMPLERS, type TrainConfig } from '../../train/config.js';
import { train, type TrainOptions } from '../../train/trainer.js';
import { BETA_SCHEDULES } from '../../diffusion/schedules.js';
import { PREDICTION_TYPES } from '../../diffusion/forward.js';
import { SDE_NAMES } from '../../sde/sde.js';

export const summary = 'Train a diffusion U-Net (DDPM) on Fashion-MNIST, MNIST or an image folder.';

const D = TRAIN_DEFAULTS;
export const help = `diffuse train: train a UNet2DModel by DDPM, with checkpoints, EMA and exact resume

Usage: diffuse train --data fashion-mnist|mnist|PATH --out RUN_DIR [options]

The defaults are the run to start: \`diffuse train --data fashion-mnist --out runs/fm\` trains the
reference U-Net (configs/unet_reference.json: 28x28, 32/64/64 channels, attention at 7x7, 10
classes + a null class for classifier-free guidance) for ${D.steps} steps of ${D.batchSize} images: ${((D.steps * D.batchSize) / 60000).toFixed(1)} epochs,
about an hour at the ~105 images/s this model trains at on an idle 2-core machine (add
--time-limit MIN to bound it on a busy one). The shipped models/fashion-mnist/ adds
--lr-schedule cosine --flip --min-snr-gamma 5, models/mnist/ the same without --flip (README,
"The bundled models"). Why not diffusers' train_unconditional values (lr 1e-4, warm-up 500, EMA
0.9999)? They suit runs of tens of thousands of steps; in ${D.steps} steps that rate undertrains and that
EMA would still mostly hold early weights. So lr ${D.lr} (fine for this 1.6M-parameter model with
gradient clipping at ${D.gradClip}), a short warm-up (${D.warmup}) and EMA max decay ${D.emaDecay} (a ~1000-step horizon).
Ctrl-C and --resume lose nothing.

Options:
  --data SRC              'fashion-mnist', 'mnist' or an image folder (DIR/<class>/*.png gives labels)
  --out RUN_DIR           the run folder: train_config.json, metrics.jsonl, checkpoints/, latest.json, model/
  --config FILE           U-Net config.json (diffusers format; default: the reference U-Net)
  --steps N               optimizer steps in total (default ${D.steps}; with --resume: the new total)
  --batch N               images per step (default ${D.batchSize})
  --lr X                  peak learning rate, AdamW (default ${D.lr})
  --warmup N              linear warm-up steps (default ${D.warmup})
  --lr-schedule S         after warm-up: ${LR_SCHEDULES.join(' | ')} (default ${D.lrSchedule})
  --weight-decay X        AdamW decoupled weight decay (default ${D.weightDecay})
  --grad-clip X           clip the global gradient norm to X; 0 = off (default ${D.gradClip})
  --ema-decay X           maximum EMA decay; warm-up min(X, (1+t)/(10+t)) as diffusers' EMAModel (default ${D.emaDecay})
  --class-dropout P       probability of training a sample with the null class (default ${D.classDropout})
  --prediction-type T     ${PREDICTION_TYPES.join(' | ')} (default ${D.predictionType})
  --beta-schedule S       ${BETA_SCHEDULES.join(' | ')} (default ${D.betaSchedule})
  --timesteps N           training timesteps T (default ${D.numTrainTimesteps})
  --min-snr-gamma G       Min-SNR-gamma loss weighting (Hang et al. 2023; 5 is typical; default off)
  --flip                  random horizontal flips (off by default: digits are not symmetric)
  --seed N                seeds data order, timesteps, noise, label and weight dropout, init (default ${D.seed})
  --save-every N          checkpoint every N steps, and always at the end (default ${D.saveEvery})
  --keep N                keep the last N checkpoints (default ${D.keep})
  --resume                continue the run in --out exactly from its latest checkpoint
  --threads N             native threads (default: all cores, or DIFFUSE_THREADS)
  --time-limit MIN        stop at this much training time (all sessions), checkpoint and export the
                          model as at the end (e.g. --time-limit 115 keeps a run inside 2 hours)
  --task T                ${TRAIN_TASKS.join(' | ')} (default ${D.task}). superres trains an SR3
                          super-resolution U-Net: it sees the low-resolution image (the training image
                          area-downsampled by --scale, then bicubic-upsampled back) concatenated to x_t,
                          so its config needs in_channels = 2 x the data's channels, out_channels = the
                          data's, sample_size = the high resolution (e.g. configs/unet_superres_fm.json);
                          \`diffuse upscale --model RUN_DIR\` then uses it
  --scale S               super-resolution factor, an integer >= 2 dividing the image size (default ${D.scale};
                          Fashion-MNIST: 2 for 14 -> 28, 4 for 7 -> 28)
  --variance-type V       ${TRAIN_VARIANCE_TYPES.join(' | ')} (default ${D.varianceType}). learned_range (Nichol &
                          Dhariwal 2021) needs a U-Net config with out_channels = 2 x the data's channels
                          and --loss hybrid or vlb; the exported scheduler gets variance_type learned_range
  --loss L                ${TRAIN_LOSSES.join(' | ')} (default ${D.loss}): hybrid = L_simple + W x L_vlb with the mean
                          stop-gradient in L_vlb (L_vlb estimated as T x L_t); vlb = L_vlb alone
  --vlb-weight W          lambda of the hybrid loss (default ${D.vlbWeight}, the paper's)
  --timestep-sampler S    ${TIMESTEP_SAMPLERS.join(' | ')} (default ${D.timestepSampler}); importance (loss vlb only):
                          p_t ∝ sqrt(E[L_t^2]) over the last 10 losses per t, uniform until all t have 10
  --sde S                 ${SDE_NAMES.join(' | ')}: continuous-time denoising score matching (Song et al. 2021),
                          t ~ U(1e-5, 1); VP/sub-VP take beta_min/max = timesteps x beta-start/end (0.1, 20)
                          and the model predicts the noise; VE: the model predicts -noise, sigma-min..max.
                          The U-Net sees t x (timesteps - 1). Sample with \`diffuse sample --sde-sampler pc|ode\`
  --likelihood-weighting  (--sde) weight the loss by g(t)^2 instead of std(t)^2 (a bound on the NLL)
  --sigma-min X           (--sde ve) smallest noise std (default ${D.sigmaMin})
  --sigma-max X           (--sde ve) largest noise std (default ${D.sigmaMax})

Ctrl-C writes a checkpoint and exits; \`--resume\` continues from it. A NaN or infinite loss stops
the run, naming the step and the last good checkpoint. When the run ends, RUN_DIR/model holds a
diffusers DDPMPipeline folder (EMA weights) that \`diffuse sample --model RUN_DIR\` loads.
`;

const OPTIONS = {
  data: { type: 'string' },
  out: { type: 'string' },
  config: { type: 'string' },
  steps: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  warmup: { type: 'string' },
  'lr-schedule': { type: 'string' },
  'weight-decay': { type: 'string' },
  'grad-clip': { type: 'string' },
  'ema-decay': { type: 'string' },
  'class-dropout': { type: 'string' },
  'prediction-type': { type: 'string' },
  'beta-schedule': { type: 'string' },
  timesteps: { type: 'string' },
  'min-snr-gamma': { type: 'string' },
  flip: { type: 'boolean' },
  seed: { type: 'string' },
  'save-every': { type: 'string' },
  keep: { type: 'string' },
  resume: { type: 'boolean' },
  threads: { type: 'string' },
  'time-limit': { type: 'string' },
  task: { type: 'string' },
  scale: { type: 'string' },
  'variance-type': { type: 'string' },
  loss: { type: 'string' },
  'vlb-weight': { type: 'string' },
  'timestep-sampler': { type: 'string' },
  sde: { type: 'string' },
  'likelihood-weighting': { type: 'boolean' },
  'sigma-min': { type: 'string' },
  'sigma-max': { type: 'string' },
} as const;

function intFlag(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isSafeInteger(n) || n < min) throw new ArgumentError(`--${name} must be an integer >= ${min}, found '${v}'`);
  return n;
}

function numFlag(name: string, v: string | undefined, lo: number, hi: number, loOpen = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (loOpen ? !(n > lo) : !(n >= lo)) || !(n <= hi)) {
    throw new ArgumentError(`--${name} must be a number in ${loOpen ? '(' : '['}${lo}, ${hi === Infinity ? 'inf)' : `${hi}]`}, found '${v}'`);
  }
  return n;
}

function enumFlag<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new ArgumentError(`--${name} must be one of ${allowed.join(', ')}, found '${v}'`);
  return v as T;
}

/** Parses the flags into train() options; every error is raised here, before any work. */
export function parseTrainArgs(argv: string[]): TrainOptions {
  const { values: v, positionals } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  if (positionals.length > 0) throw new ArgumentError(`unexpected argument '${positionals[0]}' (flags take the form --name value)`);
  if (v.out === undefined || v.out === '') throw new ArgumentError('--out RUN_DIR is required (the run folder)');
  const resume = v.resume === true;
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
  }
  const gamma = numFlag('min-snr-gamma', v['min-snr-gamma'], 0, Infinity, true);
  const o: { [K in keyof TrainConfig]?: TrainConfig[K] | undefined } = {
    unet,
    steps: intFlag('steps', v.steps, 1),
    batchSize: intFlag('batch', v.batch, 1),
    lr: numFlag('lr', v.lr, 0, 1, true),
    warmup: intFlag('warmup', v.warmup, 0),
    lrSchedule: enumFlag('lr-schedule', v['lr-schedule'], LR_SCHEDULES),
    weightDecay: numFlag('weight-decay', v['weight-decay'], 0, Infinity),
    gradClip: numFlag('grad-clip', v['grad-clip'], 0, Infinity),
    emaDecay: numFlag('ema-decay', v['ema-decay'], 0, 1),
    classDropout: numFlag('class-dropout', v['class-dropout'], 0, 1),
    predictionType: enumFlag('prediction-type', v['prediction-type'], PREDICTION_TYPES),
    betaSchedule: enumFlag('beta-schedule', v['beta-schedule'], BETA_SCHEDULES),
    numTrainTimesteps: intFlag('timesteps', v.timesteps, 2),
    minSnrGamma: gamma,
    flip: v.flip,
    seed: intFlag('seed', v.seed, 0),
    saveEvery: intFlag('save-every', v['save-every'], 1),
    keep: intFlag('keep', v.keep, 1),
    threads: intFlag('threads', v.threads, 1),
    timeLimit: numFlag('time-limit', v['time-limit'], 0, Infinity, true),
    task: enumFlag('task', v.task, TRAIN_TASKS),
    scale: intFlag('scale', v.scale, 2),
    varianceType: enumFlag('variance-type', v['variance-type'], TRAIN_VARIANCE_TYPES),
    loss: enumFlag('loss', v.loss, TRAIN_LOSSES),
    vlbWeight: numFlag('vlb-weight', v['vlb-weight'], 0, Infinity, true),
    timestepSampler: enumFlag('timestep-sampler', v['timestep-sampler'], TIMESTEP_SAMPLERS),
    sde: enumFlag('sde', v.sde, SDE_NAMES),
    likelihoodWeighting: v['likelihood-weighting'],
    sigmaMin: numFlag('sigma-min', v['sigma-min'], 0, Infinity, true),
    sigmaMax: numFlag('sigma-max', v['sigma-max'], 0, Infinity, true),
  };
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
  const controller = new AbortController();
  let bar: ProgressBar | null = null;
  let smooth: number | null = null;
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
      onLog: (msg) => {
        if (bar === null) process.stderr.write(`${msg}\n`);
      },
      onProgress: (m, total) => {
        bar ??= new ProgressBar({ total, label: 'train', unit: 'it' });
        // The bar shows a running mean of the loss (per-step values are noisy: t is random).
        smooth = smooth === null ? m.loss : 0.98 * smooth + 0.02 * m.loss;
        bar.update(m.step, { loss: smooth, 'img/s': m.images_per_s });
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
