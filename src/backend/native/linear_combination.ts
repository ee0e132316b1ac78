/**
 * The CPU linear-combination kernel of the native backend, in TypeScript (the addon has no such
 * kernel; a fused pass in JavaScript is memory-bound like the C++ elementwise kernels). Term-major
 * over a double accumulator, block by block, which gives the reference kernel's bits: each element
 * sees the same products summed in the same order, rounded once.
 */
import type { LinearCombinationKernels } from '../kernels/linear_combination.js';

/** Elements per block: the double accumulator stays in cache while every term streams through. */
const BLOCK = 4096;

export const nativeLinearCombination: LinearCombinationKernels = {
  linearCombination(coefs, groups, xs, out) {
    const per = groups === 0 ? 0 : out.length / groups;
    const acc = new Float64Array(Math.min(per, BLOCK));
    for (let n = 0; n < groups; n++) {
      const terms: number[] = [];
      for (let k = 0; k < xs.length; k++) if (coefs[k * groups + n]! !== 0) terms.push(k);
      for (let start = n * per; start < (n + 1) * per; start += BLOCK) {
        const len = Math.min(BLOCK, (n + 1) * per - start);
        if (terms.length === 0) {
          out.fill(0, start, start + len);
          continue;
        }
        // The first term initialises the accumulator (a lone -0 stays -0, as in the reference).
        const k0 = terms[0]!;
        const c0 = coefs[k0 * groups + n]!;
        const x0 = xs[k0]!;
        for (let i = 0; i < len; i++) acc[i] = c0 * x0[start + i]!;
        for (let j = 1; j < terms.length; j++) {
          const k = terms[j]!;
          const c = coefs[k * groups + n]!;
          const x = xs[k]!;
          for (let i = 0; i < len; i++) acc[i] = acc[i]! + c * x[start + i]!;
        }
        for (let i = 0; i < len; i++) out[start + i] = acc[i]!;
      }
    }
  },
};
