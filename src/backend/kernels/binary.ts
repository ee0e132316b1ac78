/**
 * Kernel contract of the binary family: broadcasting elementwise arithmetic, where,
 * sum-reductions over any set of axes (which also serve as `sumTo` for broadcast gradients),
 * broadcastTo, scalar ops, and the fused squared-error loss.
 *
 * Broadcasting follows NumPy/PyTorch: shapes are aligned at their trailing axes; an axis of
 * size 1 (or a missing leading axis) repeats to match the other operand.
 */
import type { HostArray } from '../../tensor/tensor.js';
import { ShapeError, fmtShape } from '../../tensor/errors.js';

/** Tensor-tensor ops; the order is the op code shared with native/kernels/binary.cc. */
export const BINARY_OPS = ['add', 'sub', 'mul', 'div'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

/**
 * Tensor-scalar ops; the order is the op code shared with native/kernels/binary.cc.
 * `s` is the scalar (for clamp: the lower bound) and `t` the second scalar (clamp's upper bound).
 * rsub is s - x; pow is x^s.
 */
export const SCALAR_OPS = ['add', 'sub', 'rsub', 'mul', 'div', 'pow', 'clamp'] as const;
export type ScalarOp = (typeof SCALAR_OPS)[number];

export interface BinaryKernels<B = HostArray> {
  /** out = a (op) b, with a and b broadcast to outShape. */
  binary(op: BinaryOp, a: B, aShape: readonly number[], b: B, bShape: readonly number[], out: B, outShape: readonly number[]): void;
  /** out = mask != 0 ? a : b, all three broadcast to outShape (a NaN mask counts as true). */
  where(
    mask: B, maskShape: readonly number[],
    a: B, aShape: readonly number[],
    b: B, bShape: readonly number[],
    out: B, outShape: readonly number[],
  ): void;
  /**
   * out = x summed over the axes where outShape (right-aligned to xShape, rank <= x's) has
   * size 1 and xShape does not: `sumTo` for broadcast gradients, and `sum` with keepDims.
   * Accumulates in double precision.
   */
  reduceSum(x: B, xShape: readonly number[], out: B, outShape: readonly number[]): void;
  /** out = x repeated along its size-1 (or missing leading) axes to outShape. */
  broadcastTo(x: B, xShape: readonly number[], out: B, outShape: readonly number[]): void;
  /** out[i] = x[i] (op) s; clamp is min(max(x, s), t). NaN propagates. */
  scalar(op: ScalarOp, x: B, s: number, t: number, out: B): void;
  /** gx[i] = gy[i] * d(x (op) s)/dx at x[i] (clamp: 1 inside [s, t] or at NaN, 0 outside). */
  scalarBackward(op: ScalarOp, x: B, s: number, t: number, gy: B, gx: B): void;
  /**
   * out[0] = sum_i (pred[i] - target[i])^2 / divisor, accumulated and divided in double, rounded
   * once (divisor 1 for a sum, the element count for a mean); out has one element.
   */
  sqDiffSum(pred: B, target: B, divisor: number, out: B): void;
  /** out[i] = (pred[i] - target[i])^2. */
  sqDiff(pred: B, target: B, out: B): void;
  /** g[i] = scale * gy[i or 0] * (pred[i] - target[i]); gy has one element or as many as pred. */
  sqDiffBackward(pred: B, target: B, gy: B, scale: number, g: B): void;
}

/**
 * The broadcast of several shapes (NumPy rules). Throws a ShapeError naming `op`, both
 * offending inputs with their shapes, and the axis (counted from the end, as broadcasting aligns).
 * @example broadcastShapes('add', { a: [3, 1, 5], b: [4, 1] }) // [3, 4, 5]
 */
export function broadcastShapes(op: string, named: Record<string, readonly number[]>): number[] {
  const entries = Object.entries(named);
  const rank = Math.max(0, ...entries.map(([, s]) => s.length));
  const out: number[] = new Array<number>(rank).fill(1);
  // Which input set each output axis (for the message when a later input disagrees).
  const owner: (string | null)[] = new Array<string | null>(rank).fill(null);
  for (const [name, s] of entries) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i]!;
      const o = out[off + i]!;
      if (d === o || d === 1) continue;
      if (o === 1) {
        out[off + i] = d;
        owner[off + i] = name;
        continue;
      }
      const other = owner[off + i]!;
      const axis = i - s.length;
      throw new ShapeError(
        `${op}: cannot broadcast '${other}' of shape ${fmtShape(named[other]!)} with '${name}' of shape ${fmtShape(s)}: ` +
          `axis ${axis} (counted from the end) has size ${o} in '${other}' and ${d} in '${name}'; sizes must match or one must be 1`,
      );
    }
  }
  return out;
}
