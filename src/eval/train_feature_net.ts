/**
 * Supervised training of a FeatureNet on labelled images: softmax cross-entropy, AdamW with a
 * linear warm-up and cosine decay of the learning rate (Loshchilov & Hutter 2017), random
 * translations by up to `shift` pixels (background filled with -1) and optional horizontal
 * flips. Used to train the shipped feature nets (train-feature-net) and, with the same recipe,
 * the CAS classifiers on generated or real images (cas.ts).
 */
import { boolField, described, intField, numberField, type Field } from '../schema/field.js';
import { Tensor } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { randomPermutation } from '../data/dataset.js';
import { AdamW } from '../nn/adamw.js';
import { FeatureNet, type FeatureNetConfig } from './feature_net.js';
import { softmaxCrossEntropy } from './cross_entropy.js';
import type { LabelledImages } from './labelled_images.js';

/** Options of trainFeatureNet. */
export interface TrainFeatureNetOptions {
  /** The architecture (default: DEFAULT_FEATURE_NET_CONFIG with the data's size and class count). */
  config?: Partial<FeatureNetConfig>;
  /** Passes over the data (default 6). */
  epochs?: number;
  /** Train exactly this many steps instead (epochs repeat as needed): for a fixed compute budget. */
  steps?: number;
  /** Images per step (default 128; the last partial batch of an epoch is dropped). */
  batchSize?: number;
  /** Peak learning rate (default 2e-3). */
  lr?: number;
  /** AdamW's decoupled weight decay (default 0.05). */
  weightDecay?: number;
  /** Largest random translation in pixels, each axis (default 2; 0 turns it off). */
  shift?: number;
  /**
   * Random horizontal flips (default false). A judge must not learn an invariance the data does
   * not have: every Fashion-MNIST shoe points left, and a flip-trained net cannot tell a shoe from
   * its mirror image, so it cannot see a generator that draws mirrored shoes.
   */
  flip?: boolean;
  /** Seed of the initial weights, the epoch orders and the augmentations (default 0). */
  seed?: number;
  /** Called after every step with the step count (1-based), the total and the batch loss. */
  onStep?(step: number, total: number, loss: number): void;
}

/** The recipe's fields (schema fields: --help of diffuse train-feature-net and the checks here read them). */
export const TRAIN_FEATURE_NET_FIELDS = {
  epochs: described(intField('epochs', 6, 1), 'Passes over the train split.', { metavar: 'E' }),
  batchSize: described(intField('batch_size', 128, 1), 'Images per step.', { flag: 'batch', metavar: 'B' }),
  lr: described({ ...numberField('lr', 2e-3, 0, Infinity, true), allowed: 'a positive number' }, 'Peak learning rate, cosine-decayed.', { metavar: 'LR' }),
  weightDecay: described(numberField('weight_decay', 0.05, 0), "AdamW's decoupled weight decay."),
  shift: described(intField('shift', 2, 0), 'Random translations up to P pixels (0 turns it off).', { metavar: 'P' }),
  flip: described(boolField('flip', false), 'Random horizontal flips.'),
  seed: described(intField('seed', 0, 0), 'Seed of the weights, order and augmentations.', { metavar: 'S' }),
} as const;

/** What trainFeatureNet returns. */
export interface TrainFeatureNetResult {
  net: FeatureNet;
  steps: number;
  /** Mean training loss over the last epoch. */
  lastEpochLoss: number;
}

/** Share of the steps spent warming the learning rate up linearly from 0. */
const WARMUP_FRACTION = 0.05;

/**
 * Copies batch images into `out` (B, S, S, C), each shifted by (dy, dx) in [-shift, shift] with
 * -1 (background) filled in, and mirrored with probability 1/2 when `flip`.
 */
