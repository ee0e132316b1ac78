/** Runs one test spec on both backends: the reference backend is the oracle for the native one. */
import { withBackend, type BackendName } from '../../src/backend/backend.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { Tensor as T } from '../../src/tensor/tensor.js';
import { assertClose } from './closeness.js';

/** Evaluates `fn` on the native and reference backends and asserts the results agree. */
export function assertBackendsAgree(
  fn: () => Tensor | Tensor[],
  { nmseTol = 1e-10, absTol = 1e-5, what = 'output' }: { nmseTol?: number; absTol?: number; what?: string } = {},
): { native: Tensor[]; reference: Tensor[] } {
  const run = (name: BackendName): Tensor[] => {
    const r = withBackend(name, fn);
    return r instanceof T ? [r] : r;
  };
  const native = run('native');
  const reference = run('reference');
  native.forEach((t, i) => {
    const ref = reference[i]!;
    if (t.shape.join() !== ref.shape.join()) throw new Error(`${what}[${i}]: shape ${t.shape} vs reference ${ref.shape}`);
    assertClose(t.toArray('float64'), ref.toArray('float64'), { nmseTol, absTol, what: `${what}[${i}] native vs reference` });
  });
  return { native, reference };
}
