/** Native layout kernels (placeholder: filled in with the family). */
import type { LayoutKernels } from '../kernels/layout.js';

export const nativeLayout: LayoutKernels = {};
