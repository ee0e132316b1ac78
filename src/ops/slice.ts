/**
 * Batch slicing: x[start:end] along axis 0 (a copy). The gradient pads the incoming gradient
 * with zeros back into x's shape. Runs through the concat/split kernels with one slab (outer 1).
 */
import { Tensor, numel } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';

/**
 * Samples start..end-1 of a batch (axis 0), like x[start:end]; 0 <= start <= end <= N.
 * @example const [cond, uncond] = [sliceBatch(out, 0, n), sliceBatch(out, n, 2 * n)] // guidance halves
 */
export function sliceBatch(x: Tensor, start: number, end: number): Tensor {
  expectTensor('sliceBatch', 'x', x);
  if (x.rank === 0) throw new ShapeError(`sliceBatch: x has shape ${fmtShape(x.shape)}; it needs at least one axis to slice`);
  const n = x.shape[0]!;
  if (!Number.isInteger(start) || !Number.isInteger(end)) {
    throw new ArgumentError(`sliceBatch: start and end must be integers, found start ${String(start)}, end ${String(end)}`);
  }
  if (start < 0 || end > n || start > end) {
    throw new RangeError(`sliceBatch: range [${start}, ${end}) is out of bounds for x of shape ${fmtShape(x.shape)}; need 0 <= start <= end <= ${n}`);
  }
  const dev = x.device;
  // The buffer as three slabs: before, the slice, after.
  const row = numel(x.shape.slice(1));
  const inners = [start * row, (end - start) * row, (n - end) * row];
  const y = emptyUninit([end - start, ...x.shape.slice(1)], x.dtype, dev);
  dev.kernels.split(x.storage, 1, inners, [null, y.storage, null]);
  return recordOp('sliceBatch', y, [x], (gy) => {
    const gx = emptyUninit(x.shape, x.dtype, dev);
    dev.kernels.concat([null, gy.storage, null], 1, inners, gx.storage);
    return [gx];
  });
}
