/** Reference random kernels in plain TypeScript (placeholder: filled in with the family). */
import type { RandomKernels } from '../kernels/random.js';

export const referenceRandom: RandomKernels = {};
