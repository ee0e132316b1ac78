/**
 * Kernel contract of the batched matrix product
 *   c[i] = alpha * op(a[i]) op(b[i]) (+ bias over the last axis),   op(X) = X or X^T,
 * with a[i] of op-shape (M, K), b[i] of op-shape (K, N) and c[i] of shape (M, N), row-major.
 */
import type { HostArray } from '../../tensor/tensor.js';

export interface MatmulParams {
  /** Number of products (c has batch * M * N elements). */
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** a is stored (K, M) per batch entry instead of (M, K). */
  readonly transA: boolean;
  /** b is stored (N, K) per batch entry instead of (K, N). */
  readonly transB: boolean;
  /** a holds one matrix used for every batch entry. */
  readonly broadcastA: boolean;
  /** b holds one matrix used for every batch entry (a shared weight). */
  readonly broadcastB: boolean;
  /** Scale of the product (1 for a plain product); must be 1 when a bias is given. */
  readonly alpha: number;
}

export interface MatmulKernels<B = HostArray> {
  /** c = alpha * op(a) op(b) + bias (bias (N) optional, only with alpha = 1); c is overwritten. */
  matmul(p: MatmulParams, a: B, b: B, bias: B | null, c: B): void;
}
