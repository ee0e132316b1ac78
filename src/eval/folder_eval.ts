/**
 * Measuring a model on a user's own labelled image folder (DIR/<class>/*.png): the folder split of
 * folder_split.ts, a feature net trained on its training part (a classifier: the folders are its
 * labels), and every figure of evaluate.ts (FD, KID, precision/recall, accuracy, memorisation,
 * orientation, CAS) against the held-out reference, each beside the held-out floor at the same n.
 * Small folders get warnings, with the reason, where a figure cannot mean much (SMALL_FOLDER).
 *
 * Unlabelled folders (a flat DIR/*.png) are not measured here: without labels there is no
 * classifier to train, and the choice between a self-supervised and a random-feature network has
 * not been measured yet; `diffuse eval --bpd` works on any folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataError } from '../data/dataset.js';
import { ArgumentError } from '../tensor/errors.js';
import { concat } from '../ops/concat.js';
import type { ImageFolderDataset } from '../data/image_folder.js';
import type { UNet2DModel } from '../nn/unet_2d.js';
import { generate } from '../pipelines/generate.js';
import { FeatureNet, DEFAULT_FEATURE_NET_CONFIG } from './feature_net.js';
import { trainFeatureNet, type TrainFeatureNetOptions } from './train_feature_net.js';
import { classifierAccuracy } from './accuracy.js';
import { evaluateSamples, type EvalReport, type EvalStage } from './evaluate.js';
import { DATA_SPLIT_NAME, folderImages, splitFolder, type DataSplitRecord, type FolderSplit } from './folder_split.js';
import type { LabelledImages } from './labelled_images.js';
import { PR_NEIGHBOURS } from './precision_recall.js';

/**
 * Below these sizes a figure is mostly estimation noise, and the report says so:
 * - FD fits a Gaussian to each set in the feature net's D dimensions (D = 128): from fewer than
 *   2D images per set the covariance estimate is singular or nearly so and FD's bias (which grows
 *   like D / n) dominates the figure; `minImagesPerDim` = 2.
 * - Per-class accuracy from m reference images has a standard error of sqrt(p (1 - p) / m): 4.2
 *   points at p = 0.9 and m = 50, half the 8-point class bar; below `minPerClass` = 50 the class bar
 *   tests mostly noise.
 */
export const SMALL_FOLDER = Object.freeze({ minImagesPerDim: 2, minPerClass: 50 });

/** Fewest optimizer steps a folder's feature net trains (small folders need many passes). */
export const FOLDER_FEATURE_NET_MIN_STEPS = 300;

/** A folder ready to evaluate against: its split and the three parts, densely. */
export interface FolderEvalData {
  /** The folder's path (as given). */
  folder: string;
  split: FolderSplit;
  classNames: string[];
  imageSize: number;
  channels: number;
  /** The feature net's training images (also the memorisation reference, with the floor). */
  train: LabelledImages;
  /** Held out: the reference of every distribution metric and of the accuracies. */
  reference: LabelledImages;
  /** Held out: the real-vs-real floor, scored as if it were samples. */
  floor: LabelledImages;
}

/**
 * Splits a loaded labelled folder (folder_split.ts) by `seed` and gathers the three parts.
 * @example const data = folderEvalData(await loadImageFolder('data/shapes', { imageSize: 32 }), 'data/shapes', 0);
 */
export function folderEvalData(ds: ImageFolderDataset, folder: string, seed = 0): FolderEvalData {
  if (ds.numClasses === null || ds.numClasses < 2) {
    throw new DataError(`${folder}: the folder evaluation needs labelled images in at least 2 class folders (DIR/<class>/*.png), found ${ds.numClasses === null ? 'a flat folder (no classes)' : '1 class'}; unlabelled folders are not measured yet (diffuse eval --bpd works on any folder)`);
  }
  const split = splitFolder(ds, folder, seed);
  return {
    folder, split, classNames: split.classNames, imageSize: ds.imageSize, channels: ds.channels,
    train: folderImages(ds, split.train), reference: folderImages(ds, split.reference), floor: folderImages(ds, split.floor),
  };
}

/** What trainFolderFeatureNet returns: the net and its held-out accuracy. */
export interface FolderFeatureNet {
  net: FeatureNet;
  steps: number;
  /** Accuracy on the held-out reference images, overall and per class. */
  referenceAccuracy: number;
  referenceAccuracyPerClass: number[];
  trainAccuracy: number;
}

/**
 * Trains the folder's feature net on its training part only (the held-out parts never reach it):
 * the bundled nets' architecture at the folder's size, channels and class count, the same recipe
 * (no flips), and at least FOLDER_FEATURE_NET_MIN_STEPS steps.
 * @example const { net, referenceAccuracy } = trainFolderFeatureNet(data, { seed: 0 });
 */
