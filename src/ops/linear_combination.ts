/**
 * linearCombination: out = sum_k c_k x_k elementwise, with JavaScript-number coefficients (one
 * for the tensor, or one per batch element), in one fused pass accumulated in double and rounded
 * once. The step arithmetic of every sampler and scheduler is a few of these (Euler's x + dt d,
 * DPM-Solver++'s (sigma_t / sigma_s) x - alpha_t (e^-h - 1) D, a model output's x_0 =
 * (x - sigma eps) / alpha, q(x_t | x_0) at per-sample timesteps), so a step stays on the tensors'
 * device and costs one pass over memory whatever its number of terms. The gradient is right
 * below: dL/dx_k = c_k gy.
 */
import { Tensor, type DType } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor, sameDevice } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';

/**
 * A coefficient: one number for the whole tensor, or one per batch element (axis 0; an array of
 * length 1 counts for every element).
 */
export type LinearCoefficient = number | ArrayLike<number>;

/** One term c * x of a linear combination. */
export type LinearTerm = readonly [coefficient: LinearCoefficient, x: Tensor];

/** A coefficient as `groups` float64 values (checked: numbers; NaN is a number, and gives NaN). */
function expandCoefficient(op: string, k: number, c: LinearCoefficient, groups: number): Float64Array {
  const name = `terms[${k}]'s coefficient`;
  if (typeof c === 'number') return new Float64Array(groups).fill(c);
  if (c.length !== 1 && c.length !== groups) {
    throw new ShapeError(`${op}: ${name} has ${c.length} values, expected 1 or one per batch element (${groups})`);
  }
  const values = Array.from({ length: groups }, (_, n): unknown => c[c.length === 1 ? 0 : n]);
  const bad = values.findIndex((v) => typeof v !== 'number');
  if (bad >= 0) throw new ArgumentError(`${op}: ${name}[${bad}] must be a number, found ${typeof values[bad]}`);
  return Float64Array.from(values as number[]);
}

/**
 * sum_k c_k x_k, elementwise over tensors of one shape, computed in double and stored in `dtype`
 * (default: the first term's). A coefficient is a number, or one number per batch element (axis
 * 0). The inputs may differ in dtype, so `linearCombination([[1, z]], 'float64')` is also the
 * float32 -> float64 conversion. A coefficient of exactly 0 drops its term (the term is absent,
 * so a NaN or Infinity in it does not poison the sum), which lets callers switch terms off;
 * otherwise NaN and Infinity propagate, from the tensors and from the coefficients alike.
 * @example const xNext = linearCombination([[1, x], [sigmaNext - sigma, d]]); // Euler: x + dt d
 * @example const xt = linearCombination([[sqrtAbar, x0], [sqrtOneMinusAbar, noise]]); // per-sample arrays
 */
export function linearCombination(terms: readonly LinearTerm[], dtype?: DType): Tensor {
  const op = 'linearCombination';
  if (!Array.isArray(terms as unknown) || terms.length === 0) {
    throw new ArgumentError(`${op}: 'terms' must be a non-empty array of [coefficient, tensor] pairs, found ${Array.isArray(terms as unknown) ? 'an empty array' : typeof terms}`);
  }
  terms.forEach((term, k) => {
    if (!Array.isArray(term as unknown) || term.length !== 2) throw new ArgumentError(`${op}: terms[${k}] must be a [coefficient, tensor] pair, found ${typeof term}`);
    const c: unknown = term[0];
    if (typeof c !== 'number' && (c === null || typeof c !== 'object' || typeof (c as ArrayLike<number>).length !== 'number')) {
      throw new ArgumentError(`${op}: terms[${k}]'s coefficient must be a number or an array of numbers (one per batch element), found ${c === null ? 'null' : typeof c}`);
    }
    expectTensor(op, `terms[${k}][1]`, term[1]);
  });
  const shape = terms[0]![1].shape;
  terms.forEach(([, x], k) => {
    if (x.rank !== shape.length || x.shape.some((d, i) => d !== shape[i])) {
      throw new ShapeError(`${op}: terms[${k}]'s tensor has shape ${fmtShape(x.shape)}, expected ${fmtShape(shape)} (the shape of terms[0]); every term must have one shape (no broadcasting)`);
    }
  });
  const outDType = dtype ?? terms[0]![1].dtype;
  if (outDType !== 'float32' && outDType !== 'float64') throw new ArgumentError(`${op}: 'dtype' must be 'float32' or 'float64', found ${String(outDType)}`);
  const perSample = terms.some(([c]) => typeof c !== 'number');
  if (perSample && shape.length === 0) throw new ShapeError(`${op}: per-batch-element coefficients need a batch axis, but the tensors have shape []`);
  const groups = perSample ? shape[0]! : 1;
  const coefs = terms.flatMap(([c], k) => Array.from(expandCoefficient(op, k, c, groups)));
  const dev = sameDevice(op, Object.fromEntries(terms.map(([, x], k) => [`terms[${k}][1]`, x])));
  const out = emptyUninit(shape, outDType, dev);
  dev.kernels.linearCombination(coefs, groups, terms.map(([, x]) => x.storage), out.storage);
  return recordOp(op, out, terms.map(([, x]) => x), (gy) =>
    terms.map(([, x], k) => {
      if (!x.requiresGrad) return null;
      // d out / d x_k = c_k: the gradient is c_k gy, in x_k's own dtype.
      const gx = emptyUninit(x.shape, x.dtype, dev);
      dev.kernels.linearCombination(coefs.slice(k * groups, (k + 1) * groups), groups, [gy.storage], gx.storage);
      return gx;
    }),
  );
}
