/**
 * Copies that record no graph: `clone` (a new buffer), `cast` (a copy in another dtype) and
 * `copyInto` (overwrite a tensor's values in place: loading weights, restoring optimizer and EMA
 * state). They run the device's copy kernel, so no host array is touched.
 */
import { Tensor, type DType } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { expectTensor, sameDevice } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';

/**
 * A copy of x's values in a new buffer on x's device, in `dtype` (default x's), detached from
 * any graph.
 * @example const snapshot = clone(weight);
 */
export function clone(x: Tensor, dtype: DType = x.dtype): Tensor {
  expectTensor('clone', 'x', x);
  const out = emptyUninit(x.shape, dtype, x.device);
  if (x.size > 0) x.device.kernels.copy(out.storage, x.storage);
  return out;
}

/**
 * x's values in `dtype` (always a new buffer, no graph): float64 for gradient checks, float32 back.
 * @example const x64 = cast(x, 'float64');
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (dtype !== 'float32' && dtype !== 'float64') throw new ArgumentError(`cast: dtype must be 'float32' or 'float64', found ${JSON.stringify(dtype)}`);
  return clone(x, dtype);
}

/**
 * Overwrites dst's values with src's, in place (dtype converted; no graph is recorded): both on
 * one device, with the same number of elements.
 * @example copyInto(param, loaded) // load a weight without reallocating it
 */
export function copyInto(dst: Tensor, src: Tensor): void {
  expectTensor('copyInto', 'dst', dst);
  expectTensor('copyInto', 'src', src);
  const dev = sameDevice('copyInto', { dst, src });
  if (dst.size !== src.size) {
    throw new ShapeError(`copyInto: 'src' has shape ${fmtShape(src.shape)} (${src.size} elements), expected ${dst.size} elements to fill 'dst' of shape ${fmtShape(dst.shape)}`);
  }
  if (dst.size > 0) dev.kernels.copy(dst.storage, src.storage);
}
