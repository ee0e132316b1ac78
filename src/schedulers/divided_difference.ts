/**
 * The float64 intermediates of the schedulers' step formulas: divided differences of model outputs
 * over a step (DPM-Solver's D1 = (m0 - m1) / r0, UniPC's D_k) and the probability-flow ODE's slope
 * d = (x - x_0) / sigma (EDM eq. 3). The formulas keep these in double before the step's one
 * rounding into the sample's dtype, so they are float64 tensors here too.
 */
import type { Tensor } from '../tensor/tensor.js';
import { linearCombination } from '../ops/linear_combination.js';
import { divScalar } from '../ops/scalar.js';

/** t in float64 (exact). @example toFloat64(modelOutput) */
export function toFloat64(t: Tensor): Tensor {
  return t.dtype === 'float64' ? t : linearCombination([[1, t]], 'float64');
}

/**
 * (a - b) / r elementwise in float64: a divided difference of two model outputs (r a step ratio),
 * or with a = x, b = x_0 and r = sigma the ODE's slope dx/dsigma.
 * @example const d = dividedDifference(x, x0, sigma); // (x - D(x, sigma)) / sigma
 */
export function dividedDifference(a: Tensor, b: Tensor, r: number): Tensor {
  return divScalar(linearCombination([[1, a], [-1, b]], 'float64'), r);
}
