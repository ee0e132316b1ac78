/**
 * The data layer's front door: `loadDataset` picks a bundled dataset by name or reads an image
 * folder by path, and the rest of the data API is re-exported from here.
 */
import { existsSync } from 'node:fs';
import { ArgumentError } from '../tensor/errors.js';
import { DataError, type Dataset } from './dataset.js';
import { fashionMnist, checkSplit, MNIST_SIZE, type Split } from './fashion_mnist.js';
import { mnist } from './mnist.js';
import { loadImageFolder, type OnCorrupt } from './image_folder.js';

export * from './dataset.js';
export * from './transforms.js';
export { fashionMnist, FASHION_MNIST_CLASSES, FASHION_PER_CLASS, FASHION_TRAIN_PER_CLASS, MNIST_SIZE, ClassMajorDataset, type Split } from './fashion_mnist.js';
export { mnist, MNIST_CLASSES, MNIST_COUNTS, MNIST_TEST_SIZE, mnistTestCounts } from './mnist.js';
export { loadImageFolder, autoImageSize, AUTO_IMAGE_SIZE_MAX, ImageFolderDataset, IMAGE_EXTENSIONS, type ImageFolderOptions, type OnCorrupt } from './image_folder.js';

/** The bundled datasets, by name. */
export type BundledDataset = 'fashion-mnist' | 'mnist';

/** Options of loadDataset. */
export interface LoadDatasetOptions {
  /** Bundled datasets: which split (default 'train'). Ignored for folders (a folder is all training data). */
  split?: Split;
  /** Side of the square images: required for folders (a number, or 'auto': the folder's most common short side); for bundled datasets it must be 28 if given ('auto' is 28). */
  imageSize?: number | 'auto';
  /** Folders: what to do with an undecodable image (default 'fail'). */
  onCorrupt?: OnCorrupt;
  /** Folders: receives skip reports (default console.warn). */
  onWarning?: (message: string) => void;
  /** Folders: how an error tells the user to skip bad files (loadImageFolder's skipHint). */
  skipHint?: string;
}

/**
 * A dataset by name ('fashion-mnist', 'mnist') or image-folder path.
 * @example const ds = await loadDataset('fashion-mnist', { split: 'train' });
 * @example const ds = await loadDataset('./my_images', { imageSize: 64, onCorrupt: 'skip' });
 */
export async function loadDataset(source: BundledDataset | string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  if (typeof source !== 'string' || source === '') {
    throw new ArgumentError(`loadDataset: source must be 'fashion-mnist', 'mnist' or a folder path, found ${JSON.stringify(source)}`);
  }
  if (source === 'fashion-mnist' || source === 'mnist') {
    const split = options.split ?? 'train';
    checkSplit('loadDataset', split);
    if (options.imageSize !== undefined && options.imageSize !== 'auto' && options.imageSize !== MNIST_SIZE) {
      throw new ArgumentError(`loadDataset: ${source} images are ${MNIST_SIZE}x${MNIST_SIZE}, found imageSize ${options.imageSize}; use a model with sample_size ${MNIST_SIZE}`);
    }
    return source === 'fashion-mnist' ? fashionMnist(split) : mnist(split);
  }
  if (!existsSync(source)) {
    throw new DataError(`loadDataset: '${source}' is neither a bundled dataset ('fashion-mnist', 'mnist') nor an existing folder`);
  }
  if (options.imageSize === undefined) {
    throw new ArgumentError(`loadDataset: imageSize is required for the image folder ${source} (the model's sample size, e.g. 32 or 64, or 'auto')`);
  }
  return loadImageFolder(source, {
    imageSize: options.imageSize,
    ...(options.onCorrupt !== undefined ? { onCorrupt: options.onCorrupt } : {}),
    ...(options.onWarning !== undefined ? { onWarning: options.onWarning } : {}),
    ...(options.skipHint !== undefined ? { skipHint: options.skipHint } : {}),
  });
}
