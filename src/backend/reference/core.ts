/** Reference core kernels. */
import type { CoreKernels } from '../kernels/core.js';

export const referenceCore: CoreKernels = {
  axpy(dst, src, alpha) {
    for (let i = 0; i < dst.length; i++) dst[i]! += alpha * src[i]!;
  },
};
