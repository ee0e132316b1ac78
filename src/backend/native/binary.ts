/** Native binary kernels (placeholder: filled in with the family). */
import type { BinaryKernels } from '../kernels/binary.js';

export const nativeBinary: BinaryKernels = {};
