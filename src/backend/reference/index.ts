/** The reference backend: every family's plain-TypeScript kernels in one object. */
import type { Backend } from '../backend.js';
import { referenceCore } from './core.js';
import { referenceUnary } from './unary.js';
import { referenceConv2d } from './conv2d.js';
import { referenceMatmul } from './matmul.js';
import { referenceBinary } from './binary.js';
import { referenceLayout } from './layout.js';
import { referenceNorm } from './norm.js';
import { referenceAttention } from './attention.js';
import { referenceOptim } from './optim.js';
import { referenceRandom } from './random.js';
import { referenceLinearCombination } from './linear_combination.js';
import { referencePerSample } from './per_sample.js';

export const referenceBackend: Backend = {
  name: 'reference',
  ...referenceCore,
  ...referenceUnary,
  ...referenceConv2d,
  ...referenceMatmul,
  ...referenceBinary,
  ...referenceLayout,
  ...referenceNorm,
  ...referenceAttention,
  ...referenceOptim,
  ...referenceRandom,
  ...referenceLinearCombination,
  ...referencePerSample,
};
