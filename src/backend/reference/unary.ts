/** Reference unary kernels: the plain definitions, in the buffer's own precision. */
import type { UnaryKernels, UnaryOp } from '../kernels/unary.js';

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function f(op: UnaryOp, x: number): number {
  switch (op) {
    case 'silu': return x * sigmoid(x);
    case 'exp': return Math.exp(x);
    case 'log': return Math.log(x);
    case 'sqrt': return Math.sqrt(x);
    case 'square': return x * x;
    case 'sin': return Math.sin(x);
    case 'cos': return Math.cos(x);
    case 'tanh': return Math.tanh(x);
    case 'sigmoid': return sigmoid(x);
    case 'neg': return -x;
    case 'abs': return Math.abs(x);
  }
}

/** f'(x), given x and y = f(x). */
function df(op: UnaryOp, x: number, y: number): number {
  switch (op) {
    case 'silu': {
      const s = sigmoid(x);
      return s * (1 + x * (1 - s));
    }
    case 'exp': return y;
    case 'log': return 1 / x;
    case 'sqrt': return 0.5 / y;
    case 'square': return 2 * x;
    case 'sin': return Math.cos(x);
    case 'cos': return -Math.sin(x);
    case 'tanh': return 1 - y * y;
    case 'sigmoid': return y * (1 - y);
    case 'neg': return -1;
    case 'abs': return Number.isNaN(x) ? x : Math.sign(x);
  }
}

export const referenceUnary: UnaryKernels = {
  unary(op, x, out) {
    for (let i = 0; i < x.length; i++) out[i] = f(op, x[i]!);
  },
  unaryBackward(op, x, y, gy, gx) {
    for (let i = 0; i < x.length; i++) gx[i] = gy[i]! * df(op, x[i]!, y[i]!);
  },
};
