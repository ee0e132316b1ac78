/**
 * A kernel profiler: runs a function with every backend kernel wrapped in a timer, and returns
 * the time, call count and multiply-adds (convolutions and matrix products) per kernel and phase.
 * The phase is a label the caller sets (forward, backward, optimizer, ...); what the kernels do
 * not account for is the framework's own time (JavaScript, allocation, the autograd graph).
 * Used by `npm run bench -- --profile`; costs one performance.now() pair per kernel call.
 */
import { backend, setBackend, type Backend } from './backend.js';
import type { Conv2dGeometry } from './kernels/conv2d.js';
import type { MatmulParams } from './kernels/matmul.js';

/** What one kernel cost in one phase. */
export interface KernelStat {
  phase: string;
  kernel: string;
  calls: number;
  ms: number;
  /** Multiply-adds computed (convolutions and matrix products; 0 for the rest). */
  macs: number;
}

let phase = 'main';

/** Labels the kernels called from now on (until the next setPhase). */
export function setPhase(name: string): void {
  phase = name;
}

/** Multiply-adds of a kernel call, from its geometry (0 for kernels that are not products). */
function macsOf(kernel: string, args: readonly unknown[]): number {
  if (kernel.startsWith('conv2d')) {
    const g = args[0] as Conv2dGeometry;
    return g.n * g.oh * g.ow * g.cout * g.cin * g.kh * g.kw;
  }
  if (kernel === 'matmul') {
    const p = args[0] as MatmulParams;
    return p.batch * p.m * p.n * p.k;
  }
  return 0;
}

/**
 * Runs `fn` with every kernel of the current backend timed; returns its result and the stats,
 * most expensive first.
 * @example const { stats } = profileKernels(() => model.forward(x, t)); console.table(stats);
 */
export function profileKernels<T>(fn: () => T): { result: T; stats: KernelStat[] } {
  const inner = backend();
  const table = new Map<string, KernelStat>();
  const wrapped: Record<string, unknown> = { name: inner.name };
  for (const [kernel, impl] of Object.entries(inner)) {
    if (typeof impl !== 'function') continue;
    const f = impl as (...a: unknown[]) => unknown;
    wrapped[kernel] = (...args: unknown[]): unknown => {
      const t0 = performance.now();
      const r = f.apply(inner, args);
      const dt = performance.now() - t0;
      const key = `${phase}\u0000${kernel}`;
      let s = table.get(key);
      if (s === undefined) table.set(key, (s = { phase, kernel, calls: 0, ms: 0, macs: 0 }));
      s.calls++;
      s.ms += dt;
      s.macs += macsOf(kernel, args);
      return r;
    };
  }
  const prev = setBackend(wrapped as unknown as Backend);
  try {
    const result = fn();
    return { result, stats: [...table.values()].sort((a, b) => b.ms - a.ms) };
  } finally {
    setBackend(prev);
  }
}
