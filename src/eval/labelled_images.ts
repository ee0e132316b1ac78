/**
 * Labelled image sets for evaluation: a dense (N, H, W, C) tensor in [-1, 1] with one class label
 * per image, built from a Dataset (all of it, or a seeded class-balanced subset) or from generated
 * samples. Every metric of src/eval takes these.
 */
import { Tensor } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { ArgumentError } from '../tensor/errors.js';
import { DataError, randomPermutation, type Dataset } from '../data/dataset.js';

/** Images (N, H, W, C) in [-1, 1] and their classes (N). */
export interface LabelledImages {
  images: Tensor;
  labels: Int32Array;
}

/**
 * Examples `indices` (default: all) of a labelled dataset, densely.
 * @example const test = labelledFromDataset(fashionMnist('test')); // (10000, 28, 28, 1)
 */
export function labelledFromDataset(ds: Dataset, indices?: ArrayLike<number>): LabelledImages {
  if (ds.numClasses === null) throw new DataError(`${ds.name} is unconditional (no class folders); the evaluation needs labelled images`);
  const n = indices?.length ?? ds.length;
  const per = ds.imageSize * ds.imageSize * ds.channels;
  const data = new Float32Array(n * per); // (N, S, S, C)
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = ds.get(indices === undefined ? i : indices[i]!);
    data.set(s.image, i * per);
    labels[i] = s.label!;
  }
  return { images: new Tensor(data, [n, ds.imageSize, ds.imageSize, ds.channels]), labels };
}

/**
 * Dataset indices of a seeded class-balanced subset: n / K examples of each of the K classes,
 * drawn without replacement, in class order. n must be a multiple of K and every class must hold
 * n / K examples.
 * @example const idx = classBalancedIndices(fashionMnist('train'), 1000, 0); // 100 per class
 */
export function classBalancedIndices(ds: Dataset, n: number, seed: number): Int32Array {
  const k = ds.numClasses;
  if (k === null) throw new DataError(`${ds.name} is unconditional; a class-balanced subset needs labels`);
  if (!Number.isInteger(n) || n < k || n % k !== 0) throw new ArgumentError(`classBalancedIndices: n must be a positive multiple of the ${k} classes, found ${n}`);
  const byClass: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < ds.length; i++) byClass[ds.get(i).label!]!.push(i);
  const per = n / k;
  const out = new Int32Array(n);
  const gen = new Generator(seed);
  byClass.forEach((members, c) => {
    if (members.length < per) throw new DataError(`${ds.name}: class ${c} has ${members.length} examples, fewer than the ${per} per class that n = ${n} needs`);
    const perm = randomPermutation(members.length, gen);
    for (let j = 0; j < per; j++) out[c * per + j] = members[perm[j]!]!;
  });
  return out;
}

/** A seeded random subset of m of the n examples (all of them, in order, when m >= n). */
export function randomSubset(n: number, m: number, seed: number): Int32Array {
  if (m >= n) return Int32Array.from({ length: n }, (_, i) => i);
  return randomPermutation(n, new Generator(seed)).slice(0, m).sort();
}
