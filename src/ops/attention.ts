/**
 * Scaled dot-product attention (Vaswani et al., "Attention Is All You Need", 2017, eq. 1):
 *   attention(Q, K, V) = softmax(alpha * Q K^T) V,   alpha = 1 / sqrt(D) by default,
 * composed from `matmul` and `softmax`, so its gradient comes from theirs. Multi-head attention
 * is the caller's business: fold the heads into the batch, (B, L, heads * Dh) ->
 * (B * heads, L, Dh), call this, and unfold the result.
 */
import { Tensor } from '../tensor/tensor.js';
import { expectRank, expectTensor, sameDType } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import { matmul } from './matmul.js';
import { softmax } from './softmax.js';

export interface AttentionOptions {
  /** Multiplies the scores Q K^T before the softmax; default 1 / sqrt(D). */
  scale?: number;
}

/**
 * softmax(scale * q k^T) v for q (B, Lq, D), k (B, Lk, D), v (B, Lk, Dv); returns (B, Lq, Dv).
 * Heads are handled by the caller reshaping them into the batch (B * heads). Differentiable in
 * q, k and v.
 * @example const out = scaledDotProductAttention(q, k, v); // (B*heads, 49, 32) each -> (B*heads, 49, 32)
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const op = 'scaledDotProductAttention';
  expectTensor(op, 'q', q);
  expectTensor(op, 'k', k);
  expectTensor(op, 'v', v);
  expectRank(op, 'q', q, 3, '(B, Lq, D)');
  expectRank(op, 'k', k, 3, '(B, Lk, D)');
  expectRank(op, 'v', v, 3, '(B, Lk, Dv)');
  const [b, , d] = q.shape as [number, number, number];
  const [bk, lk, dk] = k.shape as [number, number, number];
  const [bv, lv] = v.shape as [number, number, number];
  if (bk !== b || dk !== d) {
    throw new ShapeError(`${op}: input 'k' has shape ${fmtShape(k.shape)}, expected [${b}, Lk, ${d}] (batch and feature size of q ${fmtShape(q.shape)})`);
  }
  if (bv !== b || lv !== lk) {
    throw new ShapeError(`${op}: input 'v' has shape ${fmtShape(v.shape)}, expected [${b}, ${lk}, Dv] (batch of q and the key count of k ${fmtShape(k.shape)})`);
  }
  sameDType(op, { q, k, v });
  const scale = options.scale ?? (d > 0 ? 1 / Math.sqrt(d) : 1);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new ArgumentError(`${op}: option 'scale' must be a finite number, found ${String(scale)}`);
  }
  const scores = matmul(q, k, { transB: true, alpha: scale }); // (B, Lq, Lk)
  const weights = softmax(scores); // each query's distribution over the keys
  return matmul(weights, v); // (B, Lq, Dv)
}
