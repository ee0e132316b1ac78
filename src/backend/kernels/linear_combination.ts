/**
 * Kernel contract of the fused linear combination out = sum_k c_k x_k (elementwise, scalar
 * coefficients): the one kernel the samplers' and schedulers' step arithmetic is written in
 * (x + dt d, DPM-Solver's multistep updates, model-output conversions), so a step costs one pass
 * over memory and rounds once whatever its number of terms.
 */
import type { Storage } from '../../tensor/tensor.js';

export interface LinearCombinationKernels {
  /**
   * out[i] = sum_k coefs[k] * xs[k][i], accumulated in double in term order and rounded once to
   * out's precision. Every xs[k] has out's length; they may differ from out (and each other) in
   * precision, so a one-term call with coefficient 1 converts between float32 and float64.
   * NaN and Infinity propagate (0 * Infinity is NaN).
   */
  linearCombination(coefs: readonly number[], xs: readonly Storage[], out: Storage): void;
}
