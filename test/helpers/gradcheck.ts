/**
 * Gradient check: central finite differences in float64 on the reference backend, through
 * L = sum(out * R) with a random R, against the gradients from backward().
 */
import { withBackend } from '../../src/backend/backend.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { tensor } from '../../src/tensor/create.js';
import { assertClose } from './closeness.js';
import { uniformValues } from './data.js';
import { hostBuffer } from '../../src/tensor/tensor.js';

export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  /** Tolerances on the comparison (float64 central differences are accurate to ~eps^2). */
  nmseTol?: number;
  absTol?: number;
  /** Indices of inputs not to check (e.g. integer indices). */
  skip?: number[];
  seed?: number;
}

function toF64(t: Tensor): Tensor {
  return tensor(Float64Array.from(hostBuffer(t)), t.shape, { dtype: 'float64' });
}

/** Checks d sum(fn(...inputs) * R) / d inputs; inputs are converted to float64. */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): void {
  const { eps = 1e-6, nmseTol = 1e-12, absTol = 1e-6, skip = [], seed = 1234 } = options;
  withBackend('reference', () => {
    const xs = inputs.map((t, i) => {
      const x = toF64(t);
      x.requiresGrad = !skip.includes(i);
      return x;
    });
    const out = fn(...xs);
    const R = tensor(uniformValues(out.size, seed), out.shape, { dtype: 'float64' });
    const loss = (): number =>
      noGrad(() => {
        const y = fn(...xs);
        let s = 0;
        for (let k = 0; k < y.size; k++) s += hostBuffer(y)[k]! * hostBuffer(R)[k]!;
        return s;
      });
    out.backward(R);
    xs.forEach((x, i) => {
      if (skip.includes(i)) return;
      const numeric = new Float64Array(x.size);
      for (let k = 0; k < x.size; k++) {
        const orig = hostBuffer(x)[k]!;
        hostBuffer(x)[k] = orig + eps;
        const lp = loss();
        hostBuffer(x)[k] = orig - eps;
        const lm = loss();
        hostBuffer(x)[k] = orig;
        numeric[k] = (lp - lm) / (2 * eps);
      }
      const analytic = x.grad !== null ? hostBuffer(x.grad) : new Float64Array(x.size);
      assertClose(analytic, numeric, { nmseTol, absTol, what: `gradient of input ${i}` });
    });
  });
}
