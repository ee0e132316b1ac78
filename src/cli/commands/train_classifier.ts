/**
 * `diffuse train-classifier`: trains the noise-conditional classifier of classifier guidance
 * (a thin client of train/classifier_trainer.ts), with a progress bar; Ctrl-C writes a checkpoint.
 */
import { existsSync } from 'node:fs';
import { UsageError } from '../../tensor/errors.js';
import { readJSONFile, readSchedulerConfig } from '../../io/checkpoint.js';
import { resolveModelDir } from '../../io/model_folder.js';
import { trainClassifier, CLASSIFIER_TRAIN_FIELDS } from '../../train/classifier_trainer.js';
import { boolField, described, optional, stringField, type Field } from '../../schema/field.js';
import { formatFlagHelp, parseCommandFlags, pathFlag } from '../flags.js';

/** The run's fields as flags; absent ones stay undefined (the trainer's defaults, or the resumed run's). */
const RUN_FLAGS = Object.fromEntries(
  Object.entries(CLASSIFIER_TRAIN_FIELDS).map(([name, f]) => [name, { ...optional(f as Field<unknown>), ...(f.defaultText === undefined ? { defaultText: String(f.default) } : {}) }]),
) as unknown as { readonly [K in keyof typeof CLASSIFIER_TRAIN_FIELDS]: Field<(typeof CLASSIFIER_TRAIN_FIELDS)[K]['default'] | undefined> };

const FLAGS = {
  data: described(optional(stringField('data', '')), "Labelled data: 'fashion-mnist', 'mnist' or DIR/<class>/*.png.", { metavar: 'SRC' }),
  out: pathFlag('out', 'Run folder: train_config.json, metrics.jsonl, checkpoints/, model/.', 'RUN_DIR'),
  model: pathFlag('model', "Take the noise schedule from this diffusion model's scheduler_config.json; guide only models trained on the same schedule.", 'DIR', "diffusers' DDPM schedule, linear betas over 1000 steps, as the bundled model"),
  config: pathFlag('config', 'Classifier config.json (snake_case: block_out_channels, down_block_types, layers_per_block, ...).', 'FILE', '32/64/64 channels, attention at 7x7'),
  resume: described(boolField('resume', false), 'Continue the run in --out from its latest checkpoint.'),
  ...RUN_FLAGS,
} as const;
import { classifierConfigFromJSON } from '../../nn/noisy_classifier.js';
import { ProgressBar } from '../progress.js';

export const summary = 'Train a noise-conditional classifier for classifier guidance (sample --classifier).';

export const help = `diffuse train-classifier: train p(y | x_t, t) for classifier guidance (Dhariwal & Nichol 2021)

Usage: diffuse train-classifier --data fashion-mnist|mnist|DIR --out RUN_DIR [options]

The classifier is the U-Net's encoder half (time embedding, down blocks, mid block with attention)
with average pooling and a linear head, trained with cross-entropy on x_t at t ~ U{0..T-1} of the
diffusion schedule. RUN_DIR/model then steers any sampler:
  diffuse sample --model M --classifier RUN_DIR --classifier-scale S --class C

Options:
${formatFlagHelp(FLAGS)}`;

export async function run(argv: string[]): Promise<void> {
  const { values: v } = parseCommandFlags('train-classifier', FLAGS, argv);
  if (v.out === undefined || v.out === '') throw new UsageError('--out RUN_DIR is required');
  const resume = v.resume;
  if (!resume && (v.data === undefined || v.data === '')) throw new UsageError("--data is required: 'fashion-mnist', 'mnist' or a folder of class subfolders");
  if (v.data !== undefined && v.data !== 'fashion-mnist' && v.data !== 'mnist' && !existsSync(v.data)) throw new UsageError(`--data '${v.data}' is neither 'fashion-mnist', 'mnist' nor an existing folder`);
  const o = Object.fromEntries(Object.keys(CLASSIFIER_TRAIN_FIELDS).map((k) => [k, v[k as keyof typeof CLASSIFIER_TRAIN_FIELDS]]));
  let classifier: Record<string, unknown> | undefined;
  if (v.config !== undefined) {
    if (!existsSync(v.config)) throw new UsageError(`--config '${v.config}': no such file`);
    classifier = { ...classifierConfigFromJSON({ _class_name: 'NoisyClassifier', ...(readJSONFile(v.config) as object) }, v.config) };
  }
  let schedulerConfig: Record<string, unknown> | undefined;
  if (v.model !== undefined) {
    const { schedulerDir } = resolveModelDir(v.model);
    if (schedulerDir === null) throw new UsageError(`--model '${v.model}' has no scheduler/scheduler_config.json to take the noise schedule from`);
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
