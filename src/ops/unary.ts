/**
 * Elementwise unary functions: silu, exp, log, sqrt, square, sin, cos, tanh, sigmoid, neg, abs.
 * One forward kernel and one derivative kernel serve them all; the gradient is gy * f'(x).
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor } from '../tensor/check.js';
import type { UnaryOp } from '../backend/kernels/unary.js';

/** y = f(x) elementwise, with its gradient. */
export function unary(op: UnaryOp, x: Tensor): Tensor {
  expectTensor(op, 'x', x);
  const dev = x.device;
  const y = emptyUninit(x.shape, x.dtype, dev);
  dev.kernels.unary(op, x.storage, y.storage);
  return recordOp(op, y, [x], (gy) => {
    const gx = emptyUninit(x.shape, x.dtype, dev);
    dev.kernels.unaryBackward(op, x.storage, y.storage, gy.storage, gx.storage);
    return [gx];
  });
}

/** x * sigmoid(x) (a.k.a. swish). */
export const silu = (x: Tensor): Tensor => unary('silu', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const square = (x: Tensor): Tensor => unary('square', x);
export const sin = (x: Tensor): Tensor => unary('sin', x);
export const cos = (x: Tensor): Tensor => unary('cos', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const neg = (x: Tensor): Tensor => unary('neg', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
