/**
 * The one answer to "what are this model's classes called": the model folder's classes.json
 * (io/class_names.ts, written at export), else, for folders exported before it existed, the names
 * of the training data recorded in train_config.json (the bundled datasets' names, or an image
 * folder's class folders). Names are used only when their count fits the model's classes
 * (num_class_embeds, or one fewer: the null class of classifier-free guidance has no name).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readJSONFile } from './checkpoint.js';
import { readClassNames } from './class_names.js';
import { FASHION_MNIST_CLASSES } from '../data/fashion_mnist.js';
import { MNIST_CLASSES } from '../data/mnist.js';

/**
 * Class names of a training data source: the bundled sets' names, or an image folder's class folders.
 * @example classNamesOfData('mnist') // ['0', '1', ..., '9']
 */
export function classNamesOfData(data: string | null): string[] | null {
  if (data === null) return null;
  if (data === 'fashion-mnist') return [...FASHION_MNIST_CLASSES];
  if (data === 'mnist') return [...MNIST_CLASSES];
  try {
    if (!statSync(data).isDirectory()) return null;
    const dirs = readdirSync(data).filter((e) => !e.startsWith('.') && statSync(join(data, e)).isDirectory()).sort();
    return dirs.length > 0 ? dirs : null;
  } catch {
    return null;
  }
}

/** train_config.json's `data` in the model folder or up to three folders above the U-Net (null: none says). */
export function trainingData(modelDir: string, unetDir: string): string | null {
  for (const dir of new Set([modelDir, dirname(unetDir), dirname(dirname(unetDir)), dirname(dirname(dirname(unetDir)))].map((d) => resolve(d)))) {
    const file = join(dir, 'train_config.json');
    if (!existsSync(file)) continue;
    const j = readJSONFile(file);
    if (j !== null && typeof j === 'object' && !Array.isArray(j)) {
      const data = (j as Record<string, unknown>)['data'];
      return typeof data === 'string' ? data : null;
    }
  }
  return null;
}

/**
 * The class names of the model in `modelDir` (its U-Net in `unetDir`, with `numClassEmbeds`
 * class embeddings; null: unconditional), or null when nothing says or the count does not fit.
 * @example modelClassNames('models/fashion-mnist', 'models/fashion-mnist/unet', 11)?.[7] // 'Sneaker'
 */
export function modelClassNames(modelDir: string, unetDir: string, numClassEmbeds: number | null): string[] | null {
  if (numClassEmbeds === null) return null;
  const names = readClassNames(unetDir) ?? classNamesOfData(trainingData(modelDir, unetDir));
  return names !== null && (names.length === numClassEmbeds || names.length === numClassEmbeds - 1) ? names : null;
}

/** Lower case without spaces or punctuation ('T-shirt/top' = 't-shirt_top' = 'tshirttop'). */
function normalise(name: string): string {
  return name.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
}

/**
 * The index of a class given by name (case, spaces and punctuation ignored), or -1.
 * @example classIndex('ankle boot', ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']) // 9
 */
export function classIndex(label: string, names: readonly string[]): number {
  const exact = names.indexOf(label);
  return exact >= 0 ? exact : names.findIndex((n) => normalise(n) === normalise(label));
}
