/**
 * linearCombination: out = sum_k c_k x_k elementwise, JavaScript-number coefficients, one fused
 * pass accumulated in double and rounded once. The step arithmetic of every sampler and scheduler
 * is a few of these (Euler's x + dt d, DPM-Solver++'s (sigma_t / sigma_s) x - alpha_t (e^-h - 1) D,
 * a model output's x_0 = (x - sigma eps) / alpha), so a step stays on the tensors' device and costs
 * one pass over memory whatever its number of terms. The gradient is right below: dL/dx_k = c_k gy.
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit, zeros } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import type { DType } from '../tensor/tensor.js';
import { backend } from '../backend/backend.js';

/** One term c * x of a linear combination. */
export type LinearTerm = readonly [coefficient: number, x: Tensor];

/**
 * sum_k c_k x_k, elementwise over tensors of one shape, computed in double and stored in `dtype`
 * (default: the first term's). The inputs may differ in dtype, so `linearCombination([[1, z]],
 * 'float64')` is also the float32 -> float64 conversion. A term whose coefficient is exactly 0 is
 * dropped (it is absent, so a NaN or Infinity in it does not poison the sum), which lets callers
 * switch terms off with their coefficient; otherwise NaN and Infinity propagate.
 * @example const xNext = linearCombination([[1, x], [sigmaNext - sigma, d]]); // Euler: x + dt d
 */
export function linearCombination(terms: readonly LinearTerm[], dtype?: DType): Tensor {
  const op = 'linearCombination';
  if (!Array.isArray(terms as unknown) || terms.length === 0) {
    throw new ArgumentError(`${op}: 'terms' must be a non-empty array of [coefficient, tensor] pairs, found ${Array.isArray(terms as unknown) ? 'an empty array' : typeof terms}`);
  }
  terms.forEach((term, k) => {
    if (!Array.isArray(term as unknown) || term.length !== 2) throw new ArgumentError(`${op}: terms[${k}] must be a [coefficient, tensor] pair, found ${JSON.stringify(term)}`);
    const [c, x] = term;
    if (typeof c !== 'number' || Number.isNaN(c)) throw new ArgumentError(`${op}: terms[${k}]'s coefficient must be a number, found ${typeof c === 'number' ? c : typeof c}`);
    expectTensor(op, `terms[${k}][1]`, x);
  });
  const shape = terms[0]![1].shape;
  terms.forEach(([, x], k) => {
    if (x.rank !== shape.length || x.shape.some((d, i) => d !== shape[i])) {
      throw new ShapeError(`${op}: terms[${k}]'s tensor has shape ${fmtShape(x.shape)}, expected ${fmtShape(shape)} (the shape of terms[0]); every term must have one shape (no broadcasting)`);
    }
  });
  const outDType = dtype ?? terms[0]![1].dtype;
  if (outDType !== 'float32' && outDType !== 'float64') throw new ArgumentError(`${op}: 'dtype' must be 'float32' or 'float64', found ${String(outDType)}`);
  const live = terms.filter(([c]) => c !== 0);
  if (live.length === 0) return zeros(shape, { dtype: outDType });
  const out = emptyUninit(shape, outDType);
  backend().linearCombination(live.map(([c]) => c), live.map(([, x]) => x.data), out.data);
  const inputs = live.map(([, x]) => x);
  return recordOp(op, out, inputs, (gy) =>
    live.map(([c, x]) => {
      if (!x.requiresGrad) return null;
      // d out / d x_k = c_k: the gradient is c_k gy, in x_k's own dtype.
      const gx = emptyUninit(x.shape, x.dtype);
      backend().linearCombination([c], [gy.data], gx.data);
      return gx;
    }),
  );
}
