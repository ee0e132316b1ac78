/** Reference core kernels. */
import type { CoreKernels } from '../kernels/core.js';

export const referenceCore: CoreKernels = {
  axpy(dst, src, alpha) {
    for (let i = 0; i < dst.length; i++) dst[i]! += alpha * src[i]!;
  },
  fill(dst, value) {
    dst.fill(value);
  },
  copy(dst, src) {
    if (dst.length !== src.length) throw new RangeError(`copy: dst has ${dst.length} elements but src has ${src.length}; they must be equal`);
    dst.set(src);
  },
  sumSquares(x, out) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
    out[0] = s;
  },
};
