/** The native backend: every family's native kernels in one object. */
import type { Backend } from '../backend.js';
import { nativeCore } from './core.js';
import { nativeUnary } from './unary.js';
import { nativeConv2d } from './conv2d.js';
import { nativeMatmul } from './matmul.js';
import { nativeBinary } from './binary.js';
import { nativeLayout } from './layout.js';
import { nativeNorm } from './norm.js';
import { nativeAttention } from './attention.js';
import { nativeOptim } from './optim.js';
import { nativeRandom } from './random.js';

export const nativeBackend: Backend = {
  name: 'native',
  ...nativeCore,
  ...nativeUnary,
  ...nativeConv2d,
  ...nativeMatmul,
  ...nativeBinary,
  ...nativeLayout,
  ...nativeNorm,
  ...nativeAttention,
  ...nativeOptim,
  ...nativeRandom,
};
