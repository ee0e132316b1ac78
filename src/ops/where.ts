/**
 * where(mask, a, b): a where mask is nonzero, b elsewhere, with broadcasting over all three.
 * The gradient flows to a where the mask is true and to b elsewhere; the mask gets none.
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit, zeros } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor, sameDType, sameDevice } from '../tensor/check.js';
import { broadcastShapes } from '../backend/kernels/binary.js';
import { sumTo } from './reduce.js';

/**
 * Elementwise select: out = mask != 0 ? a : b (a NaN in the mask counts as true).
 * mask holds 0/1 values; mask, a and b broadcast together (NumPy rules).
 * @example where(known, x0, xPred) // inpainting: keep known pixels
 */
export function where(mask: Tensor, a: Tensor, b: Tensor): Tensor {
  expectTensor('where', 'mask', mask);
  expectTensor('where', 'a', a);
  expectTensor('where', 'b', b);
  const dtype = sameDType('where', { a, b, mask });
  const dev = sameDevice('where', { a, b, mask });
  const shape = broadcastShapes('where', { mask: mask.shape, a: a.shape, b: b.shape });
  const out = emptyUninit(shape, dtype, dev);
  dev.kernels.where(mask.storage, mask.shape, a.storage, a.shape, b.storage, b.shape, out.storage, shape);
  return recordOp('where', out, [mask, a, b], (gy) => {
    // Route gy by the same mask, with zeros on the other side, then sum back to each shape.
    const zero = zeros([], { dtype, device: dev });
    const pick = (useA: boolean): Tensor => {
      const g = emptyUninit(shape, dtype, dev);
      if (useA) dev.kernels.where(mask.storage, mask.shape, gy.storage, shape, zero.storage, [], g.storage, shape);
      else dev.kernels.where(mask.storage, mask.shape, zero.storage, [], gy.storage, shape, g.storage, shape);
      return g;
    };
    return [null, a.requiresGrad ? sumTo(pick(true), a.shape) : null, b.requiresGrad ? sumTo(pick(false), b.shape) : null];
  });
}
