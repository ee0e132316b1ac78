/**
 * Kernel contract of the core family: what the autograd engine itself needs (gradient
 * accumulation), plus filling and copying buffers, so no code outside a device writes into
 * its buffers element by element.
 */
import type { HostArray } from '../../tensor/tensor.js';

export interface CoreKernels<B = HostArray> {
  /** dst += alpha * src (same length). Gradient accumulation. */
  axpy(dst: B, src: B, alpha: number): void;
  /** dst[i] = value for every element. */
  fill(dst: B, value: number): void;
  /** dst[i] = src[i] (same length; converting between float32 and float64 where they differ). */
  copy(dst: B, src: B): void;
  /**
   * out[n] = sum_i x[n, i]^2 over row n of x viewed as (out.length, x.length / out.length),
   * accumulated in double in index order (out is float64 to keep it; one element for the whole x).
   */
  sumSquares(x: B, out: B): void;
}
