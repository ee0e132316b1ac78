/**
 * Tensor-scalar ops: x + s, x - s, s - x, x * s, x / s, x^p, and clamp(x, lo, hi), with
 * gradients (clamp's is 0 where x is outside [lo, hi]). One native kernel family serves them all.
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectNumber, expectTensor } from '../tensor/check.js';
import { ArgumentError } from '../tensor/errors.js';
import type { ScalarOp } from '../backend/kernels/binary.js';

/** y = x (op) s (clamp: t is the upper bound), with the gradient gy * d(x op s)/dx. */
function scalarOp(name: string, op: ScalarOp, x: Tensor, s: number, t = 0): Tensor {
  expectTensor(name, 'x', x);
  const dev = x.device;
  const y = emptyUninit(x.shape, x.dtype, dev);
  dev.kernels.scalar(op, x.storage, s, t, y.storage);
  return recordOp(name, y, [x], (gy) => {
    // Adding a constant passes the gradient through unchanged.
    if (op === 'add' || op === 'sub') return [gy];
    const gx = emptyUninit(x.shape, x.dtype, dev);
    dev.kernels.scalarBackward(op, x.storage, s, t, gy.storage, gx.storage);
    return [gx];
  });
}

/** x + s. @example addScalar(x, 1) */
export function addScalar(x: Tensor, s: number): Tensor {
  expectNumber('addScalar', 's', s);
  return scalarOp('addScalar', 'add', x, s);
}

/** x - s. */
export function subScalar(x: Tensor, s: number): Tensor {
  expectNumber('subScalar', 's', s);
  return scalarOp('subScalar', 'sub', x, s);
}

/** s - x. @example rsubScalar(1, alphasCumprod) // 1 - abar */
export function rsubScalar(s: number, x: Tensor): Tensor {
  expectNumber('rsubScalar', 's', s);
  return scalarOp('rsubScalar', 'rsub', x, s);
}

/** x * s. @example mulScalar(x, 0.5) */
export function mulScalar(x: Tensor, s: number): Tensor {
  expectNumber('mulScalar', 's', s);
  return scalarOp('mulScalar', 'mul', x, s);
}

/** x / s (IEEE: division by 0 gives ±Infinity or NaN). */
export function divScalar(x: Tensor, s: number): Tensor {
  expectNumber('divScalar', 's', s);
  return scalarOp('divScalar', 'div', x, s);
}

/**
 * x^p elementwise (Math.pow semantics: a negative x with a non-integer p gives NaN).
 * Computed in double and rounded once.
 * @example powScalar(x, 2)
 */
export function powScalar(x: Tensor, p: number): Tensor {
  expectNumber('powScalar', 'p', p);
  return scalarOp('powScalar', 'pow', x, p);
}

/**
 * min(max(x, lo), hi) elementwise; NaN stays NaN. The gradient is passed where lo <= x <= hi
 * (and at NaN) and is 0 outside. Use -Infinity / Infinity for a one-sided clamp.
 * @example clamp(x0Pred, -1, 1)
 */
export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  expectNumber('clamp', 'lo', lo);
  expectNumber('clamp', 'hi', hi);
  if (lo > hi) throw new ArgumentError(`clamp: 'lo' (${lo}) is greater than 'hi' (${hi}); expected lo <= hi`);
  return scalarOp('clamp', 'clamp', x, lo, hi);
}
