/** Native fused attention kernels (native/kernels/attention.cc). */
import type { AttentionKernels } from '../kernels/attention.js';
import { f32, fn, nativeCall } from './loader.js';

type F = Float32Array;
type ForwardFn = (q: F, k: F, v: F, o: F, p: F, b: number, lq: number, lk: number, heads: number, dh: number, scale: number) => void;
type BackwardFn = (
  q: F, k: F, v: F, p: F, go: F, gq: F, gk: F, gv: F, b: number, lq: number, lk: number, heads: number, dh: number, scale: number,
) => void;

const OP = 'multiHeadAttention';

export const nativeAttention: AttentionKernels = {
  attentionForward(q, k, v, { b, lq, lk, heads, dh }, scale, o, p) {
    const args = [f32(OP, 'q', q), f32(OP, 'k', k), f32(OP, 'v', v), f32(OP, 'o', o), f32(OP, 'p', p)] as const;
    nativeCall(() => fn<ForwardFn>('attentionForward')(...args, b, lq, lk, heads, dh, scale));
  },
  attentionBackward(q, k, v, p, go, { b, lq, lk, heads, dh }, scale, gq, gk, gv) {
    const args = [f32(OP, 'q', q), f32(OP, 'k', k), f32(OP, 'v', v), f32(OP, 'p', p), f32(OP, 'go', go), f32(OP, 'gq', gq), f32(OP, 'gk', gk), f32(OP, 'gv', gv)] as const;
    nativeCall(() => fn<BackwardFn>('attentionBackward')(...args, b, lq, lk, heads, dh, scale));
  },
};
