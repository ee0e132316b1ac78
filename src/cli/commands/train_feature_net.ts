/**
 * `diffuse train-feature-net`: trains the evaluation feature network (src/eval/feature_net.ts) on a
 * bundled dataset's train split and writes it, with its test accuracy, to a folder that
 * `diffuse eval --feature-net` reads (the shipped ones live in models/feature-nets/).
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { DiffuseError } from '../../tensor/errors.js';
import { loadDataset } from '../../data/index.js';
import { labelledFromDataset } from '../../eval/labelled_images.js';
import { trainFeatureNet } from '../../eval/train_feature_net.js';
import { classifierAccuracy } from '../../eval/accuracy.js';
import { writeJSONAtomic } from '../../io/checkpoint.js';
import { engineInfo } from '../../engine_info.js';
import { ProgressBar } from '../progress.js';

export const summary = 'Train the feature network that diffuse eval measures samples with.';

export const help = `diffuse train-feature-net: train the evaluation feature network (a small CNN classifier)

Usage: diffuse train-feature-net --data fashion-mnist|mnist --out DIR [options]

Trains on the train split (Fashion-MNIST: the first 6,000 images of each class; MNIST: 9,000),
tests on the test split, and writes DIR/config.json, DIR/model.safetensors and DIR/metrics.json
(test accuracy and the recipe).

Options:
  --data NAME      fashion-mnist or mnist (required).
  --out DIR        Output folder (required).
  --epochs E       Passes over the train split (default 6).
  --batch B        Images per step (default 128).
  --lr LR          Peak learning rate, cosine-decayed (default 0.002).
  --shift P        Random translations up to P pixels (default 2).
  --flip / --no-flip  Random horizontal flips (default: on for fashion-mnist, off for mnist).
  --seed S         Seed of the weights, order and augmentations (default 0).
`;

function intFlag(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(x) || x < min) throw new DiffuseError(`--${name} must be an integer >= ${min}, found '${v}'`);
  return x;
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string' },
      out: { type: 'string' },
      epochs: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      shift: { type: 'string' },
      flip: { type: 'boolean' },
      'no-flip': { type: 'boolean' },
      seed: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new DiffuseError(`unexpected argument '${positionals[0]}'; see 'diffuse train-feature-net --help'`);
  const data = values.data;
  if (data !== 'fashion-mnist' && data !== 'mnist') throw new DiffuseError(`--data must be fashion-mnist or mnist, found ${data === undefined ? 'nothing' : `'${data}'`}`);
  const out = values.out;
  if (out === undefined || out === '') throw new DiffuseError('--out DIR (where to write the feature net) is required');
  if (values.flip === true && values['no-flip'] === true) throw new DiffuseError('--flip and --no-flip contradict each other; give one');
  const epochs = intFlag('epochs', values.epochs, 1) ?? 6;
  const batchSize = intFlag('batch', values.batch, 1) ?? 128;
  const shift = intFlag('shift', values.shift, 0) ?? 2;
  const seed = intFlag('seed', values.seed, 0) ?? 0;
  const lr = values.lr === undefined ? 2e-3 : Number(values.lr);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new DiffuseError(`--lr must be a positive number, found '${values.lr}'`);
  const flip = values.flip === true ? true : values['no-flip'] === true ? false : data === 'fashion-mnist';

  const train = labelledFromDataset(await loadDataset(data, { split: 'train' }));
  const test = labelledFromDataset(await loadDataset(data, { split: 'test' }));
  const started = performance.now();
  let bar: ProgressBar | null = null;
  const { net, steps, lastEpochLoss } = trainFeatureNet(train, {
    epochs, batchSize, lr, shift, flip, seed,
    onStep: (step, total, loss) => {
      bar ??= new ProgressBar({ total, label: 'train-feature-net', unit: 'step' });
      bar.update(step, { loss });
    },
  });
  if (process.stderr.isTTY) (bar as ProgressBar | null)?.done();
  const seconds = (performance.now() - started) / 1000;
  // Save first: the weights are the expensive part, the accuracies take seconds to recompute.
  net.savePretrained(out);
  const { accuracy, perClass } = classifierAccuracy(net, test);
  const trainAcc = classifierAccuracy(net, train).accuracy;
  const metrics = {
    dataset: data,
    test_accuracy: accuracy,
    test_accuracy_per_class: perClass,
    train_accuracy: trainAcc,
    train_images: train.labels.length,
    test_images: test.labels.length,
    last_epoch_loss: lastEpochLoss,
    recipe: { epochs, batch_size: batchSize, lr, weight_decay: 0.05, shift, flip, seed, steps },
    train_seconds: Math.round(seconds),
    threads: engineInfo().threads,
    parameters: net.numParameters(),
  };
  writeJSONAtomic(join(out, 'metrics.json'), metrics);
  process.stdout.write(`${out}: test accuracy ${(accuracy * 100).toFixed(2)}% (train ${(trainAcc * 100).toFixed(2)}%), ${steps} steps in ${Math.round(seconds)} s\n`);
}
