/**
 * Kernel contract of the normalisation family: group norm (optionally fused with SiLU),
 * layer norm and softmax, forward and backward. Buffers are row-major; images are NHWC, so
 * a group norm input is viewed as (N, S, C) with S = H * W, and layer norm / softmax inputs
 * as (rows, D) over their last axis. Outputs are preallocated by the ops.
 *
 * Group norm (Wu & He 2018): for sample n and group g of C/G channels,
 *   xHat = (x - mean[n, g]) * rstd[n, g],  rstd = 1 / sqrt(var + eps)  (biased variance),
 *   z = xHat * gamma[c] + beta[c],  y = z (or silu(z) when fused).
 */
import type { HostArray } from '../../tensor/tensor.js';

/** Sizes of a group-norm call: x is (n, s, c) with `groups` groups of c / groups channels. */
export interface GroupNormDims {
  n: number;
  s: number;
  c: number;
  groups: number;
}

export interface NormKernels<B = HostArray> {
  /**
   * y = groupNorm(x) (silu(groupNorm(x)) if `silu`); writes the statistics mean and rstd,
   * each (n, groups), for the backward pass.
   */
  groupNormForward(
    x: B, gamma: B, beta: B, dims: GroupNormDims, eps: number, silu: boolean,
    y: B, mean: B, rstd: B,
  ): void;
  /**
   * Gradients of groupNormForward given gy = dL/dy and the saved mean, rstd: writes gx (n, s, c),
   * gGamma (c) and gBeta (c) (overwritten, not accumulated). With `silu` the pre-activation is
   * recomputed from x, mean and rstd.
   */
  groupNormBackward(
    x: B, gamma: B, beta: B, mean: B, rstd: B, gy: B,
    dims: GroupNormDims, silu: boolean, gx: B, gGamma: B, gBeta: B,
  ): void;
  /**
   * y = (x - mean) * rstd * gamma + beta over the last axis of x viewed as (rows, d); gamma and
   * beta (d) are optional (null: 1 and 0). Writes mean and rstd, each (rows).
   */
  layerNormForward(
    x: B, gamma: B | null, beta: B | null, rows: number, d: number, eps: number,
    y: B, mean: B, rstd: B,
  ): void;
  /** Gradients of layerNormForward: gx (rows, d); gGamma and gBeta (d) when not null (overwritten). */
  layerNormBackward(
    x: B, gamma: B | null, mean: B, rstd: B, gy: B, rows: number, d: number,
    gx: B, gGamma: B | null, gBeta: B | null,
  ): void;
  /** y = exp(x - max) / sum(exp(x - max)) over the last axis of x viewed as (rows, d). */
  softmaxForward(x: B, rows: number, d: number, y: B): void;
  /** gx = y * (gy - sum(gy * y)) per row, from the saved output y. */
  softmaxBackward(y: B, gy: B, rows: number, d: number, gx: B): void;
}
