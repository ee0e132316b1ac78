/** Native conv2d kernels (placeholder: filled in with the family). */
import type { Conv2dKernels } from '../kernels/conv2d.js';

export const nativeConv2d: Conv2dKernels = {};
