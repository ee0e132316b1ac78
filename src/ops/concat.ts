/**
 * concat and split along one axis (the U-Net joins skip connections along channels, the last
 * NHWC axis). Both see tensors as row-major slabs (outer, size along axis * inner), so every
 * axis runs through one kernel pair; each is the other's gradient.
 */
import { Tensor, numel } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor, sameDType, sameDevice } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { normalizeAxis } from './shape.js';

/** outer = product of the dims before `axis`; trailing = product of the dims after it. */
function slabGeometry(shape: readonly number[], axis: number): { outer: number; trailing: number } {
  return { outer: numel(shape.slice(0, axis)), trailing: numel(shape.slice(axis + 1)) };
}

/**
 * Joins tensors along `axis` (default -1, channels for NHWC); all other dims must match.
 * The gradient splits the incoming gradient back into the inputs' sizes.
 * @example concat([h, skip], -1) // (N, H, W, C1) and (N, H, W, C2) -> (N, H, W, C1 + C2)
 */
export function concat(tensors: readonly Tensor[], axis = -1): Tensor {
  if (!Array.isArray(tensors as unknown) || tensors.length === 0) {
    throw new ArgumentError(`concat: 'tensors' must be a non-empty array of Tensors, found ${Array.isArray(tensors as unknown) ? 'an empty array' : typeof tensors}`);
  }
  tensors.forEach((t, k) => expectTensor('concat', `tensors[${k}]`, t));
  const first = tensors[0]!;
  const ax = normalizeAxis('concat', 'axis', axis, first.rank);
  const named = Object.fromEntries(tensors.map((t, k) => [`tensors[${k}]`, t]));
  sameDType('concat', named);
  const dev = sameDevice('concat', named);
  tensors.forEach((t, k) => {
    const mismatch = t.rank !== first.rank || t.shape.some((d, i) => i !== ax && d !== first.shape[i]);
    if (mismatch) {
      const pattern = first.shape.map((d, i) => (i === ax ? '*' : String(d))).join(', ');
      throw new ShapeError(`concat: input 'tensors[${k}]' has shape ${fmtShape(t.shape)}, expected [${pattern}] to match 'tensors[0]' ${fmtShape(first.shape)} on every axis but ${ax}`);
    }
  });
  const sizes = tensors.map((t) => t.shape[ax]!);
  const outShape = [...first.shape];
  outShape[ax] = sizes.reduce((s, v) => s + v, 0);
  const { outer, trailing } = slabGeometry(first.shape, ax);
  const inners = sizes.map((s) => s * trailing);
  const y = emptyUninit(outShape, first.dtype, dev);
  dev.kernels.concat(tensors.map((t) => t.storage), outer, inners, y.storage);
  return recordOp('concat', y, tensors, (gy) => {
    // Only inputs that need a gradient get a buffer; the kernel skips the null slots.
    const gxs = tensors.map((t) => (t.requiresGrad ? emptyUninit(t.shape, t.dtype, dev) : null));
    dev.kernels.split(gy.storage, outer, inners, gxs.map((g) => g?.storage ?? null));
    return gxs;
  });
}

/**
 * Cuts x along `axis` (default -1) into pieces of the given sizes, which must sum to that axis.
 * Each piece is its own graph node whose gradient is its gradient padded with zeros into x's
 * shape, so pieces that get no gradient simply contribute nothing (zeros).
 * @example const [q, k, v] = split(qkv, [d, d, d]) // (N, T, 3d) -> three (N, T, d)
 */
export function split(x: Tensor, sizes: readonly number[], axis = -1): Tensor[] {
  expectTensor('split', 'x', x);
  const ax = normalizeAxis('split', 'axis', axis, x.rank);
  if (!Array.isArray(sizes as unknown) || sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new ArgumentError(`split: 'sizes' must be a non-empty array of non-negative integers, found ${JSON.stringify(sizes)}`);
  }
  const total = sizes.reduce((s, v) => s + v, 0);
  if (total !== x.shape[ax]) {
    throw new ShapeError(`split: sizes ${JSON.stringify(sizes)} sum to ${total}, expected ${x.shape[ax]} (axis ${ax} of x ${fmtShape(x.shape)})`);
  }
  const { outer, trailing } = slabGeometry(x.shape, ax);
  const dev = x.device;
  const inners = sizes.map((s) => s * trailing);
  const pieces = sizes.map((s) => {
    const shape = [...x.shape];
    shape[ax] = s;
    return emptyUninit(shape, x.dtype, dev);
  });
  dev.kernels.split(x.storage, outer, inners, pieces.map((p) => p.storage));
  return pieces.map((piece, k) =>
    recordOp('split', piece, [x], (gy) => {
      const gx = emptyUninit(x.shape, x.dtype, dev);
      dev.kernels.concat(inners.map((_, j) => (j === k ? gy.storage : null)), outer, inners, gx.storage);
      return [gx];
    }),
  );
}