export function trainFolderFeatureNet(data: FolderEvalData, options: TrainFeatureNetOptions = {}): FolderFeatureNet {
  const n = data.train.labels.length;
  const batch = Math.min(options.batchSize ?? 128, n);
  const epochs = options.epochs ?? 6;
  const steps = options.steps ?? Math.max(FOLDER_FEATURE_NET_MIN_STEPS, Math.floor(n / batch) * epochs);
  const { net } = trainFeatureNet(data.train, {
    ...options,
    steps, batchSize: batch,
    config: { ...DEFAULT_FEATURE_NET_CONFIG, imageSize: data.imageSize, inChannels: data.channels, numClasses: data.classNames.length, ...options.config },
  });
  const ref = classifierAccuracy(net, data.reference);
  return { net, steps, referenceAccuracy: ref.accuracy, referenceAccuracyPerClass: ref.perClass, trainAccuracy: classifierAccuracy(net, data.train).accuracy };
}

/** A feature net folder's data_split.json (written by train-feature-net --data DIR), or null. */
export function readDataSplit(featureNetDir: string): DataSplitRecord | null {
  const p = join(featureNetDir, DATA_SPLIT_NAME);
  if (!existsSync(p)) return null;
  return JSON.parse(readFileSync(p, 'utf8')) as DataSplitRecord;
}

/** The feature net fits the folder: size, channels, classes; else an error naming both. */
export function checkFolderFeatureNet(net: FeatureNet, data: FolderEvalData, where: string): void {
  const c = net.config;
  if (c.imageSize !== data.imageSize || c.inChannels !== data.channels || c.numClasses !== data.classNames.length) {
    throw new ArgumentError(`the feature net ${where} takes ${c.imageSize}x${c.imageSize}x${c.inChannels} images of ${c.numClasses} classes, but the folder ${data.folder} holds ${data.imageSize}x${data.imageSize}x${data.channels} images of ${data.classNames.length} classes; train one on it with diffuse train-feature-net --data ${data.folder} --out DIR`);
  }
}

/** Options of evaluateOnFolder. */
export interface FolderEvalOptions {
  featureNet: FeatureNet;
  /** Train CAS classifiers (default true; the slow part). */
  cas?: boolean;
  casSteps?: number;
  memorizationQuantile?: number;
  /** Seed of the metrics' subsets (default 0). */
  seed?: number;
  onProgress?(stage: EvalStage, done: number, total: number): void;
}

/** evaluate.ts's report plus the split sizes and the small-folder warnings. */
export interface FolderEvalReport extends EvalReport {
  folder: { path: string; classNames: string[]; splitSeed: number; trainImages: number; referenceImages: number; floorImages: number };
  /** Why some figures cannot mean much at this folder's size (empty when none). */
  warnings: string[];
}

/** The small-folder warnings for a report on `data` with n samples and a D-dimensional feature net. */
export function smallFolderWarnings(data: FolderEvalData, n: number, featureDim: number): string[] {
  const out: string[] = [];
  const minSet = SMALL_FOLDER.minImagesPerDim * featureDim;
  const sets: [string, number][] = [['samples', n], ['held-out reference', data.reference.labels.length], ['held-out floor', data.floor.labels.length]];
  const small = sets.filter(([, m]) => m < minSet);
  if (small.length > 0) {
    out.push(`FD and KID are estimated from ${small.map(([w, m]) => `${m} ${w}`).join(', ')} images, fewer than ${minSet} (${SMALL_FOLDER.minImagesPerDim} x the feature net's ${featureDim} dimensions): the covariance estimates are noisy or singular and FD's bias dominates; compare FD only with the floor at the same n, and add images (the held-out parts are 40% of the folder) for a figure that means something`);
  }
  const k = data.classNames.length;
  const perClass = Array.from({ length: k }, (_, c) => data.reference.labels.reduce((m, y) => m + (y === c ? 1 : 0), 0));
  const thin = perClass.map((m, c) => [data.classNames[c]!, m] as const).filter(([, m]) => m < SMALL_FOLDER.minPerClass);
  if (thin.length > 0) {
    out.push(`the per-class accuracies rest on fewer than ${SMALL_FOLDER.minPerClass} held-out reference images in ${thin.length} class(es) (${thin.slice(0, 5).map(([name, m]) => `${name}: ${m}`).join(', ')}${thin.length > 5 ? ', ...' : ''}): a standard error of 4+ points against an 8-point class bar; ${SMALL_FOLDER.minPerClass / FOLDER_REFERENCE_SHARE} images per class make it meaningful`);
  }
  return out;
}

/** The reference's share of each class (folder_split.ts), for the warning's advice. */
const FOLDER_REFERENCE_SHARE = 0.2;

/**
 * Every figure of evaluate.ts for labelled `samples` against a folder: the reference is the
 * held-out reference part, the floor the held-out floor part (as many images as the samples, or
 * all of it when there are fewer), the memorisation reference the training and floor parts.
 * @example const report = evaluateOnFolder(samples, data, { featureNet: net }); report.bar.pass; report.warnings
 */
