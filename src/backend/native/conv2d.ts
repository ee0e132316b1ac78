/** Native conv2d kernels (native/kernels/conv2d.cc, over oneDNN). */
import type { Conv2dGeometry, Conv2dKernels } from '../kernels/conv2d.js';
import { f32, fn, nativeCall } from './loader.js';

/** The geometry as the Int32Array the addon reads (order fixed by ConvGeom in conv2d.cc). */
export function geometryArray(g: Conv2dGeometry): Int32Array {
  return Int32Array.of(g.n, g.h, g.w, g.cin, g.cout, g.kh, g.kw, g.strideH, g.strideW, g.padTop, g.padBottom, g.padLeft, g.padRight);
}

type ForwardFn = (g: Int32Array, x: Float32Array, w: Float32Array, b: Float32Array | null, y: Float32Array) => void;
type BackwardDataFn = (g: Int32Array, gy: Float32Array, w: Float32Array, gx: Float32Array) => void;
type BackwardWeightsFn = (g: Int32Array, x: Float32Array, gy: Float32Array, gw: Float32Array, gb: Float32Array | null) => void;

export const nativeConv2d: Conv2dKernels = {
  conv2dForward(g, x, w, b, y) {
    const args = [geometryArray(g), f32('conv2d', 'x', x), f32('conv2d', 'w', w), b === null ? null : f32('conv2d', 'b', b), f32('conv2d', 'out', y)] as const;
    nativeCall(() => fn<ForwardFn>('conv2dForward')(...args));
  },
  conv2dBackwardData(g, gy, w, gx) {
    const args = [geometryArray(g), f32('conv2d', 'gy', gy), f32('conv2d', 'w', w), f32('conv2d', 'gx', gx)] as const;
    nativeCall(() => fn<BackwardDataFn>('conv2dBackwardData')(...args));
  },
  conv2dBackwardWeights(g, x, gy, gw, gb) {
    const args = [geometryArray(g), f32('conv2d', 'x', x), f32('conv2d', 'gy', gy), f32('conv2d', 'gw', gw), gb === null ? null : f32('conv2d', 'gb', gb)] as const;
    nativeCall(() => fn<BackwardWeightsFn>('conv2dBackwardWeights')(...args));
  },
};
