/**
 * Broadcasting elementwise arithmetic: add, sub, mul, div (NumPy/PyTorch broadcasting: shapes
 * align at their trailing axes; size-1 or missing axes repeat). The gradient with respect to a
 * broadcast input is the output gradient summed back to that input's shape (`sumTo`).
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor, sameDType, sameDevice } from '../tensor/check.js';
import { broadcastShapes, type BinaryOp } from '../backend/kernels/binary.js';
import { sumTo } from './reduce.js';

/** out = a (op) b with broadcasting, no graph recording (forward kernels and gradients). */
function compute(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  expectTensor(op, 'a', a);
  expectTensor(op, 'b', b);
  const dtype = sameDType(op, { a, b });
  const dev = sameDevice(op, { a, b });
  const shape = broadcastShapes(op, { a: a.shape, b: b.shape });
  const out = emptyUninit(shape, dtype, dev);
  dev.kernels.binary(op, a.storage, a.shape, b.storage, b.shape, out.storage, shape);
  return out;
}

/** -t, for gradients (no graph recording). */
function negate(t: Tensor): Tensor {
  const dev = t.device;
  const out = emptyUninit(t.shape, t.dtype, dev);
  dev.kernels.scalar('mul', t.storage, -1, 0, out.storage);
  return out;
}

/**
 * a + b with broadcasting.
 * @example add(x, bias) // (N, H, W, C) + (C)
 */
export function add(a: Tensor, b: Tensor): Tensor {
  const out = compute('add', a, b);
  return recordOp('add', out, [a, b], (gy) => [
    a.requiresGrad ? sumTo(gy, a.shape) : null,
    b.requiresGrad ? sumTo(gy, b.shape) : null,
  ]);
}

/** a - b with broadcasting. */
export function sub(a: Tensor, b: Tensor): Tensor {
  const out = compute('sub', a, b);
  return recordOp('sub', out, [a, b], (gy) => [
    a.requiresGrad ? sumTo(gy, a.shape) : null,
    b.requiresGrad ? negate(sumTo(gy, b.shape)) : null,
  ]);
}

/**
 * a * b with broadcasting.
 * @example mul(scale, x) // (N, 1, 1, 1) * (N, H, W, C): a per-sample scale
 */
export function mul(a: Tensor, b: Tensor): Tensor {
  const out = compute('mul', a, b);
  return recordOp('mul', out, [a, b], (gy) => [
    a.requiresGrad ? sumTo(compute('mul', gy, b), a.shape) : null,
    b.requiresGrad ? sumTo(compute('mul', gy, a), b.shape) : null,
  ]);
}

/** a / b with broadcasting (IEEE: x/0 is ±Infinity, 0/0 is NaN). */
export function div(a: Tensor, b: Tensor): Tensor {
  const out = compute('div', a, b);
  return recordOp('div', out, [a, b], (gy) => {
    // d/da = 1/b; d/db = -a/b^2 = -(a/b)/b, so both reuse gy/b (out-shaped).
    const gyOverB = compute('div', gy, b);
    return [
      a.requiresGrad ? sumTo(gyOverB, a.shape) : null,
      b.requiresGrad ? negate(sumTo(compute('mul', gyOverB, out), b.shape)) : null,
    ];
  });
}