export function evaluateOnFolder(samples: LabelledImages, data: FolderEvalData, options: FolderEvalOptions): FolderEvalReport {
  const net = options.featureNet;
  checkFolderFeatureNet(net, data, 'given');
  const nFloorAll = data.floor.labels.length;
  const nRef = data.reference.labels.length;
  // k-NN precision/recall needs more than k images in each set.
  if (Math.min(nRef, nFloorAll) <= PR_NEIGHBOURS) {
    throw new DataError(`${data.folder} is too small to measure: its held-out reference and floor hold ${nRef} and ${nFloorAll} images (20% of the folder each), and precision/recall needs more than ${PR_NEIGHBOURS}; give it at least ${Math.ceil((PR_NEIGHBOURS + 1) / FOLDER_REFERENCE_SHARE)} images in all (hundreds per class for figures that mean much)`);
  }
  const nTrain = data.train.labels.length;
  // evaluateSamples takes the floor as indices into its `train` set: train part then floor part.
  const train: LabelledImages = {
    images: concat([data.train.images, data.floor.images], 0),
    labels: Int32Array.from([...data.train.labels, ...data.floor.labels]),
  };
  const n = samples.labels.length;
  const floorIndices = Int32Array.from({ length: Math.min(n, nFloorAll) }, (_, i) => nTrain + i);
  const report = evaluateSamples(samples, {
    featureNet: net, train, test: data.reference, floorIndices,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.cas === undefined ? {} : { cas: options.cas }),
    ...(options.casSteps === undefined ? {} : { casSteps: options.casSteps }),
    ...(options.memorizationQuantile === undefined ? {} : { memorizationQuantile: options.memorizationQuantile }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  return {
    ...report,
    folder: { path: data.folder, classNames: data.classNames, splitSeed: data.split.seed, trainImages: nTrain, referenceImages: data.reference.labels.length, floorImages: nFloorAll },
    warnings: smallFolderWarnings(data, n, net.featureDim),
  };
}

/** Options of evaluateModelOnFolder. */
export interface ModelOnFolderOptions extends FolderEvalOptions {
  model: UNet2DModel;
  schedulerConfig: Record<string, unknown>;
  /** Samples to generate, class-balanced (class i mod K); default: the floor's size rounded down to a multiple of K. */
  n?: number;
  /** Scheduler or sampler name (default 'ddim'). */
  scheduler?: string;
  steps?: number;
  guidanceScale?: number;
  batchSize?: number;
  /** Seed of the samples (default: options.seed, else 0). */
  sampleSeed?: number;
}

/**
 * Generates class-balanced samples of a class-conditional `model` and evaluates them on the
 * folder (evaluateOnFolder): what `diffuse eval --data DIR --model M` and a training run's
 * periodic evaluation call.
 * @example const r = evaluateModelOnFolder(data, { model, schedulerConfig, featureNet: net, steps: 20, cas: false });
 */
export function evaluateModelOnFolder(data: FolderEvalData, options: ModelOnFolderOptions): FolderEvalReport & { sampleImages: LabelledImages } {
  const k = data.classNames.length;
  const embeds = options.model.config.numClassEmbeds;
  if (embeds === null || embeds - 1 !== k) {
    throw new ArgumentError(`evaluateModelOnFolder: the model has ${embeds === null ? 'no classes (unconditional)' : `${embeds - 1} classes (+ the null class)`} but the folder ${data.folder} has ${k}; evaluate a class-conditional model trained on this folder`);
  }
  const n = options.n ?? Math.floor(data.floor.labels.length / k) * k;
  if (!Number.isInteger(n) || n < k || n % k !== 0) throw new ArgumentError(`evaluateModelOnFolder: n must be a positive multiple of the ${k} classes, found ${n}`);
  const labels = Array.from({ length: n }, (_, i) => i % k);
  const result = generate({
    model: options.model, scheduler: options.scheduler ?? 'ddim', schedulerConfig: options.schedulerConfig,
    n, steps: options.steps ?? 20, seed: options.sampleSeed ?? options.seed ?? 0, classLabels: labels,
    ...(options.guidanceScale === undefined ? {} : { guidanceScale: options.guidanceScale }),
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
  });
  const samples = { images: result.images, labels: Int32Array.from(labels) };
  const { model: _m, schedulerConfig: _s, n: _n, scheduler: _sc, steps: _st, guidanceScale: _g, batchSize: _b, sampleSeed: _ss, ...evalOptions } = options;
  return { ...evaluateOnFolder(samples, data, evalOptions), sampleImages: samples };
}

/** The folder's absolute path, for data_split.json. */
export function folderKey(folder: string): string {
  return resolve(folder);
}
