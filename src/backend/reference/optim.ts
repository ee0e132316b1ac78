/** Reference optim kernels in plain TypeScript (placeholder: filled in with the family). */
import type { OptimKernels } from '../kernels/optim.js';

export const referenceOptim: OptimKernels = {};
