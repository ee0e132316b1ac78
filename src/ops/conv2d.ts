/**
 * 2-D convolution (cross-correlation, as PyTorch's F.conv2d) on NHWC activations with OHWI weights:
 *   y[n, oh, ow, o] = b[o] + sum_{kh, kw, i} x[n, oh*sh - pt + kh, ow*sw - pl + kw, i] * w[o, kh, kw, i]
 * Gradients: dx = conv_transpose(dy, w) (backward-data), dw[o, kh, kw, i] = sum dy * x-patch and
 * db = sum of dy over N, OH, OW (backward-weights).
 */
import { Tensor } from '../tensor/tensor.js';
import { empty, emptyUninit } from '../tensor/create.js';
import { recordOp } from '../tensor/autograd.js';
import { expectTensor, expectRank, expectShape, sameDType, sameDevice } from '../tensor/check.js';
import { ArgumentError, ShapeError, fmtShape } from '../tensor/errors.js';
import type { Conv2dGeometry } from '../backend/kernels/conv2d.js';

export interface Conv2dOptions {
  /** Step between output positions, the same on both axes or [strideH, strideW] (default 1). */
  stride?: number | [number, number];
  /**
   * Zero padding: one number for all sides, [padH, padW] (symmetric), or explicit
   * [top, bottom, left, right] (diffusers' Downsample2D with padding=0 pads [0, 1, 0, 1]). Default 0.
   */
  padding?: number | [number, number] | [number, number, number, number];
}

function expectNonNegInts(op: string, name: string, v: unknown, lengths: number[], min: number): number[] {
  const arr = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(arr) || !lengths.includes(arr.length) || arr.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < min)) {
    throw new ArgumentError(
      `${op}: option '${name}' must be an integer >= ${min}${lengths.length > 1 ? ` or an array of ${lengths.slice(1).join(' or ')} such integers` : ''}, found ${JSON.stringify(v)}`,
    );
  }
  return arr as number[];
}

/** Validates the inputs and options of conv2d and computes the kernel geometry. */
export function conv2dGeometry(x: Tensor, w: Tensor, b: Tensor | null, options: Conv2dOptions): Conv2dGeometry {
  const op = 'conv2d';
  expectTensor(op, 'x', x);
  expectTensor(op, 'w', w);
  if (b !== null) expectTensor(op, 'b', b);
  expectRank(op, 'x', x, 4, '(N, H, W, C)');
  expectRank(op, 'w', w, 4, '(O, KH, KW, I)');
  const [n, h, wd, cin] = x.shape as [number, number, number, number];
  const [cout, kh, kw, wi] = w.shape as [number, number, number, number];
  if (wi !== cin) {
    throw new ShapeError(`${op}: input 'w' has shape ${fmtShape(w.shape)}, expected in-channels ${cin} (the last axis of x ${fmtShape(x.shape)})`);
  }
  if (b !== null) expectShape(op, 'b', b, [cout]);
  const s = expectNonNegInts(op, 'stride', options.stride ?? 1, [1, 2], 1);
  const pad = expectNonNegInts(op, 'padding', options.padding ?? 0, [1, 2, 4], 0);
  const [strideH, strideW] = s.length === 1 ? [s[0]!, s[0]!] : [s[0]!, s[1]!];
  const [padTop, padBottom, padLeft, padRight] =
    pad.length === 1 ? [pad[0]!, pad[0]!, pad[0]!, pad[0]!] : pad.length === 2 ? [pad[0]!, pad[0]!, pad[1]!, pad[1]!] : (pad as [number, number, number, number]);
  if (kh < 1 || kw < 1) throw new ShapeError(`${op}: input 'w' has shape ${fmtShape(w.shape)}; kernel sizes must be >= 1`);
  const ph = h + padTop + padBottom;
  const pw = wd + padLeft + padRight;
  if (ph < kh || pw < kw) {
    throw new ShapeError(`${op}: the ${kh}x${kw} kernel of 'w' ${fmtShape(w.shape)} is larger than the padded input ${ph}x${pw} (x ${fmtShape(x.shape)} with padding [${padTop}, ${padBottom}, ${padLeft}, ${padRight}])`);
  }
  const oh = Math.floor((ph - kh) / strideH) + 1;
  const ow = Math.floor((pw - kw) / strideW) + 1;
  return { n, h, w: wd, cin, cout, kh, kw, strideH, strideW, padTop, padBottom, padLeft, padRight, oh, ow };
}

/**
 * 2-D convolution of x (N, H, W, I) with w (O, KH, KW, I) plus optional bias b (O); returns
 * (N, OH, OW, O). Gradients flow to x, w and b.
 * @example const y = conv2d(x, w, b, { padding: 1 });            // 3x3 "same" conv
 * @example const d = conv2d(x, w, b, { stride: 2, padding: [0, 1, 0, 1] }); // diffusers Downsample2D
 */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const bias = b ?? null;
  const g = conv2dGeometry(x, w, bias, options);
  const named = bias === null ? { x, w } : { x, w, b: bias };
  const dtype = sameDType('conv2d', named);
  const dev = sameDevice('conv2d', named);
  // Empty tensors (a zero N, H, W, I or O) need no kernel call: the output is empty, or just the bias.
  const empty0 = g.n === 0 || g.cin === 0 || g.cout === 0 || g.h === 0 || g.w === 0;
  // Where a kernel runs it writes every output element, so those buffers skip the zero fill.
  const alloc = empty0 ? empty : emptyUninit;
  const y = alloc([g.n, g.oh, g.ow, g.cout], dtype, dev); // (N, OH, OW, O)
  if (!empty0) dev.kernels.conv2dForward(g, x.storage, w.storage, bias === null ? null : bias.storage, y.storage);
  else if (bias !== null && y.size > 0) dev.kernels.broadcastTo(bias.storage, [g.cout], y.storage, y.shape);

  const inputs = bias === null ? [x, w] : [x, w, bias];
  return recordOp('conv2d', y, inputs, (gy) => {
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    let gb: Tensor | null = null;
    if (x.requiresGrad) {
      gx = alloc(x.shape, dtype, dev);
      if (!empty0) dev.kernels.conv2dBackwardData(g, gy.storage, w.storage, gx.storage);
    }
    const wantB = bias !== null && bias.requiresGrad;
    if (w.requiresGrad || wantB) {
      // One backward-weights call yields both; gw is computed even if only gb is wanted.
      gw = alloc(w.shape, dtype, dev);
      gb = wantB ? alloc([g.cout], dtype, dev) : null;
      if (!empty0) dev.kernels.conv2dBackwardWeights(g, x.storage, gy.storage, gw.storage, gb === null ? null : gb.storage);
      else if (gb !== null && gy.size > 0) dev.kernels.reduceSum(gy.storage, [gy.size / g.cout, g.cout], gb.storage, [1, g.cout]);
      if (!w.requiresGrad) gw = null;
    }
    return bias === null ? [gx, gw] : [gx, gw, gb];
  });
}
