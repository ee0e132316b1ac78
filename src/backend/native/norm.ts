/** Native norm kernels (placeholder: filled in with the family). */
import type { NormKernels } from '../kernels/norm.js';

export const nativeNorm: NormKernels = {};
