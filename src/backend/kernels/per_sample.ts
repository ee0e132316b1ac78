/**
 * Kernel contract of the per-sample family: arithmetic with one float64 coefficient per batch
 * entry n (axis 0 of a row-major buffer viewed as (batch, per)), evaluated in double and rounded
 * once into the output's dtype. The coefficients are host values (JavaScript numbers from float64
 * schedules, a few per batch); a GPU device uploads them with the call.
 *  - weightedSqDiffSum and its backward: the per-sample weighted MSE (Min-SNR, Hang et al. 2023).
 */
import type { HostArray } from '../../tensor/tensor.js';

export interface PerSampleKernels<B = HostArray> {
  /** out[0] = (sum_n w[n] sum_i (pred[n, i] - target[n, i])^2) / divisor, with batch = w.length. */
  weightedSqDiffSum(pred: B, target: B, w: Float64Array, divisor: number, out: B): void;
  /** g[n, i] = (scale * w[n] * gy[0]) / divisor * (pred[n, i] - target[n, i]); g is overwritten. */
  weightedSqDiffBackward(pred: B, target: B, gy: B, w: Float64Array, scale: number, divisor: number, g: B): void;
}
