/** Reference binary kernels in plain TypeScript (placeholder: filled in with the family). */
import type { BinaryKernels } from '../kernels/binary.js';

export const referenceBinary: BinaryKernels = {};
