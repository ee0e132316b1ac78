/**
 * What schedulers do to their x_0 estimate before using it: clipping to [-range, range], or
 * dynamic thresholding (Saharia et al. 2022, "Imagen", sec. 2.3): per batch element, s = the
 * `ratio` quantile of |x_0| (linear interpolation, as torch.quantile), clamped to [1, maxValue];
 * x_0 <- clamp(x_0, -s, s) / s. The tensor forms (`clipX0`, `thresholdX0`) run through ops; the
 * in-place forms on host arrays (`clipInPlace`, `dynamicThreshold`) are the definitions the tests
 * and callers with plain arrays use.
 */
import type { Storage, Tensor } from '../tensor/tensor.js';
import { clamp } from '../ops/scalar.js';
import { linearCombination } from '../ops/linear_combination.js';

/**
 * The threshold s of one sample from its |x_0| values (sorted here, in place): the `ratio`
 * quantile with linear interpolation, clamped to [1, maxValue] (the max bound wins when
 * maxValue < 1, as torch.clamp). NaN if any value is NaN (as torch.quantile).
 */
export function thresholdScale(absValues: Float64Array, ratio: number, maxValue: number): number {
  if (absValues.some(Number.isNaN)) return NaN;
  absValues.sort();
  const n = absValues.length;
  const rank = ratio * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, n - 1);
  const w = rank - lo;
  const s = absValues[lo]! + w * (absValues[hi]! - absValues[lo]!);
  return Math.min(Math.max(s, 1), maxValue);
}

/**
 * Dynamic thresholding in place on a host array of `batch` equal samples (see the file comment).
 * A NaN anywhere in a sample makes that sample NaN (as torch).
 */
export function dynamicThreshold(data: Storage, batch: number, ratio: number, maxValue: number): void {
  if (batch === 0) return;
  const per = data.length / batch;
  for (let n = 0; n < batch; n++) {
    const base = n * per;
    const s = thresholdScale(Float64Array.from(data.subarray(base, base + per), Math.abs), ratio, maxValue);
    for (let i = base; i < base + per; i++) data[i] = Math.min(Math.max(data[i]!, -s), s) / s;
  }
}

/** clamp(x, -range, range) in place on a host array; NaN stays NaN. */
export function clipInPlace(data: Storage, range: number): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v > range) data[i] = range;
    else if (v < -range) data[i] = -range;
  }
}

/** x_0 clamped to [-range, range] (NaN stays NaN). @example clipX0(x0, 1) */
export function clipX0(x0: Tensor, range: number): Tensor {
  return clamp(x0, -range, range);
}

/**
 * A tensor's values on the host in float64. A float64 tensor is read as a float32 head and a
 * float32 remainder (v = head + rest to 2^-48 relative; infinities kept), since toArray() gives
 * float32 today; once reads take a dtype this is `t.toArray('float64')`.
 */
function hostFloat64(t: Tensor): Float64Array {
  if (t.dtype === 'float32') return Float64Array.from(t.toArray());
  const head = linearCombination([[1, t]], 'float32');
  const rest = linearCombination([[1, t], [-1, head]], 'float32').toArray();
  return Float64Array.from(head.toArray(), (v, i) => (Number.isFinite(v) ? v + rest[i]! : v));
}

/**
 * Dynamic thresholding of x_0 (N, ...) per batch element: x_0 / s clamped to [-1, 1], which is
 * clamp(x_0, -s, s) / s. The per-sample quantile s needs the values on the host (it sorts them):
 * the one read this costs per step, and only with thresholding on.
 * @example const x0t = thresholdX0(x0, 0.995, 1.5);
 */
export function thresholdX0(x0: Tensor, ratio: number, maxValue: number): Tensor {
  const batch = x0.shape[0] ?? 1;
  if (x0.size === 0) return x0;
  const per = x0.size / batch;
  const absValues = hostFloat64(x0).map(Math.abs);
  const inverse = Array.from({ length: batch }, (_, n) => 1 / thresholdScale(absValues.subarray(n * per, (n + 1) * per), ratio, maxValue));
  return clamp(linearCombination([[x0.rank === 0 ? inverse[0]! : inverse, x0]]), -1, 1);
}
