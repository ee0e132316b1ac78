/**
 * Scaled dot-product attention (Vaswani et al., "Attention Is All You Need", 2017, eq. 1):
 *   attention(Q, K, V) = softmax(alpha * Q K^T) V,   alpha = 1 / sqrt(D) by default.
 * `scaledDotProductAttention` is composed from `matmul` and `softmax` (its gradient comes from
 * theirs; heads folded into the batch by the caller). `multiHeadAttention` is the fused op the
 * U-Net uses: heads stay interleaved in the channels as the projections produce them, one kernel
 * per direction, and its gradient is right below it:
 *   dV = P^T dO,  dS = P * (dO V^T - rowsum(P * dO V^T)),  dQ = alpha dS K,  dK = alpha dS^T Q.
 */
import { Tensor } from '../tensor/tensor.js';
import { emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectRank, expectTensor, sameDType, sameDevice } from '../tensor/check.js';
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

export interface MultiHeadAttentionOptions {
  /** Number of heads; the channels of q, k and v split into `heads` groups of Dh = C / heads. */
  heads: number;
  /** Multiplies the scores before the softmax; default 1 / sqrt(Dh). */
  scale?: number;
}

/**
 * Multi-head attention on interleaved heads: q (B, Lq, C), k and v (B, Lk, C), head h owning
 * channels [h*Dh, (h+1)*Dh), Dh = C / heads; returns (B, Lq, C), each head's
 * softmax(scale q_h k_h^T) v_h in its channels. Differentiable in q, k and v. Equal to splitting
 * the heads into the batch and calling scaledDotProductAttention, without the four permutes.
 * @example const o = multiHeadAttention(q, k, v, { heads: 8 }); // (N, 49, 64) each -> (N, 49, 64)
 */
export function multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, options: MultiHeadAttentionOptions): Tensor {
  const op = 'multiHeadAttention';
  expectTensor(op, 'q', q);
  expectTensor(op, 'k', k);
  expectTensor(op, 'v', v);
  expectRank(op, 'q', q, 3, '(B, Lq, C)');
  expectRank(op, 'k', k, 3, '(B, Lk, C)');
  expectRank(op, 'v', v, 3, '(B, Lk, C)');
  const [b, lq, c] = q.shape as [number, number, number];
  const lk = k.shape[1]!;
  for (const [name, t] of [['k', k], ['v', v]] as const) {
    if (t.shape[0] !== b || t.shape[1] !== lk || t.shape[2] !== c) {
      throw new ShapeError(`${op}: input '${name}' has shape ${fmtShape(t.shape)}, expected [${b}, ${lk}, ${c}] (batch and channels of q ${fmtShape(q.shape)}, keys of k)`);
    }
  }
  const heads = options?.heads;
  if (typeof heads !== 'number' || !Number.isInteger(heads) || heads < 1 || c % heads !== 0) {
    throw new ArgumentError(`${op}: option 'heads' must be a positive integer dividing the channels C=${c}, found ${String(heads)}`);
  }
  const dh = c / heads;
  const scale = options.scale ?? 1 / Math.sqrt(dh);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new ArgumentError(`${op}: option 'scale' must be a finite number, found ${String(scale)}`);
  const dtype = sameDType(op, { q, k, v });
  const dev = sameDevice(op, { q, k, v });
  const dims = { b, lq, lk, heads, dh };
  const o = emptyUninit([b, lq, c], dtype, dev); // (B, Lq, C)
  const p = emptyUninit([b, heads, lq, lk], dtype, dev); // (B, heads, Lq, Lk), saved for backward
  if (o.size > 0) dev.kernels.attentionForward(q.storage, k.storage, v.storage, dims, scale, o.storage, p.storage);
  return recordOp(op, o, [q, k, v], (go) => {
    const gq = emptyUninit(q.shape, dtype, dev);
    const gk = emptyUninit(k.shape, dtype, dev);
    const gv = emptyUninit(v.shape, dtype, dev);
    if (o.size > 0) dev.kernels.attentionBackward(q.storage, k.storage, v.storage, p.storage, go.storage, dims, scale, gq.storage, gk.storage, gv.storage);
    else {
      // No queries: nothing flows to the keys and values.
      dev.kernels.fill(gk.storage, 0);
      dev.kernels.fill(gv.storage, 0);
    }
    return [gq, gk, gv];
  });
}
