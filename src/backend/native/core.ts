/** Native core kernels (fill and copy are memory moves: TypedArray's own fill and set). */
import type { CoreKernels } from '../kernels/core.js';
import { referenceCore } from '../reference/core.js';
import { f32, fn, nativeCall } from './loader.js';

type AxpyFn = (dst: Float32Array, src: Float32Array, alpha: number) => void;

export const nativeCore: CoreKernels = {
  axpy(dst, src, alpha) {
    const a = f32('axpy', 'dst', dst);
    const b = f32('axpy', 'src', src);
    nativeCall(() => fn<AxpyFn>('axpy')(a, b, alpha));
  },
  fill: referenceCore.fill,
  copy: referenceCore.copy,
  sumSquares: referenceCore.sumSquares,
};
