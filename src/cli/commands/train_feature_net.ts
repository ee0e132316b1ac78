/**
 * `diffuse train-feature-net`: trains the evaluation feature network (src/eval/feature_net.ts) on a
 * bundled dataset's train split and writes it, with its test accuracy, to a folder that
 * `diffuse eval --feature-net` reads (the shipped ones live in models/feature-nets/).
 */
import { join } from 'node:path';
import { UsageError } from '../../tensor/errors.js';
import { loadDataset } from '../../data/index.js';
import { classBalancedIndices, labelledFromDataset } from '../../eval/labelled_images.js';
import { trainFeatureNet, TRAIN_FEATURE_NET_FIELDS } from '../../eval/train_feature_net.js';
import { boolField, described, intField, optional, stringField } from '../../schema/field.js';
import { existsSync } from 'node:fs';
import { loadImageFolder } from '../../data/image_folder.js';
import { folderEvalData, trainFolderFeatureNet } from '../../eval/folder_eval.js';
import { folderImageSize, saveFolderFeatureNet } from '../../eval/folder_feature_net.js';
import { FOLDER_SPLIT } from '../../eval/folder_split.js';
import { formatFlagHelp, parseCommandFlags, pathFlag } from '../flags.js';

const R = TRAIN_FEATURE_NET_FIELDS;
const FLAGS = {
  data: described(optional(stringField('data', '')), 'fashion-mnist, mnist, or your own labelled folder DIR/<class>/*.png (below) (required).', { metavar: 'NAME|DIR' }),
  imageSize: described(optional(intField('image_size', 1, 1), "the folder's first image's shorter side"), 'With --data DIR: the side the images are resized and center-cropped to (the model\'s sample size).', { metavar: 'S' }),
  out: pathFlag('out', 'Output folder (required).', 'DIR'),
  epochs: R.epochs,
  steps: described(optional(intField('steps', 1, 1), '--epochs passes'), 'Train exactly N steps instead of --epochs passes (a fixed budget; a quick check).', { metavar: 'N' }),
  batch: R.batchSize,
  lr: R.lr,
  shift: R.shift,
  flip: described(R.flip, 'Random horizontal flips: a judge that cannot tell an image from its mirror cannot see a model that draws mirrored shoes or digits, so the shipped nets are trained without (warns).'),
  noFlip: described(boolField('no_flip', false), 'No random horizontal flips (the default; kept for older scripts).'),
  seed: R.seed,
  accuracyN: described(optional(intField('accuracy_n', 1, 1), 'every image'), 'Measure the test and train accuracies on N class-balanced images of each split (a seeded subset, a multiple of the class count) instead of all of them (metrics.json records N).', { metavar: 'N' }),
} as const;
import { classifierAccuracy } from '../../eval/accuracy.js';
import { mirrorShares } from '../../eval/orientation.js';
import { writeJSONAtomic } from '../../io/checkpoint.js';
import { unlinkFile } from '../../io/file_ops.js';
import { engineInfo } from '../../engine_info.js';
import { stepProgress } from '../progress.js';

export const summary = 'Train the feature network that diffuse eval measures samples with.';

