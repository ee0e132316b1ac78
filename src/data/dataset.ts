/**
 * The Dataset contract every data source meets (Fashion-MNIST, MNIST, image folders), and the
 * seeded batch loader that turns one into training batches (N, H, W, C) in [-1, 1].
 *
 * Determinism: an epoch's order is a Fisher-Yates permutation drawn from the caller's Generator
 * at the epoch's start, and the loader state { epoch, position, epochStart } (epochStart = the
 * generator's state when that permutation was drawn) lets a resumed run rebuild the same order
 * and continue at the same batch.
 */
import { Tensor } from '../tensor/tensor.js';
import { Generator, type GeneratorState } from '../tensor/random.js';
import { ArgumentError, DiffuseError } from '../tensor/errors.js';
import { randomFlipBatch } from './transforms.js';

/** A problem with the data itself (missing, corrupt, inconsistent): raised before training starts. */
export class DataError extends DiffuseError {}

/** One example: an (H, W, C) image in [-1, 1] and its class (null when unconditional). */
export interface Sample {
  /** (H, W, C) row-major, values in [-1, 1]. */
  image: Float32Array;
  label: number | null;
}

/** A random-access collection of same-size images. */
export interface Dataset {
  /** A short name for logs ('fashion-mnist/train', a folder path, ...). */
  readonly name: string;
  /** Number of examples. */
  readonly length: number;
  /** Height = width of every image, in pixels. */
  readonly imageSize: number;
  /** 1 (grayscale) or 3 (RGB). */
  readonly channels: number;
  /** Number of classes, or null for an unconditional dataset. */
  readonly numClasses: number | null;
  /** Class names indexed by label (empty when unconditional). */
  readonly classNames: readonly string[];
  /** Example i, 0 <= i < length. The returned image may be modified by the caller. */
  get(i: number): Sample;
}

/** Throws unless 0 <= i < length (shared by Dataset implementations). */
export function checkIndex(name: string, i: number, length: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= length) {
    throw new ArgumentError(`${name}.get: index must be an integer in [0, ${length}), found ${String(i)}`);
  }
}

/** Where a loader is: enough to resume the exact same sequence of batches. */
export interface LoaderState {
  /** Epochs completed before the current one. */
  epoch: number;
  /** Index, in the epoch's order, of the next example to load. */
  position: number;
  /** The generator's state when this epoch's order was drawn (null without shuffling). */
  epochStart: GeneratorState | null;
}

/** Options of `batches`. */
export interface BatchOptions {
  batchSize: number;
  /** Source of the epoch orders and flips; required when shuffle or flip is on. */
  generator?: Generator;
  /** A new random order every epoch (default true). */
  shuffle?: boolean;
  /** Drop an epoch's last incomplete batch (default true: every step sees batchSize images). */
  dropLast?: boolean;
  /** Random horizontal flip with probability 1/2 per image (default false). */
  flip?: boolean;
  /** Stop after this many epochs (default: never; training stops by step count). */
  epochs?: number;
  /** Continue from a saved LoaderState (with the generator restored to its saved state too). */
  resume?: LoaderState;
}

/** One batch. */
export interface Batch {
  /** (N, H, W, C) float32 in [-1, 1]. */
  x: Tensor;
  /** (N) class labels, or null for an unconditional dataset. */
  labels: Int32Array | null;
  /** (N) dataset indices of the examples, in batch order. */
  indices: Int32Array;
  /** The loader state after this batch: save it with a checkpoint to resume right after it. */
  state: LoaderState;
}

/** A permutation of 0..n-1 by Fisher-Yates on n uniforms drawn from `gen`. */
export function randomPermutation(n: number, gen: Generator): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  if (n < 2) return perm;
  const u = gen.uniform([n]).toArray();
  for (let i = n - 1; i > 0; i--) {
    // j uniform in [0, i]; u < 1 so j <= i.
    const j = Math.floor((u[i] as number) * (i + 1));
    const t = perm[i] as number;
    perm[i] = perm[j] as number;
    perm[j] = t;
  }
  return perm;
}

