/**
 * The CPU linear-combination kernel of the native backend, in TypeScript (the addon has no such
 * kernel; a fused pass in JavaScript is memory-bound like the C++ elementwise kernels). Up to four
 * terms run as one straight loop, more over a double accumulator block by block; both sum the
 * same products left to right and round once, so the bits equal the reference kernel's.
 */
import type { Storage } from '../../tensor/tensor.js';
import type { LinearCombinationKernels } from '../kernels/linear_combination.js';

/** Elements per block of the accumulator path: it stays in cache while every term streams through. */
const BLOCK = 4096;

/** out[start:end] = sum_k cs[k] xs[k][i] (all cs nonzero), left to right in double. */
function combineRange(cs: readonly number[], xs: readonly Storage[], out: Storage, start: number, end: number): void {
  switch (cs.length) {
    case 0:
      out.fill(0, start, end);
      return;
    case 1: {
      const [a, x] = [cs[0]!, xs[0]!];
      for (let i = start; i < end; i++) out[i] = a * x[i]!;
      return;
    }
    case 2: {
      const [a, b, x, y] = [cs[0]!, cs[1]!, xs[0]!, xs[1]!];
      for (let i = start; i < end; i++) out[i] = a * x[i]! + b * y[i]!;
      return;
    }
    case 3: {
      const [a, b, c, x, y, z] = [cs[0]!, cs[1]!, cs[2]!, xs[0]!, xs[1]!, xs[2]!];
      for (let i = start; i < end; i++) out[i] = a * x[i]! + b * y[i]! + c * z[i]!;
      return;
    }
    case 4: {
      const [a, b, c, d, x, y, z, w] = [cs[0]!, cs[1]!, cs[2]!, cs[3]!, xs[0]!, xs[1]!, xs[2]!, xs[3]!];
      for (let i = start; i < end; i++) out[i] = a * x[i]! + b * y[i]! + c * z[i]! + d * w[i]!;
      return;
    }
  }
  const acc = new Float64Array(Math.min(end - start, BLOCK));
  for (let b = start; b < end; b += BLOCK) {
    const len = Math.min(BLOCK, end - b);
    const [c0, x0] = [cs[0]!, xs[0]!];
    for (let i = 0; i < len; i++) acc[i] = c0 * x0[b + i]!;
    for (let k = 1; k < cs.length; k++) {
      const [c, x] = [cs[k]!, xs[k]!];
      for (let i = 0; i < len; i++) acc[i] = acc[i]! + c * x[b + i]!;
    }
    for (let i = 0; i < len; i++) out[b + i] = acc[i]!;
  }
}

export const nativeLinearCombination: LinearCombinationKernels = {
  linearCombination(coefs, groups, xs, out) {
    const per = groups === 0 ? 0 : out.length / groups;
    for (let n = 0; n < groups; n++) {
      // The terms of this group with a nonzero coefficient (a zero one drops its term).
      const cs: number[] = [];
      const live: Storage[] = [];
      xs.forEach((x, k) => {
        const c = coefs[k * groups + n]!;
        if (c !== 0) {
          cs.push(c);
          live.push(x);
        }
      });
      combineRange(cs, live, out, n * per, (n + 1) * per);
    }
  },
};
