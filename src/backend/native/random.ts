/** Native random kernels (placeholder: filled in with the family). */
import type { RandomKernels } from '../kernels/random.js';

export const nativeRandom: RandomKernels = {};
