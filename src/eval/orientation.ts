/**
 * The orientation check: does a set of labelled images point the way the real data points?
 *
 * For each image x of class y, the feature net (trained without flips, so it knows which way a
 * shoe points) compares log p(y | x) with log p(y | mirror(x)). The share of images whose mirror
 * is the more typical of their class is about 1/2 for a mirror-symmetric class (a T-shirt and its
 * mirror score alike) and near 0 for a class that has a direction (every Fashion-MNIST shoe points
 * left). A generator that learned mirrored shoes (a model trained with random flips) raises that
 * share for exactly those classes, so the check compares it, class by class, with the same share
 * on the real test images and flags a class whose excess is both large and significant.
 * A judge trained with flips scores x and mirror(x) the same and could never see this.
 */
import { Tensor } from '../tensor/tensor.js';
import { ShapeError, fmtShape } from '../tensor/errors.js';
import { flipHorizontal } from '../data/transforms.js';
import type { FeatureNet } from './feature_net.js';
import type { LabelledImages } from './labelled_images.js';

/** A class is flagged when its mirror share exceeds the real one by more than this... */
export const ORIENTATION_MIN_EXCESS = 0.05;
/** ...and by more than this many standard errors of the difference of the two shares. */
export const ORIENTATION_Z = 3;

/** Per-image orientation scores of one set. */
export interface MirrorShares {
  /** Share of all images whose mirror image is more typical of their class. */
  share: number;
  /** The same share within each class (NaN for a class with no images). */
  perClass: number[];
  /** Images per class. */
  counts: number[];
}

/** One set's shares against the real ones, and the classes that point the wrong way. */
export interface OrientationResult {
  samples: MirrorShares;
  real: MirrorShares;
  /** Classes whose excess share is larger than ORIENTATION_MIN_EXCESS and ORIENTATION_Z standard errors. */
  flagged: number[];
  pass: boolean;
}

/** The images mirrored left-right (a new tensor). */
export function mirrorImages(images: Tensor): Tensor {
  if (images.rank !== 4) throw new ShapeError(`mirrorImages: expected (N, H, W, C) images, found ${fmtShape(images.shape)}`);
  const [n, h, w, c] = images.shape as [number, number, number, number];
  const data = Float32Array.from(images.toArray());
  const per = h * w * c;
  for (let i = 0; i < n; i++) flipHorizontal(data.subarray(i * per, (i + 1) * per), h, w, c);
  return new Tensor(data, [n, h, w, c]);
}

/** log-softmax of row i of (N, K) logits at column y. */
function logProbability(logits: Float32Array, k: number, i: number, y: number): number {
  let max = -Infinity;
  for (let j = 0; j < k; j++) max = Math.max(max, logits[i * k + j]!);
  let sum = 0;
  for (let j = 0; j < k; j++) sum += Math.exp(logits[i * k + j]! - max);
  return logits[i * k + y]! - max - Math.log(sum);
}

/**
 * The share of `set` (overall and per class) whose mirror image the net finds more typical of
 * the image's own class. `logits` are the net's logits of the set if already computed.
 * @example mirrorShares(net, realTest).perClass[9] // ankle boots: about 0.01
 */
export function mirrorShares(net: FeatureNet, set: LabelledImages, logits?: Float32Array): MirrorShares {
  const k = net.config.numClasses;
  const n = set.labels.length;
  const own = logits ?? net.embed(set.images).logits;
  const mirrored = net.embed(mirrorImages(set.images)).logits;
  const hits = new Array<number>(k).fill(0);
  const counts = new Array<number>(k).fill(0);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const y = set.labels[i]!;
    counts[y]!++;
    if (logProbability(mirrored, k, i, y) > logProbability(own, k, i, y)) {
      hits[y]!++;
      total++;
    }
  }
  return { share: n === 0 ? NaN : total / n, perClass: hits.map((h, j) => (counts[j] === 0 ? NaN : h / counts[j]!)), counts };
}

/**
 * Compares the samples' mirror shares with the real images', class by class.
 * @example orientationCheck(sampleShares, realShares).flagged // [5, 7, 9] for mirrored shoes
 */
export function orientationCheck(samples: MirrorShares, real: MirrorShares): OrientationResult {
  const flagged: number[] = [];
  samples.perClass.forEach((p, j) => {
    const q = real.perClass[j]!;
    const m = samples.counts[j]!;
    const r = real.counts[j]!;
    if (m === 0 || r === 0) return;
    // Pooled two-proportion standard error; a floor of one image's worth keeps 0-vs-0 classes quiet.
    const pooled = (p * m + q * r) / (m + r);
    const se = Math.max(Math.sqrt(pooled * (1 - pooled) * (1 / m + 1 / r)), 1 / m);
    if (p - q > ORIENTATION_MIN_EXCESS && p - q > ORIENTATION_Z * se) flagged.push(j);
  });
  return { samples, real, flagged, pass: flagged.length === 0 };
}
