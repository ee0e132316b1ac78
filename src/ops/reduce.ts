/**
 * Sum-reductions and the two shape moves of broadcasting: `sum` and `mean` over any set of axes,
 * `broadcastTo` (repeat size-1 axes), and its adjoint `sumTo` (sum a broadcast result back to an
 * input's shape, which is how every broadcasting op's gradient is formed).
 * Sums accumulate in double precision on both backends (native: over fixed chunks combined in
 * order, so results do not depend on the thread count).
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';

/** Axes to reduce, normalised to sorted non-negative indices; `undefined` means all axes. */
export function normalizeAxes(op: string, rank: number, axes: number | readonly number[] | undefined): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  if (!Array.isArray(list)) {
    throw new ArgumentError(`${op}: 'axes' must be an integer or an array of integers, found ${typeof axes}`);
  }
  const seen = new Set<number>();
  for (const a of list) {
    if (typeof a !== 'number' || !Number.isInteger(a) || a < -rank || a >= rank) {
      if (rank === 0) throw new ArgumentError(`${op}: axis ${String(a)} given, but a scalar (shape []) has no axes; omit 'axes'`);
      throw new ArgumentError(
        `${op}: axis ${String(a)} is out of range for a tensor of rank ${rank}; expected an integer in [${-rank}, ${rank - 1}]`,
      );
    }
    const n = a < 0 ? a + rank : a;
    if (seen.has(n)) throw new ArgumentError(`${op}: axis ${n} appears more than once in axes ${JSON.stringify(list)}`);
    seen.add(n);
  }
  return [...seen].sort((x, y) => x - y);
}

/** Throws unless `from` broadcasts to `to` (right-aligned; each axis equal or 1). */
function expectBroadcastsTo(op: string, name: string, from: readonly number[], to: readonly number[]): void {
  const off = to.length - from.length;
  const bad = off < 0 ? -1 : from.findIndex((d, i) => d !== 1 && d !== to[off + i]);
  if (off < 0 || bad >= 0) {
    throw new ShapeError(
      `${op}: '${name}' of shape ${fmtShape(from)} does not broadcast to ${fmtShape(to)}` +
        (off < 0 ? ` (it has more axes)` : ` (axis ${bad} has size ${from[bad]}, expected ${to[off + bad]} or 1)`),
    );
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Shapes of a reduction: with reduced axes kept as 1, and as returned. */
function reducedShapes(x: Tensor, axes: readonly number[], keepDims: boolean): { keep: number[]; out: number[] } {
  const keep = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = keepDims ? keep : x.shape.filter((_, i) => !axes.includes(i));
  return { keep, out };
}

function checkKeepDims(op: string, keepDims: unknown): void {
  if (typeof keepDims !== 'boolean') throw new ArgumentError(`${op}: 'keepDims' must be a boolean, found ${typeof keepDims}`);
}

/**
 * Sum over `axes` (default all; negative axes count from the end).
 * @example sum(x, [1, 2], true) // (N, H, W, C) -> (N, 1, 1, C)
 */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  expectTensor('sum', 'x', x);
  checkKeepDims('sum', keepDims);
  const ax = normalizeAxes('sum', x.rank, axes);
  const { keep, out: outShape } = reducedShapes(x, ax, keepDims);
  const dev = x.device;
  const out = emptyUninit(outShape, x.dtype, dev);
  dev.kernels.reduceSum(x.storage, x.shape, out.storage, keep);
  return recordOp('sum', out, [x], (gy) => {
    // d sum / dx = 1 everywhere: repeat gy along the reduced axes.
    const gx = emptyUninit(x.shape, x.dtype, dev);
    dev.kernels.broadcastTo(gy.storage, keep, gx.storage, x.shape);
    return [gx];
  });
}

/**
 * Mean over `axes` (default all; negative axes count from the end). The mean over no
 * elements is NaN.
 * @example mean(x, -1) // average over channels
 */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  expectTensor('mean', 'x', x);
  checkKeepDims('mean', keepDims);
  const ax = normalizeAxes('mean', x.rank, axes);
  const { keep, out: outShape } = reducedShapes(x, ax, keepDims);
  const dev = x.device;
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  const out = emptyUninit(outShape, x.dtype, dev);
  dev.kernels.reduceSum(x.storage, x.shape, out.storage, keep);
  dev.kernels.scalar('div', out.storage, count, 0, out.storage);
  return recordOp('mean', out, [x], (gy) => {
    // d mean / dx = 1/count everywhere.
    const gx = emptyUninit(x.shape, x.dtype, dev);
    dev.kernels.broadcastTo(gy.storage, keep, gx.storage, x.shape);
    dev.kernels.scalar('div', gx.storage, count, 0, gx.storage);
    return [gx];
  });
}

/**
 * Repeats `x` along its size-1 (or missing leading) axes to `shape` (NumPy broadcasting).
 * Returns `x` itself when the shape already matches.
 * @example broadcastTo(bias, [2, 8, 8, 16]) // (16) -> (2, 8, 8, 16)
 */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  expectTensor('broadcastTo', 'x', x);
  expectBroadcastsTo('broadcastTo', 'x', x.shape, shape);
  if (sameShape(x.shape, shape)) return x;
  const dev = x.device;
  const out = emptyUninit(shape, x.dtype, dev);
  dev.kernels.broadcastTo(x.storage, x.shape, out.storage, shape);
  return recordOp('broadcastTo', out, [x], (gy) => [sumTo(gy, x.shape)]);
}

/**
 * Sums `x` down to `shape`, which must broadcast to x's shape: the adjoint of broadcastTo,
 * used to return a broadcast input's gradient at its own shape. Returns `x` itself when the
 * shape already matches.
 * @example sumTo(gy, [16]) // (2, 8, 8, 16) -> (16): a bias gradient
 */
export function sumTo(x: Tensor, shape: readonly number[]): Tensor {
  expectTensor('sumTo', 'x', x);
  expectBroadcastsTo('sumTo', 'shape', shape, x.shape);
  if (sameShape(x.shape, shape)) return x;
  const dev = x.device;
  const out = emptyUninit(shape, x.dtype, dev);
  dev.kernels.reduceSum(x.storage, x.shape, out.storage, shape);
  return recordOp('sumTo', out, [x], (gy) => [broadcastTo(gy, x.shape)]);
}
