/** Native layout kernels (native/kernels/layout.cc). */
import type { LayoutKernels } from '../kernels/layout.js';
import type { Storage } from '../../tensor/tensor.js';
import { f32, fn, nativeCall } from './loader.js';

type PermuteFn = (x: Float32Array, shape: Int32Array, axes: Int32Array, out: Float32Array) => void;
type ConcatFn = (xs: (Float32Array | null)[], outer: number, inners: Int32Array, out: Float32Array) => void;
type SplitFn = (x: Float32Array, outer: number, inners: Int32Array, outs: (Float32Array | null)[]) => void;
type UpsampleFn = (x: Float32Array, n: number, h: number, w: number, c: number, out: Float32Array) => void;
type EmbeddingFn = (weight: Float32Array, v: number, d: number, indices: Int32Array, out: Float32Array) => void;
type EmbeddingBackwardFn = (gy: Float32Array, indices: Int32Array, v: number, d: number, gw: Float32Array) => void;

const slabs = (op: string, name: string, xs: readonly (Storage | null)[]): (Float32Array | null)[] =>
  xs.map((x, k) => (x === null ? null : f32(op, `${name}[${k}]`, x)));

export const nativeLayout: LayoutKernels = {
  permute(x, shape, axes, out) {
    const args = [f32('permute', 'x', x), Int32Array.from(shape), Int32Array.from(axes), f32('permute', 'out', out)] as const;
    nativeCall(() => fn<PermuteFn>('permute')(...args));
  },
  concat(xs, outer, inners, out) {
    const args = [slabs('concat', 'xs', xs), outer, Int32Array.from(inners), f32('concat', 'out', out)] as const;
    nativeCall(() => fn<ConcatFn>('concat')(...args));
  },
  split(x, outer, inners, outs) {
    const args = [f32('split', 'x', x), outer, Int32Array.from(inners), slabs('split', 'outs', outs)] as const;
    nativeCall(() => fn<SplitFn>('split')(...args));
  },
  upsampleNearest2x(x, n, h, w, c, out) {
    const op = 'upsampleNearest2x';
    const args = [f32(op, 'x', x), n, h, w, c, f32(op, 'out', out)] as const;
    nativeCall(() => fn<UpsampleFn>(op)(...args));
  },
  upsampleNearest2xBackward(gy, n, h, w, c, gx) {
    const op = 'upsampleNearest2xBackward';
    const args = [f32(op, 'gy', gy), n, h, w, c, f32(op, 'gx', gx)] as const;
    nativeCall(() => fn<UpsampleFn>(op)(...args));
  },
  embedding(weight, v, d, indices, out) {
    const args = [f32('embedding', 'weight', weight), v, d, indices, f32('embedding', 'out', out)] as const;
    nativeCall(() => fn<EmbeddingFn>('embedding')(...args));
  },
  embeddingBackward(gy, indices, v, d, gw) {
    const op = 'embeddingBackward';
    const args = [f32(op, 'gy', gy), indices, v, d, f32(op, 'gw', gw)] as const;
    nativeCall(() => fn<EmbeddingBackwardFn>(op)(...args));
  },
};
