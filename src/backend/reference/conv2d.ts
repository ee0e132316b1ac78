/** Reference conv2d kernels in plain TypeScript (placeholder: filled in with the family). */
import type { Conv2dKernels } from '../kernels/conv2d.js';

export const referenceConv2d: Conv2dKernels = {};
