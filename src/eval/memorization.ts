/**
 * The memorisation figure: how often samples sit closer (in pixels) to a training image than real
 * unseen images do. For every image q we take its nearest training image in pixel L2 distance
 * (images in [-1, 1], the distance over all H*W*C values),
 *   dNN(q) = min_t ||q - t||_2 over the training split,
 * set the threshold tau = the `quantile` (default 5th percentile, linear interpolation) of dNN
 * over the real test split, and report
 *   memorisation = share of samples with dNN(sample) < tau.
 * By construction real test images score `quantile` (0.05): a model scoring above it produces
 * near-copies of training images more often than fresh real images resemble them; a model that
 * copies its training set scores near 1.
 */
import { ArgumentError } from '../tensor/errors.js';
import { forEachDistanceBlock } from './pairwise.js';

/** Default quantile of the real test images' nearest-training distances taken as the threshold. */
export const MEMORIZATION_QUANTILE = 0.05;

/**
 * The pixel L2 distance from each row of `queries` (n, d) to its nearest row of `train` (m, d).
 * The search uses the float32 Gram identity; the winner's distance is recomputed exactly in float64.
 * @example const dnn = nearestDistances(samples, 1000, trainImages, 60000, 784);
 */
export function nearestDistances(queries: Float32Array, n: number, train: Float32Array, m: number, d: number, onBlock?: (done: number, total: number) => void): Float64Array {
  const out = new Float64Array(n);
  forEachDistanceBlock(queries, n, train, m, d, (start, rows, d2) => {
    for (let i = 0; i < rows; i++) {
      let best = 0;
      let bestV = Infinity;
      for (let j = 0; j < m; j++) {
        const v = d2[i * m + j]!;
        if (v < bestV) {
          bestV = v;
          best = j;
        }
      }
      let s = 0;
      const q = (start + i) * d;
      for (let k = 0; k < d; k++) s += (queries[q + k]! - train[best * d + k]!) ** 2;
      out[start + i] = Math.sqrt(s);
    }
    onBlock?.(start + rows, n);
  });
  return out;
}

/**
 * The q-quantile of `values` with linear interpolation between order statistics (NumPy's default).
 * @example quantile(Float64Array.of(1, 2, 3, 4, 5), 0.25) // 2
 */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new ArgumentError(`quantile: q must be in [0, 1], found ${q}`);
  if (values.length === 0) throw new ArgumentError('quantile: no values');
  const sorted = Float64Array.from(values).sort();
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

export interface MemorizationResult {
  /** Share of samples with a nearest-training distance below the threshold. */
  rate: number;
  /** The threshold tau: the quantile of the real test images' nearest-training distances. */
  threshold: number;
  quantile: number;
  /** Median nearest-training distance of the samples and of the real test images. */
  sampleMedian: number;
  testMedian: number;
}

/**
 * The memorisation figure from nearest-training distances of samples and of real test images.
 * @example memorization(nearestDistances(samples, ...), nearestDistances(test, ...))
 */
export function memorization(sampleDistances: ArrayLike<number>, testDistances: ArrayLike<number>, q = MEMORIZATION_QUANTILE): MemorizationResult {
  const threshold = quantile(testDistances, q);
  let below = 0;
  for (let i = 0; i < sampleDistances.length; i++) if (sampleDistances[i]! < threshold) below++;
  return {
    rate: sampleDistances.length === 0 ? NaN : below / sampleDistances.length,
    threshold,
    quantile: q,
    sampleMedian: quantile(sampleDistances, 0.5),
    testMedian: quantile(testDistances, 0.5),
  };
}
