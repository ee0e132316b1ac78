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
    const rows = out.length;
    const per = rows === 0 ? 0 : x.length / rows;
    for (let n = 0; n < rows; n++) {
      let s = 0;
      for (let i = n * per; i < (n + 1) * per; i++) s += x[i]! * x[i]!;
      out[n] = s;
    }
  },
};
