/** Reference linear-combination kernel: the definition, one element at a time, in double. */
import type { LinearCombinationKernels } from '../kernels/linear_combination.js';

export const referenceLinearCombination: LinearCombinationKernels = {
  linearCombination(coefs, xs, out) {
    if (coefs.length === 0) {
      out.fill(0);
      return;
    }
    for (let i = 0; i < out.length; i++) {
      let s = coefs[0]! * xs[0]![i]!;
      for (let k = 1; k < coefs.length; k++) s += coefs[k]! * xs[k]![i]!;
      out[i] = s;
    }
  },
};
