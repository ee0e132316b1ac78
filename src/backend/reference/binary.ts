/**
 * Reference binary-family kernels: the plain definitions, one element at a time through
 * explicit index arithmetic, in the buffer's own precision (sums accumulate in double).
 */
import type { BinaryKernels, BinaryOp, ScalarOp } from '../kernels/binary.js';
import { numel } from '../../tensor/shape.js';

/** Element strides of `shape` right-aligned against `out`, 0 along broadcast axes. */
function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = new Array<number>(out.length).fill(0);
  const off = out.length - shape.length;
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const s = shape[d]!;
    strides[off + d] = s === 1 ? 0 : acc;
    acc *= s;
  }
  return strides;
}

/** For each element of `out` (row-major), the flat offset into each input. */
function forEachBroadcast(out: readonly number[], inputs: readonly (readonly number[])[], body: (i: number, offs: number[]) => void): void {
  const strides = inputs.map((s) => broadcastStrides(s, out));
  const n = numel(out);
  const idx = new Array<number>(out.length).fill(0);
  const offs = new Array<number>(inputs.length).fill(0);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < inputs.length; k++) {
      let o = 0;
      for (let d = 0; d < out.length; d++) o += idx[d]! * strides[k]![d]!;
      offs[k] = o;
    }
    body(i, offs);
    // Advance the row-major multi-index.
    for (let d = out.length - 1; d >= 0; d--) {
      if (++idx[d]! < out[d]!) break;
      idx[d] = 0;
    }
  }
}

function apply(op: BinaryOp, x: number, y: number): number {
  switch (op) {
    case 'add': return x + y;
    case 'sub': return x - y;
    case 'mul': return x * y;
    case 'div': return x / y;
  }
}

function scalarF(op: ScalarOp, x: number, s: number, t: number): number {
  switch (op) {
    case 'add': return x + s;
    case 'sub': return x - s;
    case 'rsub': return s - x;
    case 'mul': return x * s;
    case 'div': return x / s;
    case 'pow': return Math.pow(x, s);
    case 'clamp': return x < s ? s : x > t ? t : x;
  }
}

function scalarDf(op: ScalarOp, x: number, s: number, t: number): number {
  switch (op) {
    case 'add':
    case 'sub': return 1;
    case 'rsub': return -1;
    case 'mul': return s;
    case 'div': return 1 / s;
    // d/dx x^p = p x^(p-1); p = 0 is a constant (avoid 0 * inf at x = 0).
    case 'pow': return s === 0 ? 0 : s * Math.pow(x, s - 1);
    case 'clamp': return x < s || x > t ? 0 : 1;
  }
}

export const referenceBinary: BinaryKernels = {
  binary(op, a, aShape, b, bShape, out, outShape) {
    forEachBroadcast(outShape, [aShape, bShape], (i, o) => {
      out[i] = apply(op, a[o[0]!]!, b[o[1]!]!);
    });
  },
  where(mask, maskShape, a, aShape, b, bShape, out, outShape) {
    forEachBroadcast(outShape, [maskShape, aShape, bShape], (i, o) => {
      out[i] = mask[o[0]!]! !== 0 ? a[o[1]!]! : b[o[2]!]!;
    });
  },
  reduceSum(x, xShape, out, outShape) {
    // Scatter-add every element of x into its output slot (double accumulators).
    const acc = new Float64Array(out.length);
    forEachBroadcast(xShape, [outShape], (i, o) => {
      acc[o[0]!]! += x[i]!;
    });
    out.set(acc);
  },
  broadcastTo(x, xShape, out, outShape) {
    forEachBroadcast(outShape, [xShape], (i, o) => {
      out[i] = x[o[0]!]!;
    });
  },
  scalar(op, x, s, t, out) {
    // A float32 buffer sees its scalars in float32 too (as the native kernel does); pow's
    // exponent stays double on both backends.
    const [s1, t1] = out instanceof Float32Array && op !== 'pow' ? [Math.fround(s), Math.fround(t)] : [s, t];
    for (let i = 0; i < x.length; i++) out[i] = scalarF(op, x[i]!, s1, t1);
  },
  scalarBackward(op, x, s, t, gy, gx) {
    const [s1, t1] = gx instanceof Float32Array && op !== 'pow' ? [Math.fround(s), Math.fround(t)] : [s, t];
    // Division divides (not multiplies by 1/s), as the native kernel does.
    if (op === 'div') for (let i = 0; i < x.length; i++) gx[i] = gy[i]! / s1;
    else for (let i = 0; i < x.length; i++) gx[i] = gy[i]! * scalarDf(op, x[i]!, s1, t1);
  },
  sqDiffSum(pred, target, divisor, out) {
    let s = 0;
    for (let i = 0; i < pred.length; i++) {
      const d = pred[i]! - target[i]!;
      s += d * d;
    }
    out[0] = s / divisor;
  },
  sqDiff(pred, target, out) {
    for (let i = 0; i < pred.length; i++) {
      const d = pred[i]! - target[i]!;
      out[i] = d * d;
    }
  },
  sqDiffBackward(pred, target, gy, scale, g) {
    const one = gy.length === 1 && pred.length !== 1;
    for (let i = 0; i < pred.length; i++) g[i] = scale * gy[one ? 0 : i]! * (pred[i]! - target[i]!);
  },
};
