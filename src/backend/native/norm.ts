/** Native normalisation kernels (native/kernels/norm.cc): group norm (+ SiLU), layer norm, softmax. */
import type { NormKernels } from '../kernels/norm.js';
import type { Storage } from '../../tensor/tensor.js';
import { f32, fn, nativeCall } from './loader.js';

type F = Float32Array;
type GroupNormForwardFn = (
  x: F, gamma: F, beta: F, y: F, mean: F, rstd: F, n: number, s: number, c: number, groups: number, eps: number, silu: boolean,
) => void;
type GroupNormBackwardFn = (
  x: F, gamma: F, beta: F, mean: F, rstd: F, gy: F, gx: F, gGamma: F, gBeta: F,
  n: number, s: number, c: number, groups: number, silu: boolean,
) => void;
type LayerNormForwardFn = (x: F, gamma: F, beta: F, y: F, mean: F, rstd: F, rows: number, d: number, eps: number) => void;
type LayerNormBackwardFn = (
  x: F, gamma: F, mean: F, rstd: F, gy: F, gx: F, gGamma: F, gBeta: F, rows: number, d: number,
) => void;
type SoftmaxForwardFn = (x: F, y: F, rows: number, d: number) => void;
type SoftmaxBackwardFn = (y: F, gy: F, gx: F, rows: number, d: number) => void;

// The addon reads an empty Float32Array as "absent" (no gamma / beta, gradient not wanted).
const NONE = new Float32Array(0);
const opt = (op: string, name: string, a: Storage | null): F => (a === null ? NONE : f32(op, name, a));

export const nativeNorm: NormKernels = {
  groupNormForward(x, gamma, beta, { n, s, c, groups }, eps, silu, y, mean, rstd) {
    const op = silu ? 'groupNormSilu' : 'groupNorm';
    const args = [f32(op, 'x', x), f32(op, 'gamma', gamma), f32(op, 'beta', beta), f32(op, 'y', y),
      f32(op, 'mean', mean), f32(op, 'rstd', rstd)] as const;
    nativeCall(() => fn<GroupNormForwardFn>('groupNormForward')(...args, n, s, c, groups, eps, silu));
  },
  groupNormBackward(x, gamma, beta, mean, rstd, gy, { n, s, c, groups }, silu, gx, gGamma, gBeta) {
    const op = silu ? 'groupNormSilu' : 'groupNorm';
    const args = [f32(op, 'x', x), f32(op, 'gamma', gamma), f32(op, 'beta', beta), f32(op, 'mean', mean),
      f32(op, 'rstd', rstd), f32(op, 'gy', gy), f32(op, 'gx', gx), f32(op, 'gGamma', gGamma),
      f32(op, 'gBeta', gBeta)] as const;
    nativeCall(() => fn<GroupNormBackwardFn>('groupNormBackward')(...args, n, s, c, groups, silu));
  },
  layerNormForward(x, gamma, beta, rows, d, eps, y, mean, rstd) {
    const op = 'layerNorm';
    const args = [f32(op, 'x', x), opt(op, 'gamma', gamma), opt(op, 'beta', beta), f32(op, 'y', y),
      f32(op, 'mean', mean), f32(op, 'rstd', rstd)] as const;
    nativeCall(() => fn<LayerNormForwardFn>('layerNormForward')(...args, rows, d, eps));
  },
  layerNormBackward(x, gamma, mean, rstd, gy, rows, d, gx, gGamma, gBeta) {
    const op = 'layerNorm';
    const args = [f32(op, 'x', x), opt(op, 'gamma', gamma), f32(op, 'mean', mean), f32(op, 'rstd', rstd),
      f32(op, 'gy', gy), f32(op, 'gx', gx), opt(op, 'gGamma', gGamma), opt(op, 'gBeta', gBeta)] as const;
    nativeCall(() => fn<LayerNormBackwardFn>('layerNormBackward')(...args, rows, d));
  },
  softmaxForward(x, rows, d, y) {
    const args = [f32('softmax', 'x', x), f32('softmax', 'y', y)] as const;
    nativeCall(() => fn<SoftmaxForwardFn>('softmaxForward')(...args, rows, d));
  },
  softmaxBackward(y, gy, rows, d, gx) {
    const args = [f32('softmax', 'y', y), f32('softmax', 'gy', gy), f32('softmax', 'gx', gx)] as const;
    nativeCall(() => fn<SoftmaxBackwardFn>('softmaxBackward')(...args, rows, d));
  },
};
