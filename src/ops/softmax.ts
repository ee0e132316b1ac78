/**
 * Softmax over the last axis, numerically stable (the row max is subtracted before exp):
 *   y_i = exp(x_i - max x) / sum_j exp(x_j - max x)
 * with the gradient from the saved output: gx = y * (gy - sum(gy * y)).
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor } from '../tensor/check.js';
import { ShapeError, fmtShape } from '../tensor/errors.js';

/**
 * Softmax of `x` (..., D) over its last axis; each row sums to 1. A NaN in a row makes the whole
 * row NaN, as in PyTorch.
 * @example const p = softmax(scores); // scores (B, Lq, Lk): attention weights over keys
 */
export function softmax(x: Tensor): Tensor {
  const op = 'softmax';
  expectTensor(op, 'x', x);
  const dev = x.device;
  if (x.rank < 1) throw new ShapeError(`${op}: input 'x' must have rank >= 1 (..., D), found shape ${fmtShape(x.shape)}`);
  const d = x.shape[x.rank - 1]!;
  const rows = d === 0 ? 0 : x.size / d;
  const y = emptyUninit(x.shape, x.dtype, dev);
  if (x.size > 0) dev.kernels.softmaxForward(x.storage, rows, d, y.storage);
  return recordOp(op, y, [x], (gy) => {
    const gx = emptyUninit(x.shape, x.dtype, dev);
    if (x.size > 0) dev.kernels.softmaxBackward(y.storage, gy.storage, rows, d, gx.storage);
    return [gx];
  });
}
