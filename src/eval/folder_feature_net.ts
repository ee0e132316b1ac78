/**
 * Where a user folder's feature net comes from: a folder written by `diffuse train-feature-net
 * --data DIR --out NET` (checked against the folder: its data_split.json must name this folder's
 * file list, so the held-out images never trained it), or, when none is given, the cache: a net
 * trained on the folder's training part on first use and reused while the folder's file list is
 * unchanged (DIFFUSE_CACHE, else $XDG_CACHE_HOME/diffuse, else ~/.cache/diffuse).
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { extname, join } from 'node:path';
import { DataError } from '../data/dataset.js';
import { probeImage } from '../io/png.js';
import { IMAGE_EXTENSIONS } from '../data/image_folder.js';
import { writeJSONAtomic } from '../io/checkpoint.js';
import { unlinkFile } from '../io/file_ops.js';
import { FeatureNet } from './feature_net.js';
import { DATA_SPLIT_NAME, splitRecord } from './folder_split.js';
import { checkFolderFeatureNet, folderKey, readDataSplit, trainFolderFeatureNet, type FolderEvalData, type FolderFeatureNet } from './folder_eval.js';
import type { TrainFeatureNetOptions } from './train_feature_net.js';
import type { ImageFolderDataset } from '../data/image_folder.js';

/** The cache root: DIFFUSE_CACHE, else $XDG_CACHE_HOME/diffuse, else ~/.cache/diffuse. */
export function cacheRoot(): string {
  const own = process.env['DIFFUSE_CACHE'];
  if (own !== undefined && own !== '') return own;
  const xdg = process.env['XDG_CACHE_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'diffuse');
}

/** The cached feature net's folder for a split (file list, size, channels, seed). */
export function cachedFeatureNetDir(data: FolderEvalData): string {
  return join(cacheRoot(), 'feature-nets', `${data.split.fingerprint.slice(0, 16)}-${data.imageSize}x${data.channels}-seed${data.split.seed}`);
}

/**
 * The side of a folder's images when nothing else gives it: the first image's shorter side
 * (the loader resizes the shorter side and center-crops).
 */
export async function folderImageSize(folder: string): Promise<number> {
  const walk = (dir: string, depth: number): string | null => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.')) continue;
      if (e.isFile() && IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())) return join(dir, e.name);
      if (e.isDirectory() && depth === 0) {
        const f = walk(join(dir, e.name), 1);
        if (f !== null) return f;
      }
    }
    return null;
  };
  const first = existsSync(folder) ? walk(folder, 0) : null;
  if (first === null) throw new DataError(`${folder} holds no PNG/JPEG images (DIR/<class>/*.png)`);
  const { width, height } = await probeImage(first);
  return Math.min(width, height);
}

/** Writes a folder's feature net, its metrics.json and data_split.json to `dir`. */
export function saveFolderFeatureNet(dir: string, ff: FolderFeatureNet, data: FolderEvalData, ds: ImageFolderDataset, recipe: Record<string, unknown>, seconds: number): void {
  unlinkFile(join(dir, 'metrics.json'));
  ff.net.savePretrained(dir);
  writeJSONAtomic(join(dir, DATA_SPLIT_NAME), splitRecord(data.split, folderKey(data.folder), ds));
  writeJSONAtomic(join(dir, 'metrics.json'), {
    dataset: folderKey(data.folder),
    // The held-out reference is the test split of a folder.
    test_accuracy: ff.referenceAccuracy,
    test_accuracy_per_class: ff.referenceAccuracyPerClass,
    train_accuracy: ff.trainAccuracy,
    class_names: data.classNames,
    train_images: data.train.labels.length,
    test_images: data.reference.labels.length,
    recipe: { ...recipe, steps: ff.steps },
    train_seconds: Math.round(seconds),
    parameters: ff.net.numParameters(),
  });
}

/**
 * The feature net of `dir` for this folder split, or an error naming what differs and the fix.
 */
export function loadFolderFeatureNet(dir: string, data: FolderEvalData, options: { allowNonfinite?: boolean } = {}): FeatureNet {
  const rec = readDataSplit(dir);
  if (rec === null) {
    throw new DataError(`the feature net ${dir} has no ${DATA_SPLIT_NAME}, so nothing says which of ${data.folder}'s images trained it (a net that saw the held-out images makes real data look too good); train one with diffuse train-feature-net --data ${data.folder} --out DIR, or leave --feature-net out to use a cached one`);
  }
  if (rec.fingerprint !== data.split.fingerprint) {
    throw new DataError(`the feature net ${dir} was trained on a split of ${rec.folder} (${rec.train_images + rec.reference_images + rec.floor_images} images) whose file list differs from ${data.folder}'s now (${data.train.labels.length + data.reference.labels.length + data.floor.labels.length} images); retrain it with diffuse train-feature-net --data ${data.folder} --out ${dir}`);
  }
  const net = FeatureNet.fromPretrained(dir, options);
  checkFolderFeatureNet(net, data, dir);
  return net;
}

/**
 * The cached feature net of this split, trained and saved on first use; `log` hears what happens.
 * @example const { net, dir, trained } = cachedFolderFeatureNet(data, ds, {}, (m) => console.error(m));
 */
export function cachedFolderFeatureNet(data: FolderEvalData, ds: ImageFolderDataset, options: TrainFeatureNetOptions, log: (message: string) => void): { net: FeatureNet; dir: string; trained: boolean } {
  const dir = cachedFeatureNetDir(data);
  if (existsSync(join(dir, DATA_SPLIT_NAME)) && existsSync(join(dir, 'metrics.json'))) {
    log(`using the cached feature net ${dir} (trained on ${data.train.labels.length} of ${data.folder}'s images; --feature-net DIR to use another)`);
    return { net: loadFolderFeatureNet(dir, data), dir, trained: false };
  }
  log(`no --feature-net: training one on ${data.folder}'s training part (${data.train.labels.length} images, ${data.classNames.length} classes; the ${data.reference.labels.length + data.floor.labels.length} held-out images never train it) into ${dir}, reused while the folder's file list stays the same (or train one yourself: diffuse train-feature-net --data ${data.folder} --out DIR, then --feature-net DIR)`);
  const started = performance.now();
  const ff = trainFolderFeatureNet(data, { seed: data.split.seed, ...options });
  saveFolderFeatureNet(dir, ff, data, ds, { seed: data.split.seed, flip: false }, (performance.now() - started) / 1000);
  log(`feature net: held-out accuracy ${(ff.referenceAccuracy * 100).toFixed(1)}% (train ${(ff.trainAccuracy * 100).toFixed(1)}%; chance ${(100 / data.classNames.length).toFixed(1)}%), ${ff.steps} steps`);
  return { net: ff.net, dir, trained: true };
}
