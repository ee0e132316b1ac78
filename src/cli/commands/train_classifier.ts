/**
 * `diffuse train-classifier`: trains the noise-conditional classifier of classifier guidance
 * (a thin client of train/classifier_trainer.ts), with a progress bar; Ctrl-C writes a checkpoint.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { ArgumentError } from '../../tensor/errors.js';
import { readJSONFile, readSchedulerConfig } from '../../io/checkpoint.js';
import { resolveModelDir } from '../../train/checkpoint.js';
import { trainClassifier, CLASSIFIER_TRAIN_DEFAULTS } from '../../train/classifier_trainer.js';
import { classifierConfigFromJSON } from '../../nn/noisy_classifier.js';
import { ProgressBar } from '../progress.js';

export const summary = 'Train a noise-conditional classifier for classifier guidance (sample --classifier).';

const D = CLASSIFIER_TRAIN_DEFAULTS;
export const help = `diffuse train-classifier: train p(y | x_t, t) for classifier guidance (Dhariwal & Nichol 2021)

Usage: diffuse train-classifier --data fashion-mnist|mnist|DIR --out RUN_DIR [options]

The classifier is the U-Net's encoder half (time embedding, down blocks, mid block with attention)
with average pooling and a linear head, trained with cross-entropy on x_t at t ~ U{0..T-1} of the
diffusion schedule. RUN_DIR/model then steers any sampler:
  diffuse sample --model M --classifier RUN_DIR --classifier-scale S --class C

Options:
  --data SRC          labelled data: 'fashion-mnist', 'mnist' or DIR/<class>/*.png
  --out RUN_DIR       run folder: train_config.json, metrics.jsonl, checkpoints/, model/
  --model DIR         take the noise schedule from this diffusion model's scheduler_config.json
                      (default: diffusers' DDPM schedule, linear betas over 1000 steps, as the
                      bundled model); guide only models trained on the same schedule
  --config FILE       classifier config.json (snake_case: block_out_channels, down_block_types,
                      layers_per_block, ...; default 32/64/64 channels, attention at 7x7)
  --steps N           optimizer steps (default ${D.steps}; with --resume: the new total)
  --batch N           images per step (default ${D.batchSize})
  --lr X              AdamW learning rate (default ${D.lr}), linear warm-up over ${D.warmup} steps
  --weight-decay X    AdamW decoupled weight decay (default ${D.weightDecay})
  --seed N            seeds data order, timesteps, noise, initial weights (default ${D.seed})
  --save-every N      checkpoint every N steps and at the end (default ${D.saveEvery})
  --resume            continue the run in --out from its latest checkpoint
  --threads N         native threads (default: all cores, or DIFFUSE_THREADS)
`;

function intFlag(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isSafeInteger(n) || n < min) throw new ArgumentError(`--${name} must be an integer >= ${min}, found '${v}'`);
  return n;
}

function numFlag(name: string, v: string | undefined, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < lo || n > hi || (name === 'lr' && n === 0)) throw new ArgumentError(`--${name} must be a number in ${name === 'lr' ? '(' : '['}${lo}, ${hi}], found '${v}'`);
  return n;
}

export async function run(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string' },
      out: { type: 'string' },
      model: { type: 'string' },
      config: { type: 'string' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      'weight-decay': { type: 'string' },
      seed: { type: 'string' },
      'save-every': { type: 'string' },
      resume: { type: 'boolean' },
      threads: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new ArgumentError(`unexpected argument '${positionals[0]}'; see 'diffuse train-classifier --help'`);
  if (v.out === undefined || v.out === '') throw new ArgumentError('--out RUN_DIR is required');
  const resume = v.resume === true;
  if (!resume && (v.data === undefined || v.data === '')) throw new ArgumentError("--data is required: 'fashion-mnist', 'mnist' or a folder of class subfolders");
  if (v.data !== undefined && v.data !== 'fashion-mnist' && v.data !== 'mnist' && !existsSync(v.data)) throw new ArgumentError(`--data '${v.data}' is neither 'fashion-mnist', 'mnist' nor an existing folder`);
  const o = {
    steps: intFlag('steps', v.steps, 1),
    batchSize: intFlag('batch', v.batch, 1),
    lr: numFlag('lr', v.lr, 0, 1),
    weightDecay: numFlag('weight-decay', v['weight-decay'], 0, Infinity),
    seed: intFlag('seed', v.seed, 0),
    saveEvery: intFlag('save-every', v['save-every'], 1),
    threads: intFlag('threads', v.threads, 1),
  };
  let classifier: Record<string, unknown> | undefined;
  if (v.config !== undefined) {
    if (!existsSync(v.config)) throw new ArgumentError(`--config '${v.config}': no such file`);
    classifier = { ...classifierConfigFromJSON({ _class_name: 'NoisyClassifier', ...(readJSONFile(v.config) as object) }, v.config) };
  }
  let schedulerConfig: Record<string, unknown> | undefined;
  if (v.model !== undefined) {
    const { schedulerDir } = resolveModelDir(v.model);
    if (schedulerDir === null) throw new ArgumentError(`--model '${v.model}' has no scheduler/scheduler_config.json to take the noise schedule from`);
    schedulerConfig = readSchedulerConfig(schedulerDir);
  }
  const given = Object.fromEntries(Object.entries({ ...o, classifier, schedulerConfig }).filter(([, x]) => x !== undefined));
  const controller = new AbortController();
  const onSigint = (): void => {
    process.stderr.write('\ninterrupt: writing a checkpoint after this step\n');
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  let bar: ProgressBar | null = null;
  let acc: number | null = null;
  try {
    const r = await trainClassifier(
      { ...given, data: v.data ?? '', out: v.out, resume },
      {
        signal: controller.signal,
        onLog: (m) => (bar === null ? process.stderr.write(`${m}\n`) : undefined),
        onProgress: (m, total) => {
          bar ??= new ProgressBar({ total, label: 'train-classifier', unit: 'it' });
          acc = acc === null ? m.accuracy : 0.98 * acc + 0.02 * m.accuracy;
          bar.update(m.step, { loss: m.loss, acc });
        },
      },
    );
    if (process.stderr.isTTY) (bar as ProgressBar | null)?.done();
    process.stderr.write(r.interrupted ? `interrupted at step ${r.step}; continue with --resume\n` : `done: ${r.step} steps; classifier in ${r.modelDir}\n`);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
