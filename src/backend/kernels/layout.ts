/**
 * Kernel contract of the layout family: data movement without arithmetic (permute, concat and
 * split of row-major slabs, nearest 2x upsampling, embedding gather / scatter-add).
 * Shapes arrive already validated by the ops; kernels re-check buffer sizes only.
 */
import type { HostArray } from '../../tensor/tensor.js';

export interface LayoutKernels<B = HostArray> {
  /**
   * out = x with its axes reordered: out.shape[i] = shape[axes[i]], and
   * out[i_0, ..., i_{r-1}] = x[j] where j[axes[k]] = i_k. `axes` is a permutation of 0..r-1.
   */
  permute(x: B, shape: readonly number[], axes: readonly number[], out: B): void;
  /**
   * Concatenation of row-major slabs: input k is viewed as (outer, inners[k]) and
   * out as (outer, sum(inners)); row o of out is row o of xs[0], then of xs[1], ...
   * A null input writes zeros in its slot (used by gradients of split and slicing).
   */
  concat(xs: readonly (B | null)[], outer: number, inners: readonly number[], out: B): void;
  /** The inverse of concat: x (outer, sum(inners)) into outs[k] (outer, inners[k]); a null output is skipped. */
  split(x: B, outer: number, inners: readonly number[], outs: readonly (B | null)[]): void;
  /** Nearest-neighbour 2x upsampling, NHWC: x (n, h, w, c) -> out (n, 2h, 2w, c). */
  upsampleNearest2x(x: B, n: number, h: number, w: number, c: number, out: B): void;
  /** Its gradient: gx (n, h, w, c) = the sum of each 2x2 block of gy (n, 2h, 2w, c); gx is overwritten. */
  upsampleNearest2xBackward(gy: B, n: number, h: number, w: number, c: number, gx: B): void;
  /** Row gather: out (indices.length, d) with out[i] = weight[indices[i]], weight (v, d). Throws on an index outside [0, v). */
  embedding(weight: B, v: number, d: number, indices: Int32Array, out: B): void;
  /** Its gradient: gw (v, d) is overwritten with sum over i with indices[i] = r of gy[i] (repeats accumulate). */
  embeddingBackward(gy: B, indices: Int32Array, v: number, d: number, gw: B): void;
}
