/** Reference layout kernels in plain TypeScript (placeholder: filled in with the family). */
import type { LayoutKernels } from '../kernels/layout.js';

export const referenceLayout: LayoutKernels = {};
