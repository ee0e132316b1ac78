/** Native binary-family kernels (native/kernels/binary.cc): shapes travel as Int32Arrays. */
import { BINARY_OPS, SCALAR_OPS, type BinaryKernels, type BinaryOp, type ScalarOp } from '../kernels/binary.js';
import { f32, fn, nativeCall } from './loader.js';

const binaryCode = (op: BinaryOp): number => BINARY_OPS.indexOf(op);
const scalarCode = (op: ScalarOp): number => SCALAR_OPS.indexOf(op);
const dims = (shape: readonly number[]): Int32Array => Int32Array.from(shape);

type BinaryFn = (op: number, a: Float32Array, aShape: Int32Array, b: Float32Array, bShape: Int32Array, out: Float32Array, outShape: Int32Array) => void;
type WhereFn = (
  mask: Float32Array, maskShape: Int32Array,
  a: Float32Array, aShape: Int32Array,
  b: Float32Array, bShape: Int32Array,
  out: Float32Array, outShape: Int32Array,
) => void;
type UnaryShapeFn = (x: Float32Array, xShape: Int32Array, out: Float32Array, outShape: Int32Array) => void;
type ScalarFn = (op: number, x: Float32Array, s: number, t: number, out: Float32Array) => void;
type ScalarBackwardFn = (op: number, x: Float32Array, s: number, t: number, gy: Float32Array, gx: Float32Array) => void;
type SqDiffSumFn = (pred: Float32Array, target: Float32Array) => number;
type SqDiffFn = (pred: Float32Array, target: Float32Array, out: Float32Array) => void;
type SqDiffBackwardFn = (pred: Float32Array, target: Float32Array, gy: Float32Array, scale: number, g: Float32Array) => void;

export const nativeBinary: BinaryKernels = {
  binary(op, a, aShape, b, bShape, out, outShape) {
    const args = [f32(op, 'a', a), f32(op, 'b', b), f32(op, 'out', out)] as const;
    nativeCall(() => fn<BinaryFn>('binary')(binaryCode(op), args[0], dims(aShape), args[1], dims(bShape), args[2], dims(outShape)));
  },
  where(mask, maskShape, a, aShape, b, bShape, out, outShape) {
    const args = [f32('where', 'mask', mask), f32('where', 'a', a), f32('where', 'b', b), f32('where', 'out', out)] as const;
    nativeCall(() =>
      fn<WhereFn>('where')(args[0], dims(maskShape), args[1], dims(aShape), args[2], dims(bShape), args[3], dims(outShape)),
    );
  },
  reduceSum(x, xShape, out, outShape) {
    const args = [f32('reduceSum', 'x', x), f32('reduceSum', 'out', out)] as const;
    nativeCall(() => fn<UnaryShapeFn>('reduceSum')(args[0], dims(xShape), args[1], dims(outShape)));
  },
  broadcastTo(x, xShape, out, outShape) {
    const args = [f32('broadcastTo', 'x', x), f32('broadcastTo', 'out', out)] as const;
    nativeCall(() => fn<UnaryShapeFn>('broadcastTo')(args[0], dims(xShape), args[1], dims(outShape)));
  },
  scalar(op, x, s, t, out) {
    const args = [f32(`${op}Scalar`, 'x', x), f32(`${op}Scalar`, 'out', out)] as const;
    nativeCall(() => fn<ScalarFn>('scalar')(scalarCode(op), args[0], s, t, args[1]));
  },
  scalarBackward(op, x, s, t, gy, gx) {
    const name = `${op}Scalar`;
    const args = [f32(name, 'x', x), f32(name, 'gy', gy), f32(name, 'gx', gx)] as const;
    nativeCall(() => fn<ScalarBackwardFn>('scalarBackward')(scalarCode(op), args[0], s, t, args[1], args[2]));
  },
  sqDiffSum(pred, target, divisor, out) {
    const args = [f32('mseLoss', 'pred', pred), f32('mseLoss', 'target', target)] as const;
    out[0] = nativeCall(() => fn<SqDiffSumFn>('sqDiffSum')(...args)) / divisor;
  },
  sqDiff(pred, target, out) {
    const args = [f32('mseLoss', 'pred', pred), f32('mseLoss', 'target', target), f32('mseLoss', 'out', out)] as const;
    nativeCall(() => fn<SqDiffFn>('sqDiff')(...args));
  },
  sqDiffBackward(pred, target, gy, scale, g) {
    const args = [f32('mseLoss', 'pred', pred), f32('mseLoss', 'target', target), f32('mseLoss', 'gy', gy)] as const;
    const out = f32('mseLoss', 'g', g);
    nativeCall(() => fn<SqDiffBackwardFn>('sqDiffBackward')(...args, scale, out));
  },
};
