/**
 * Labelled sample folders for evaluation: `DIR/<class>/*.png`, the layout `diffuse augment`
 * writes and the image-folder loader reads. A class folder is named by the class index ("3", or
 * "3_dress" as augment writes it) or by the dataset's class name, compared ignoring case and
 * punctuation ("dress", "T-shirt_top", "ankle-boot"). Images must already have the dataset's size and channel count: evaluation never
 * resizes (a resized image is not the sample that was generated).
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { DataError } from '../data/dataset.js';
import { loadImageFolder, IMAGE_EXTENSIONS } from '../data/image_folder.js';
import { ImageDecodeError, probeImage } from '../io/png.js';
import { labelledFromDataset, type LabelledImages } from './labelled_images.js';

/** What the folder must match. */
export interface SampleFolderSpec {
  imageSize: number;
  channels: number;
  /** The dataset's class names, indexed by label. */
  classNames: readonly string[];
}

const normalise = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * The label a class folder name stands for, or null.
 * @example classOfFolder('ankle-boot', FASHION_MNIST_CLASSES) // 9
 */
export function classOfFolder(name: string, classNames: readonly string[]): number | null {
  // 'diffuse augment' writes '<index>' or '<index>_<name-slug>' (e.g. '3_dress', '0_t-shirt-top').
  const indexed = /^(\d+)(?:_.*)?$/.exec(name);
  if (indexed !== null) {
    const k = Number(indexed[1]);
    return k < classNames.length ? k : null;
  }
  const i = classNames.findIndex((c) => normalise(c) === normalise(name));
  return i < 0 ? null : i;
}

/** Whether `path` is a folder, following links; a dangling or looping link is not one (nor an error here). */
function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Reads a labelled sample folder, checking every image's size and channels first.
 * @example const samples = await loadSampleFolder('out/aug', { imageSize: 28, channels: 1, classNames: FASHION_MNIST_CLASSES });
 */
export async function loadSampleFolder(dir: string, spec: SampleFolderSpec): Promise<LabelledImages> {
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    throw new DataError(`sample folder ${dir} does not exist or cannot be read; expected DIR/<class>/*.png as 'diffuse augment' writes`);
  }
  const classDirs = entries.filter((e) => !e.startsWith('.') && isFolder(join(dir, e)));
  if (classDirs.length === 0) throw new DataError(`sample folder ${dir} has no class folders; expected DIR/<class>/*.png (class index or name) as 'diffuse augment' writes`);
  for (const cls of classDirs) {
    if (classOfFolder(cls, spec.classNames) === null) {
      throw new DataError(`class folder '${cls}' in ${dir} names no class; expected an index 0..${spec.classNames.length - 1} or one of ${spec.classNames.map((c) => `'${c}'`).join(', ')}`);
    }
    // Every image's header first: a wrong size or channel count is an error before anything is decoded.
    for (const f of readdirSync(join(dir, cls)).sort()) {
      if (f.startsWith('.') || !IMAGE_EXTENSIONS.includes(extname(f).toLowerCase())) continue;
      const path = join(dir, cls, f);
      let info;
      try {
        info = await probeImage(path);
      } catch (e) {
        throw new DataError(`${path}: cannot be read as an image (${e instanceof ImageDecodeError ? e.reason : (e as Error).message})`);
      }
      if (info.width !== spec.imageSize || info.height !== spec.imageSize || info.channels !== spec.channels) {
        throw new DataError(
          `${path} is ${info.width}x${info.height} with ${info.channels} channel(s); the evaluation needs ${spec.imageSize}x${spec.imageSize} images with ${spec.channels} channel(s), as the dataset's (samples are never resized)`,
        );
      }
    }
  }
  const ds = await loadImageFolder(dir, { imageSize: spec.imageSize });
  const set = labelledFromDataset(ds);
  // The loader labels folders in sorted-name order; map them to the dataset's labels.
  const toLabel = ds.classNames.map((c) => classOfFolder(c, spec.classNames)!);
  for (let i = 0; i < set.labels.length; i++) set.labels[i] = toLabel[set.labels[i]!]!;
  return set;
}
