/** Native unary kernels (native/kernels/unary.cc). */
import { UNARY_OPS, type UnaryKernels, type UnaryOp } from '../kernels/unary.js';
import { f32, fn, nativeCall } from './loader.js';

const code = (op: UnaryOp): number => UNARY_OPS.indexOf(op);

type UnaryFn = (op: number, x: Float32Array, out: Float32Array) => void;
type UnaryBackwardFn = (op: number, x: Float32Array, y: Float32Array, gy: Float32Array, gx: Float32Array) => void;

export const nativeUnary: UnaryKernels = {
  unary(op, x, out) {
    const a = f32(op, 'x', x);
    const o = f32(op, 'out', out);
    nativeCall(() => fn<UnaryFn>('unary')(code(op), a, o));
  },
  unaryBackward(op, x, y, gy, gx) {
    const args = [f32(op, 'x', x), f32(op, 'y', y), f32(op, 'gy', gy), f32(op, 'gx', gx)] as const;
    nativeCall(() => fn<UnaryBackwardFn>('unaryBackward')(code(op), ...args));
  },
};
