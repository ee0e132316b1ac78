/** Reference norm kernels in plain TypeScript (placeholder: filled in with the family). */
import type { NormKernels } from '../kernels/norm.js';

export const referenceNorm: NormKernels = {};
