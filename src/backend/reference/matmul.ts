/** Reference matmul kernels in plain TypeScript (placeholder: filled in with the family). */
import type { MatmulKernels } from '../kernels/matmul.js';

export const referenceMatmul: MatmulKernels = {};