export const help = `diffuse train-feature-net: train the evaluation feature network (a small CNN classifier)

Usage: diffuse train-feature-net --data fashion-mnist|mnist --out DIR [options]
       diffuse train-feature-net --data DIR --out NET [--image-size S] [options]

Trains on the train split (Fashion-MNIST: the first 6,000 images of each class; MNIST: 9,000),
tests on the test split, and writes DIR/config.json, DIR/model.safetensors and DIR/metrics.json
(test accuracy, the orientation figures and the recipe).

The rule for a judge: no augmentation that the data does not have. Shifts by a pixel or two are
in the data (its objects are not all centred alike); mirror images are not (every Fashion-MNIST
shoe points left, and no digit is mirrored), so neither dataset's net sees flips.

Your own folder (--data DIR, DIR/<class>/*.png, at least 2 classes, any size and channel count):
the folder is split per class by --seed (${FOLDER_SPLIT.train * 100}% training, ${FOLDER_SPLIT.reference * 100}% held-out reference, ${FOLDER_SPLIT.floor * 100}% held-out
floor; diffuse eval --data DIR re-derives the same split from DIR/data_split.json); the net trains
on the training part only (at least 300 steps), its test accuracy is on the held-out reference.
Then: diffuse eval --data DIR --model M --feature-net NET.

Options:
${formatFlagHelp(FLAGS)}`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseCommandFlags('train-feature-net', FLAGS, argv);
  const data = values.data;
  if (data === undefined || data === '') throw new UsageError('--data is required: fashion-mnist, mnist, or a folder DIR/<class>/*.png of your own images');
  const out = values.out;
  if (out === undefined || out === '') throw new UsageError('--out DIR (where to write the feature net) is required');
  if (data !== 'fashion-mnist' && data !== 'mnist') {
    if (!existsSync(data)) throw new UsageError(`--data must be fashion-mnist, mnist or an existing folder DIR/<class>/*.png, found '${data}' (no such folder)`);
    if (values.accuracyN !== undefined) throw new UsageError(`--accuracy-n applies to the bundled datasets; with --data ${data} the accuracy is measured on the held-out reference`);
    if (values.flip) throw new UsageError('--flip: a judge must not learn an invariance the data does not have; folder feature nets train without flips');
    const imageSize = values.imageSize ?? (await folderImageSize(data));
    const ds = await loadImageFolder(data, { imageSize });
    const split = folderEvalData(ds, data, values.seed);
    const started = performance.now();
    const progress = stepProgress('train-feature-net');
    const ff = trainFolderFeatureNet(split, {
      batchSize: values.batch, lr: values.lr, shift: values.shift, seed: values.seed, epochs: values.epochs,
      ...(values.steps === undefined ? {} : { steps: values.steps }),
      onStep: progress.onStep,
    });
    progress.done();
    const seconds = (performance.now() - started) / 1000;
    saveFolderFeatureNet(out, ff, split, ds, { epochs: values.epochs, batch_size: values.batch, lr: values.lr, shift: values.shift, flip: false, seed: values.seed }, seconds);
    const k = split.classNames.length;
    process.stdout.write(`${out}: held-out accuracy ${(ff.referenceAccuracy * 100).toFixed(2)}% (train ${(ff.trainAccuracy * 100).toFixed(2)}%, chance ${(100 / k).toFixed(1)}%) on ${data} (${k} classes, ${imageSize}x${imageSize}x${ds.channels}; ${split.train.labels.length} training, ${split.reference.labels.length} reference and ${split.floor.labels.length} floor images), ${ff.steps} steps in ${Math.round(seconds)} s\n`);
    process.stdout.write(`next: diffuse eval --data ${data} --model MODEL --feature-net ${out}\n`);
    return;
  }
  if (values.imageSize !== undefined) throw new UsageError(`--image-size applies to folders; ${data} images are 28x28`);
  if (values.flip === true && values.noFlip) throw new UsageError('--flip and --no-flip contradict each other; give one');
  const { epochs, shift, seed, lr } = values;
  const batchSize = values.batch;
  const flip = values.flip;
  if (flip) process.stderr.write(`warning: --flip trains the net to score an image and its mirror alike, so diffuse eval with it cannot see mirrored samples (${data} has no mirrored images); the shipped nets are trained without\n`);

  const trainDs = await loadDataset(data, { split: 'train' });
  const testDs = await loadDataset(data, { split: 'test' });
  const train = labelledFromDataset(trainDs);
  const test = labelledFromDataset(testDs);
  const { accuracyN } = values;
  const k = trainDs.numClasses!;
  if (accuracyN !== undefined && (accuracyN % k !== 0 || accuracyN > testDs.length)) throw new UsageError(`--accuracy-n must be a multiple of the ${k} classes and at most the ${testDs.length} test images of ${data}, found ${accuracyN}`);
  // The images the accuracies are measured on: all, or a class-balanced subset of each split.
  const testAccImages = accuracyN === undefined ? test : labelledFromDataset(testDs, classBalancedIndices(testDs, accuracyN, seed));
  const trainAccImages = accuracyN === undefined ? train : labelledFromDataset(trainDs, classBalancedIndices(trainDs, accuracyN, seed));
  const started = performance.now();
  const progress = stepProgress('train-feature-net');
  const { net, steps, lastEpochLoss } = trainFeatureNet(train, {
    epochs, batchSize, lr, shift, flip, seed,
    ...(values.steps === undefined ? {} : { steps: values.steps }),
    onStep: progress.onStep,
  });
  progress.done();
  const seconds = (performance.now() - started) / 1000;
  // Save first: the weights are the expensive part, the accuracies take seconds to recompute.
  // An older metrics.json goes before the new net is written, so it never describes another net.
  unlinkFile(join(out, 'metrics.json'));
  net.savePretrained(out);
  const { accuracy, perClass } = classifierAccuracy(net, testAccImages);
  const trainAcc = classifierAccuracy(net, trainAccImages).accuracy;
  // How often the net finds a real test image's mirror more typical of its class: near 0 for the
  // classes that have a direction, the baseline of eval's orientation check.
  const mirror = mirrorShares(net, testAccImages);
  const metrics = {
    dataset: data,
    test_accuracy: accuracy,
    test_accuracy_per_class: perClass,
    train_accuracy: trainAcc,
    test_mirror_share: mirror.share,
    test_mirror_share_per_class: mirror.perClass,
    train_images: train.labels.length,
    test_images: test.labels.length,
    ...(accuracyN === undefined ? {} : { accuracy_images: accuracyN }),
    last_epoch_loss: lastEpochLoss,
    recipe: { epochs, batch_size: batchSize, lr, weight_decay: 0.05, shift, flip, seed, steps },
    train_seconds: Math.round(seconds),
    threads: engineInfo().threads,
    parameters: net.numParameters(),
  };
  writeJSONAtomic(join(out, 'metrics.json'), metrics);
  process.stdout.write(`${out}: test accuracy ${(accuracy * 100).toFixed(2)}% (train ${(trainAcc * 100).toFixed(2)}%), ${steps} steps in ${Math.round(seconds)} s\n`);
}
