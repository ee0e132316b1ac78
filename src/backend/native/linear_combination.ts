/**
 * The CPU linear-combination kernel of the native backend, in TypeScript (the addon has no such
 * kernel; a fused pass in JavaScript is memory-bound like the C++ elementwise kernels). Term-major
 * over a double accumulator, which gives the reference kernel's bits: each element sees the same
 * sums in the same order, rounded once.
 */
import type { LinearCombinationKernels } from '../kernels/linear_combination.js';

/** Elements per block: the double accumulator stays in L1/L2 while every term streams through. */
const BLOCK = 4096;

export const nativeLinearCombination: LinearCombinationKernels = {
  linearCombination(coefs, xs, out) {
    const n = out.length;
    const acc = new Float64Array(Math.min(n, BLOCK));
    for (let start = 0; start < n; start += BLOCK) {
      const len = Math.min(BLOCK, n - start);
      // The first term initialises the accumulator (so a lone -0 stays -0, as in the reference).
      const c0 = coefs[0] ?? 0;
      const x0 = xs[0];
      if (x0 === undefined) acc.fill(0, 0, len);
      else for (let i = 0; i < len; i++) acc[i] = c0 * x0[start + i]!;
      for (let k = 1; k < coefs.length; k++) {
        const c = coefs[k]!;
        const x = xs[k]!;
        for (let i = 0; i < len; i++) acc[i] = acc[i]! + c * x[start + i]!;
      }
      for (let i = 0; i < len; i++) out[start + i] = acc[i]!;
    }
  },
};
