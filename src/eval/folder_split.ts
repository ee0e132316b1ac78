/**
 * A user's labelled image folder (DIR/<class>/*.png) split for evaluation, deterministically by a
 * seed: per class, a shuffled 60% trains the feature net (and is the memorisation reference), 20%
 * is the held-out reference every distribution metric is measured against (FD, KID,
 * precision/recall, accuracy), and 20% is the held-out real-vs-real floor, scored as if it were
 * samples. Neither held-out part is ever shown to the feature net, so the floor is what unseen real
 * images score, the figure a model's samples are compared with. The split records a fingerprint of
 * the folder's file list, so an evaluation can check that its feature net was trained on this
 * split of this folder (a net that saw the held-out images would make real data look too good).
 */
import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import { Generator } from '../tensor/random.js';
import { ArgumentError } from '../tensor/errors.js';
import { DataError, randomPermutation } from '../data/dataset.js';
import type { ImageFolderDataset } from '../data/image_folder.js';
import type { LabelledImages } from './labelled_images.js';
import { Tensor } from '../tensor/tensor.js';

/** Shares of each class: feature-net training, held-out reference, held-out floor. */
export const FOLDER_SPLIT = Object.freeze({ train: 0.6, reference: 0.2, floor: 0.2 });

/** The file data_split.json: how a feature net's folder was split (written beside the net). */
export const DATA_SPLIT_NAME = 'data_split.json';

/** A folder split: dataset indices of each part, in class order, and what identifies it. */
export interface FolderSplit {
  seed: number;
  /** sha256 of the class names and the files' paths relative to the folder, in load order. */
  fingerprint: string;
  classNames: string[];
  train: Int32Array;
  reference: Int32Array;
  floor: Int32Array;
}

/**
 * The fingerprint of a loaded folder: its class names and file list (not the pixels: cheap, and a
 * changed image set changes it).
 */
export function folderFingerprint(ds: ImageFolderDataset, root: string): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(ds.classNames));
  for (const f of ds.files) h.update(`${relative(root, f)}\n`);
  return h.digest('hex');
}

/**
 * Splits a labelled folder per class by `seed`: of each class's m images (in the loader's sorted
 * order, shuffled by the seed), round(0.2 m) go to the reference, round(0.2 m) to the floor and
 * the rest to training. Every class needs at least 3 images (one per part).
 * @example const split = splitFolder(ds, 'data/shapes', 0); split.floor.length
 */
export function splitFolder(ds: ImageFolderDataset, root: string, seed: number): FolderSplit {
  const k = ds.numClasses;
  if (k === null) throw new DataError(`${ds.name} has no class folders; the folder evaluation needs labels (DIR/<class>/*.png, at least 2 classes)`);
  if (!Number.isInteger(seed) || seed < 0) throw new ArgumentError(`splitFolder: seed must be an integer >= 0, found ${String(seed)}`);
  const byClass: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < ds.length; i++) byClass[ds.get(i).label!]!.push(i);
  const gen = new Generator(seed);
  const train: number[] = [];
  const reference: number[] = [];
  const floor: number[] = [];
  byClass.forEach((members, c) => {
    const m = members.length;
    if (m < 3) throw new DataError(`${ds.name}: class '${ds.classNames[c]}' has ${m} image(s); the evaluation split needs at least 3 per class (one each for training the feature net, the reference and the floor)`);
    const perm = randomPermutation(m, gen);
    const nRef = Math.max(1, Math.round(FOLDER_SPLIT.reference * m));
    const nFloor = Math.max(1, Math.round(FOLDER_SPLIT.floor * m));
    for (let j = 0; j < m; j++) (j < nRef ? reference : j < nRef + nFloor ? floor : train).push(members[perm[j]!]!);
  });
  return { seed, fingerprint: folderFingerprint(ds, root), classNames: [...ds.classNames], train: Int32Array.from(train), reference: Int32Array.from(reference), floor: Int32Array.from(floor) };
}

/** Images `indices` of a folder dataset, densely. */
export function folderImages(ds: ImageFolderDataset, indices: ArrayLike<number>): LabelledImages {
  const per = ds.imageSize * ds.imageSize * ds.channels;
  const data = new Float32Array(indices.length * per); // (N, S, S, C)
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const s = ds.get(indices[i]!);
    data.set(s.image, i * per);
    labels[i] = s.label!;
  }
  return { images: new Tensor(data, [indices.length, ds.imageSize, ds.imageSize, ds.channels]), labels };
}

/** What data_split.json holds. */
export interface DataSplitRecord {
  folder: string;
  fingerprint: string;
  seed: number;
  fractions: typeof FOLDER_SPLIT;
  class_names: string[];
  image_size: number;
  channels: number;
  train_images: number;
  reference_images: number;
  floor_images: number;
}

/** The record of a split, for data_split.json. */
export function splitRecord(split: FolderSplit, folder: string, ds: ImageFolderDataset): DataSplitRecord {
  return {
    folder, fingerprint: split.fingerprint, seed: split.seed, fractions: FOLDER_SPLIT, class_names: split.classNames,
    image_size: ds.imageSize, channels: ds.channels,
    train_images: split.train.length, reference_images: split.reference.length, floor_images: split.floor.length,
  };
}
