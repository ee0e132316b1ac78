/** Native optim kernels (placeholder: filled in with the family). */
import type { OptimKernels } from '../kernels/optim.js';

export const nativeOptim: OptimKernels = {};
