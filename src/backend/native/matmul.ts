/** Native matmul kernels (placeholder: filled in with the family). */
import type { MatmulKernels } from '../kernels/matmul.js';

export const nativeMatmul: MatmulKernels = {};