function augmentInto(src: Float32Array, idx: ArrayLike<number>, s: number, c: number, shift: number, flip: boolean, gen: Generator, out: Float32Array): void {
  const per = s * s * c;
  const u = gen.uniform([idx.length * 3]).toArray();
  for (let b = 0; b < idx.length; b++) {
    const dy = shift === 0 ? 0 : Math.floor(u[3 * b]! * (2 * shift + 1)) - shift;
    const dx = shift === 0 ? 0 : Math.floor(u[3 * b + 1]! * (2 * shift + 1)) - shift;
    const mirror = flip && u[3 * b + 2]! < 0.5;
    const base = idx[b]! * per;
    const o = b * per;
    for (let y = 0; y < s; y++) {
      const sy = y - dy;
      for (let x = 0; x < s; x++) {
        const sx0 = x - dx;
        const sx = mirror ? s - 1 - sx0 : sx0;
        for (let ch = 0; ch < c; ch++) {
          out[o + (y * s + x) * c + ch] = sy < 0 || sy >= s || sx0 < 0 || sx0 >= s ? -1 : src[base + (sy * s + sx) * c + ch]!;
        }
      }
    }
  }
}

/**
 * Trains a new FeatureNet on `data`.
 * @example
 * const train = labelledFromDataset(fashionMnist('train'));
 * const { net } = trainFeatureNet(train, { epochs: 6, flip: true });
 */
export function trainFeatureNet(data: LabelledImages, options: TrainFeatureNetOptions = {}): TrainFeatureNetResult {
  const op = 'trainFeatureNet';
  const { images, labels } = data;
  if (images.rank !== 4 || images.shape[1] !== images.shape[2]) throw new ShapeError(`${op}: images must be (N, S, S, C), found shape ${fmtShape(images.shape)}`);
  const [n, s, , c] = images.shape as [number, number, number, number];
  if (labels.length !== n) throw new ShapeError(`${op}: ${labels.length} labels for ${n} images`);
  const F = TRAIN_FEATURE_NET_FIELDS;
  const { epochs = F.epochs.default, batchSize = F.batchSize.default, lr = F.lr.default, weightDecay = F.weightDecay.default, shift = F.shift.default, flip = F.flip.default, seed = F.seed.default } = options;
  const check = (name: string, field: Field<unknown>, v: unknown): void => {
    if (field.parse(v) === undefined) throw new ArgumentError(`${op}: '${name}' must be ${field.allowed}, found ${String(v)}`);
  };
  check('epochs', F.epochs, epochs);
  if (options.steps !== undefined) check('steps', intField('steps', 1, 1), options.steps);
  check('batchSize', F.batchSize, batchSize);
  check('shift', F.shift, shift);
  check('lr', F.lr, lr);
  const batch = Math.min(batchSize, n);
  const perEpoch = Math.floor(n / batch);
  const total = options.steps ?? perEpoch * epochs;
  const numClasses = options.config?.numClasses ?? labels.reduce((m, y) => Math.max(m, y + 1), 0);
  const gen = new Generator(seed);
  const net = new FeatureNet({ imageSize: s, inChannels: c, ...options.config, numClasses }, { gen });
  const opt = new AdamW(net.parameters(), { lr, weightDecay });
  const warmup = Math.max(1, Math.round(WARMUP_FRACTION * total));
  const buf = new Float32Array(batch * s * s * c); // (B, S, S, C)
  const by = new Int32Array(batch);
  let step = 0;
  let lastEpochLoss = NaN;
  const pixels = images.toArray(); // the augmentation runs on the host
  while (step < total) {
    const order = randomPermutation(n, gen);
    let epochLoss = 0;
    const batches = Math.min(perEpoch, total - step);
    for (let b = 0; b < batches; b++) {
      const idx = order.subarray(b * batch, (b + 1) * batch);
      augmentInto(pixels, idx, s, c, shift, flip, gen, buf);
      for (let i = 0; i < batch; i++) by[i] = labels[idx[i]!]!;
      opt.lr = step < warmup ? (lr * (step + 1)) / warmup : 0.5 * lr * (1 + Math.cos((Math.PI * (step - warmup)) / Math.max(1, total - warmup)));
      const loss = softmaxCrossEntropy(net.forward(new Tensor(buf, [batch, s, s, c])).logits, by);
      loss.backward();
      opt.step();
      net.zeroGrad();
      step++;
      const l = loss.item();
      epochLoss += l;
      options.onStep?.(step, total, l);
    }
    lastEpochLoss = epochLoss / batches;
  }
  return { net: net.eval(), steps: total, lastEpochLoss };
}
