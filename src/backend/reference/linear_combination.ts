/** Reference linear-combination kernel: the definition, one element at a time, in double. */
import type { LinearCombinationKernels } from '../kernels/linear_combination.js';

export const referenceLinearCombination: LinearCombinationKernels = {
  linearCombination(coefs, groups, xs, out) {
    const per = groups === 0 ? 0 : out.length / groups;
    for (let i = 0; i < out.length; i++) {
      const n = Math.floor(i / per);
      let s = 0;
      let first = true;
      for (let k = 0; k < xs.length; k++) {
        const c = coefs[k * groups + n]!;
        if (c === 0) continue;
        const v = c * xs[k]![i]!;
        s = first ? v : s + v;
        first = false;
      }
      out[i] = s;
    }
  },
};
