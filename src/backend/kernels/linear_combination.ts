/**
 * Kernel contract of the fused linear combination out = sum_k c_k x_k (elementwise, coefficients
 * per batch element or for the whole tensor): the one kernel the samplers' and schedulers' step
 * arithmetic is written in (x + dt d, DPM-Solver's multistep updates, model-output conversions,
 * q(x_t | x_0) at per-sample timesteps), so a step costs one pass over memory and rounds once
 * whatever its number of terms.
 */
import type { Storage } from '../../tensor/tensor.js';

/** Over buffers of type `B` (host arrays on the CPU). */
export interface LinearCombinationKernels<B = Storage> {
  /**
   * With out seen as `groups` equal consecutive blocks (the batch elements, axis 0) and
   * c_k[n] = coefs[k * groups + n]: out[i] = sum over the terms with c_k[n] != 0 of
   * c_k[n] * xs[k][i], for i in block n; accumulated in double in term order, starting from the
   * first such term, and rounded once to out's precision (no term: 0). A zero coefficient drops
   * its term, so a NaN or Infinity in it does not reach the sum; otherwise they propagate.
   * (coefs is a plain array: the native backend routes calls with a Float64Array argument to the
   * reference kernels.) Every xs[k] has out's length; they may differ from out (and each other) in precision, so a
   * one-term call with coefficient 1 converts between float32 and float64.
   */
  linearCombination(coefs: readonly number[], groups: number, xs: readonly B[], out: B): void;
}