function checkBatchOptions(dataset: Dataset, opts: BatchOptions): void {
  const { batchSize } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ArgumentError(`batches: batchSize must be a positive integer, found ${String(batchSize)}`);
  }
  const dropLast = opts.dropLast ?? true;
  if (dataset.length === 0) throw new DataError(`batches: dataset '${dataset.name}' is empty`);
  if (dropLast && batchSize > dataset.length) {
    throw new ArgumentError(
      `batches: batchSize ${batchSize} exceeds the ${dataset.length} examples of '${dataset.name}' with dropLast on, so no batch would ever be produced; lower batchSize or set dropLast: false`,
    );
  }
  if (((opts.shuffle ?? true) || opts.flip === true) && !(opts.generator instanceof Generator)) {
    throw new ArgumentError(`batches: shuffle and flip need a seeded 'generator' (a Generator), found ${typeof opts.generator}`);
  }
  if (opts.epochs !== undefined && (!Number.isInteger(opts.epochs) || opts.epochs < 0)) {
    throw new ArgumentError(`batches: epochs must be a non-negative integer, found ${String(opts.epochs)}`);
  }
  if (opts.resume !== undefined) checkLoaderState(opts.resume, dataset.length, opts.shuffle ?? true);
}

/**
 * Checks a saved loader position against a dataset of `n` examples (a checkpoint's loader state
 * may be damaged or hand-edited): the trainer checks it when it resumes, before any batch.
 */
export function checkLoaderState(r: LoaderState, n: number, shuffle: boolean): void {
  if (r === null || typeof r !== 'object') throw new ArgumentError(`batches: resume state must be an object { epoch, position, epochStart }, found ${r === null ? 'null' : typeof r}`);
  if (!Number.isInteger(r.epoch) || r.epoch < 0 || !Number.isInteger(r.position) || r.position < 0 || r.position > n) {
    throw new ArgumentError(`batches: resume state must have integer epoch >= 0 and position in [0, ${n}], found epoch ${String(r.epoch)}, position ${String(r.position)}`);
  }
  if (shuffle && r.epochStart === null) {
    throw new ArgumentError('batches: resume state has no epochStart but shuffle is on; it was saved by a loader without shuffling');
  }
  // A malformed generator state is refused here, not at the first batch.
  if (r.epochStart !== null) Generator.fromState(r.epochStart);
}

/**
 * Seeded batches of a dataset, epoch after epoch.
 * @example
 * const gen = new Generator(0);
 * for (const { x, labels, state } of batches(ds, { batchSize: 64, generator: gen, flip: true })) {
 *   // train on x (N, H, W, C); store `state` and gen.getState() in the checkpoint
 * }
 */
export function* batches(dataset: Dataset, opts: BatchOptions): IterableIterator<Batch> {
  checkBatchOptions(dataset, opts);
  const { batchSize } = opts;
  const shuffle = opts.shuffle ?? true;
  const dropLast = opts.dropLast ?? true;
  const flip = opts.flip ?? false;
  const n = dataset.length;
  const s = dataset.imageSize;
  const c = dataset.channels;
  const per = s * s * c;
  const conditional = dataset.numClasses !== null;

  let epoch = opts.resume?.epoch ?? 0;
  let position = opts.resume?.position ?? 0;
  let epochStart: GeneratorState | null = opts.resume?.epochStart ?? null;
  let order: Int32Array | null = null;
  if (opts.resume !== undefined && shuffle && epochStart !== null) {
    // Rebuild the interrupted epoch's order from the generator state it was drawn at, without
    // touching the caller's generator (already restored to its own checkpointed state).
    order = randomPermutation(n, Generator.fromState(epochStart));
  }
  const endOfEpoch = (): boolean => (dropLast ? position + batchSize > n : position >= n);

  while (opts.epochs === undefined || epoch < opts.epochs) {
    if (order !== null && endOfEpoch()) {
      epoch++;
      position = 0;
      order = null;
      if (opts.epochs !== undefined && epoch >= opts.epochs) return;
    }
    if (order === null) {
      if (shuffle) {
        const gen = opts.generator as Generator;
        epochStart = gen.getState();
        order = randomPermutation(n, gen);
      } else {
        epochStart = null;
        order = new Int32Array(n);
        for (let i = 0; i < n; i++) order[i] = i;
      }
      if (endOfEpoch()) position = 0; // a resumed position past the end starts the epoch over
    }
    const count = Math.min(batchSize, n - position);
    const x = new Float32Array(count * per); // (N, H, W, C)
    const labels = conditional ? new Int32Array(count) : null;
    const indices = order.slice(position, position + count);
    for (let b = 0; b < count; b++) {
      const sample = dataset.get(indices[b] as number);
      x.set(sample.image, b * per);
      if (labels !== null) labels[b] = sample.label ?? -1;
    }
    if (flip) randomFlipBatch(x, [count, s, s, c], (opts.generator as Generator).uniform([count]).toArray());
    position += count;
    yield { x: new Tensor(x, [count, s, s, c]), labels, indices, state: { epoch, position, epochStart } };
  }
}
