/**
 * Kernel contract of 2-D convolution (cross-correlation, as in PyTorch):
 *   y[n, oh, ow, o] = b[o] + sum_{kh, kw, i} x[n, oh*sh - pt + kh, ow*sw - pl + kw, i] * w[o, kh, kw, i]
 * with zero padding. Activations NHWC, weights OHWI (O, KH, KW, I), bias (O).
 */
import type { HostArray } from '../../tensor/tensor.js';

/** Everything a conv kernel needs to know about shapes; the op computes it once. */
export interface Conv2dGeometry {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly cin: number;
  readonly cout: number;
  readonly kh: number;
  readonly kw: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly padTop: number;
  readonly padBottom: number;
  readonly padLeft: number;
  readonly padRight: number;
  /** Output height: floor((h + padTop + padBottom - kh) / strideH) + 1. */
  readonly oh: number;
  /** Output width: floor((w + padLeft + padRight - kw) / strideW) + 1. */
  readonly ow: number;
}

export interface Conv2dKernels<B = HostArray> {
  /** y (N, OH, OW, O) = conv(x (N, H, W, I), w (O, KH, KW, I)) + b (O) if given; y is overwritten. */
  conv2dForward(g: Conv2dGeometry, x: B, w: B, b: B | null, y: B): void;
  /** gx (N, H, W, I) = dL/dx given gy (N, OH, OW, O); gx is overwritten. */
  conv2dBackwardData(g: Conv2dGeometry, gy: B, w: B, gx: B): void;
  /** gw (O, KH, KW, I) = dL/dw and, if gb is given, gb (O) = dL/db; both are overwritten. */
  conv2dBackwardWeights(g: Conv2dGeometry, x: B, gy: B, gw: B, gb: B | null): void;
}
