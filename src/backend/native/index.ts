/**
 * The native backend: every family's native kernels in one object. The addon runs float32 only;
 * a call with any float64 buffer runs the reference kernel instead, so float64 tensors (gradient
 * checks, float64 scheduler arithmetic) work on the CPU whichever backend is current.
 */
import type { Backend } from '../backend.js';
import { referenceBackend } from '../reference/index.js';
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
import { nativeLinearCombination } from './linear_combination.js';
import { referencePerSample } from '../reference/per_sample.js';

const float32Kernels: Backend = {
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
  ...nativeLinearCombination,
  // No addon kernel: memory-bound JavaScript loops, the same on both backends.
  ...referencePerSample,
};

/** float32 calls go to the addon, calls with a float64 buffer to the reference kernels. */
function routeFloat64(native: Backend, reference: Backend): Backend {
  const routed: Record<string, unknown> = { name: native.name };
  for (const [key, f] of Object.entries(native)) {
    if (typeof f !== 'function') continue;
    const ref = (reference as unknown as Record<string, (...a: unknown[]) => unknown>)[key]!;
    routed[key] = (...args: unknown[]): unknown => (args.some((a) => a instanceof Float64Array) ? ref(...args) : (f as (...a: unknown[]) => unknown)(...args));
  }
  return routed as unknown as Backend;
}

export const nativeBackend: Backend = routeFloat64(float32Kernels, referenceBackend);
