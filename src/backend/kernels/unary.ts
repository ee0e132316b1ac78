/** Kernel contract of elementwise unary functions y = f(x) and their derivatives. */
import type { HostArray } from '../../tensor/tensor.js';

/** The unary functions; the order is the op code shared with native/kernels/unary.cc. */
export const UNARY_OPS = ['silu', 'exp', 'log', 'sqrt', 'square', 'sin', 'cos', 'tanh', 'sigmoid', 'neg', 'abs'] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

export interface UnaryKernels<B = HostArray> {
  /** out[i] = f(x[i]). */
  unary(op: UnaryOp, x: B, out: B): void;
  /** gx[i] = gy[i] * f'(x[i]); y = f(x) is passed so derivatives like exp's can reuse it. */
  unaryBackward(op: UnaryOp, x: B, y: B, gy: B, gx: B): void;
}
