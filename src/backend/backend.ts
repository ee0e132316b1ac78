/**
 * The CPU kernel backend: one interface, two implementations. `native` runs the C++ addon
 * (oneDNN + our OpenMP kernels, float32 only); `reference` is plain TypeScript (float32 and
 * float64), used by tests as the oracle and for float64 gradient checks. The choice is the CPU
 * device's kernel choice (backend/cpu.ts): ops reach these kernels through `tensor.device.kernels`.
 */
import type { CoreKernels } from './kernels/core.js';
import type { UnaryKernels } from './kernels/unary.js';
import type { Conv2dKernels } from './kernels/conv2d.js';
import type { MatmulKernels } from './kernels/matmul.js';
import type { BinaryKernels } from './kernels/binary.js';
import type { LayoutKernels } from './kernels/layout.js';
import type { NormKernels } from './kernels/norm.js';
import type { OptimKernels } from './kernels/optim.js';
import type { RandomKernels } from './kernels/random.js';
import type { AttentionKernels } from './kernels/attention.js';
import type { LinearCombinationKernels } from './kernels/linear_combination.js';
import type { PerSampleKernels } from './kernels/per_sample.js';
import { nativeBackend } from './native/index.js';
import { referenceBackend } from './reference/index.js';

import type { HostArray } from '../tensor/tensor.js';

export type BackendName = 'native' | 'reference';

/**
 * Every kernel family over buffers of type `B`: what a device implements (`B` is its buffer
 * type: HostArray on the CPU, a GPU buffer handle on a GPU device).
 */
export interface Kernels<B = HostArray>
  extends CoreKernels<B>,
    UnaryKernels<B>,
    Conv2dKernels<B>,
    MatmulKernels<B>,
    BinaryKernels<B>,
    LayoutKernels<B>,
    NormKernels<B>,
    AttentionKernels<B>,
    OptimKernels<B>,
    RandomKernels<B>,
    PerSampleKernels<B>,
    LinearCombinationKernels<B> {}

/** A CPU kernel set (native or reference) over host arrays. */
export interface Backend extends Kernels<HostArray> {
  readonly name: BackendName;
}

let current: Backend = nativeBackend;

/** The backend ops dispatch to (native unless changed). */
export function backend(): Backend {
  return current;
}

/** Switches every subsequent op to the named backend. */
export function useBackend(name: BackendName): void {
  current = name === 'native' ? nativeBackend : referenceBackend;
}

/** Installs a backend object (e.g. the profiler's timed wrapper); returns the previous one. */
export function setBackend(b: Backend): Backend {
  const prev = current;
  current = b;
  return prev;
}

/** Runs `fn` with the named backend, then restores the previous one. */
export function withBackend<T>(name: BackendName, fn: () => T): T {
  const prev = current;
  useBackend(name);
  try {
    return fn();
  } finally {
    current = prev;
  }
}
