/**
 * Shape ops: reshape (a view sharing data), permute and transpose (a strided copy whose
 * gradient is the inverse permutation). Also the axis helpers the other layout ops share.
 */
import { Tensor, numel } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';

/**
 * Resolves `axis` (negative counts from the end) against `rank`; throws naming the op.
 * @example normalizeAxis('concat', -1, 4) === 3
 */
export function normalizeAxis(op: string, name: string, axis: unknown, rank: number): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -rank || axis >= rank) {
    const found = typeof axis === 'number' ? String(axis) : typeof axis;
    throw new ArgumentError(
      rank === 0
        ? `${op}: '${name}' is ${found}, but a tensor of rank 0 has no axes`
        : `${op}: '${name}' must be an integer axis in [${-rank}, ${rank - 1}] (rank ${rank}), found ${found}`,
    );
  }
  return axis < 0 ? axis + rank : axis;
}

/**
 * The same elements in a new shape (row-major order kept). One entry may be -1: it is inferred.
 * The result is a view: it SHARES `x`'s buffer (no copy), so writing into one's data changes the
 * other's, as with PyTorch's view. The gradient reshapes back (also without copying).
 * @example reshape(x, [n, -1]) // flattens each sample of x (N, H, W, C) to (N, H*W*C)
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  expectTensor('reshape', 'x', x);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < -1)) {
    throw new ArgumentError(`reshape: shape must be an array of integers >= 0 (one may be -1), found ${JSON.stringify(shape)}`);
  }
  const inferred = shape.reduce<number[]>((acc, d, i) => (d === -1 ? [...acc, i] : acc), []);
  if (inferred.length > 1) {
    throw new ArgumentError(`reshape: only one entry of the shape may be -1, found ${inferred.length} in ${fmtShape(shape)}`);
  }
  const target = [...shape];
  const known = numel(shape.filter((d) => d !== -1));
  if (inferred.length === 1) {
    // The inferred size must make the counts match exactly; 0 known elements make it ambiguous.
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError(`reshape: cannot reshape x of shape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)}: ${x.size} is not a multiple of ${known}, the product of the other entries`);
    }
    target[inferred[0]!] = x.size / known;
  } else if (known !== x.size) {
    throw new ShapeError(`reshape: cannot reshape x of shape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)} (${known} elements); the element counts must match`);
  }
  const y = new Tensor(x.storage, target, false, x.device);
  return recordOp('reshape', y, [x], (gy) => [new Tensor(gy.storage, x.shape, false, gy.device)]);
}

/** Checks that `axes` is a permutation of 0..rank-1 (negative entries allowed); returns it normalised. */
function permutationArg(op: string, axes: unknown, x: Tensor): number[] {
  if (!Array.isArray(axes)) {
    throw new ArgumentError(`${op}: axes must be an array of integers, found ${axes === null ? 'null' : typeof axes}`);
  }
  if (axes.length !== x.rank) {
    throw new ShapeError(`${op}: axes ${JSON.stringify(axes)} has ${axes.length} entries, expected one per axis of x ${fmtShape(x.shape)} (rank ${x.rank})`);
  }
  const seen = new Set<number>();
  return axes.map((a: unknown) => {
    const k = normalizeAxis(op, 'axes entry', a, x.rank);
    if (seen.has(k)) {
      throw new ArgumentError(`${op}: axis ${k} appears twice in axes ${JSON.stringify(axes)}; axes must be a permutation of 0..${x.rank - 1}`);
    }
    seen.add(k);
    return k;
  });
}

/** out = x with axes reordered by the (already validated) permutation, through the kernel. */
function permuteData(x: Tensor, axes: readonly number[]): Tensor {
  const dev = x.device;
  const y = emptyUninit(axes.map((a) => x.shape[a]!), x.dtype, dev);
  dev.kernels.permute(x.storage, x.shape, axes, y.storage);
  return y;
}

/**
 * Reorders the axes: the result's axis i is x's axis axes[i] (a copy, like torch.permute + contiguous).
 * The gradient permutes back with the inverse permutation.
 * @example permute(x, [0, 3, 1, 2]) // NHWC -> NCHW
 */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  expectTensor('permute', 'x', x);
  const perm = permutationArg('permute', axes, x);
  const y = permuteData(x, perm);
  return recordOp('permute', y, [x], (gy) => {
    const inverse = new Array<number>(perm.length);
    perm.forEach((a, i) => (inverse[a] = i));
    return [permuteData(gy, inverse)];
  });
}

/**
 * Swaps two axes (negative axes count from the end): a permute.
 * @example transpose(q, -1, -2) // (B, T, D) -> (B, D, T)
 */
export function transpose(x: Tensor, axis0: number, axis1: number): Tensor {
  expectTensor('transpose', 'x', x);
  const a = normalizeAxis('transpose', 'axis0', axis0, x.rank);
  const b = normalizeAxis('transpose', 'axis1', axis1, x.rank);
  const axes = x.shape.map((_, i) => i);
  axes[a] = b;
  axes[b] = a;
  return permute(x, axes);
}
