/** Native matmul kernel (native/kernels/matmul.cc, over oneDNN matmul). */
import type { MatmulKernels, MatmulParams } from '../kernels/matmul.js';
import { f32, fn, nativeCall } from './loader.js';

/** The integer parameters as the Int32Array the addon reads (order fixed by MatmulParams in matmul.cc). */
export function paramsArray(p: MatmulParams): Int32Array {
  return Int32Array.of(p.batch, p.m, p.n, p.k, +p.transA, +p.transB, +p.broadcastA, +p.broadcastB);
}

type MatmulFn = (p: Int32Array, a: Float32Array, b: Float32Array, bias: Float32Array | null, c: Float32Array, alpha: number) => void;

export const nativeMatmul: MatmulKernels = {
  matmul(p, a, b, bias, c) {
    const args = [paramsArray(p), f32('matmul', 'a', a), f32('matmul', 'b', b), bias === null ? null : f32('matmul', 'bias', bias), f32('matmul', 'out', c), p.alpha] as const;
    nativeCall(() => fn<MatmulFn>('matmul')(...args));
  },
};
