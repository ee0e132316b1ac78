/**
 * Kernel contract of fused multi-head attention (Vaswani et al. 2017, eq. 1) on the layout the
 * q/k/v projections produce: q (b, lq, heads*dh), k and v (b, lk, heads*dh), head h owning
 * channels [h*dh, (h+1)*dh). Per batch entry and head:
 *   P = softmax_rows(scale * Q K^T) (lq, lk),  O = P V,
 * and, from the saved P, the gradients
 *   dV = P^T dO,  dS = P * (dO V^T - rowsum(P * dO V^T)),  dQ = scale dS K,  dK = scale dS^T Q.
 */
import type { HostArray } from '../../tensor/tensor.js';

/** Sizes of an attention call. */
export interface AttentionDims {
  b: number;
  lq: number;
  lk: number;
  heads: number;
  dh: number;
}

export interface AttentionKernels<B = HostArray> {
  /** o (b, lq, heads*dh) and the probabilities p (b, heads, lq, lk), both overwritten. */
  attentionForward(q: B, k: B, v: B, dims: AttentionDims, scale: number, o: B, p: B): void;
  /** gq, gk, gv (shapes of q, k, v; overwritten) given go = dL/do and the saved p. */
  attentionBackward(
    q: B, k: B, v: B, p: B, go: B, dims: AttentionDims, scale: number,
    gq: B, gk: B, gv: B,
  ): void;
}
