/**
 * Reference conv2d kernels: the defining sums as direct loops (see kernels/conv2d.ts), in the
 * buffer's own precision (float32 or float64). Sums run in JS doubles; backward results gather
 * in a float64 scratch buffer so float32 outputs are rounded once.
 */
import type { Conv2dGeometry, Conv2dKernels } from '../kernels/conv2d.js';
import type { Storage } from '../../tensor/tensor.js';

/**
 * Calls visit(xBase, wBase, yIndex) for every (output position, output channel, kernel tap)
 * that lands inside the input; xBase/wBase index the first input channel of the tap.
 */
function forEachTap(g: Conv2dGeometry, visit: (xBase: number, wBase: number, yIndex: number) => void): void {
  for (let n = 0; n < g.n; n++) {
    for (let oh = 0; oh < g.oh; oh++) {
      for (let ow = 0; ow < g.ow; ow++) {
        const yBase = ((n * g.oh + oh) * g.ow + ow) * g.cout;
        for (let o = 0; o < g.cout; o++) {
          for (let kh = 0; kh < g.kh; kh++) {
            const ih = oh * g.strideH - g.padTop + kh;
            if (ih < 0 || ih >= g.h) continue; // zero padding contributes nothing
            for (let kw = 0; kw < g.kw; kw++) {
              const iw = ow * g.strideW - g.padLeft + kw;
              if (iw < 0 || iw >= g.w) continue;
              visit(((n * g.h + ih) * g.w + iw) * g.cin, ((o * g.kh + kh) * g.kw + kw) * g.cin, yBase + o);
            }
          }
        }
      }
    }
  }
}

export const referenceConv2d: Conv2dKernels = {
  conv2dForward(g, x, w, b, y) {
    const acc = new Float64Array(y.length);
    if (b !== null) for (let i = 0; i < acc.length; i++) acc[i] = b[i % g.cout]!;
    forEachTap(g, (xb, wb, yi) => {
      let s = 0;
      for (let i = 0; i < g.cin; i++) s += x[xb + i]! * w[wb + i]!;
      acc[yi]! += s;
    });
    y.set(acc);
  },
  conv2dBackwardData(g, gy, w, gx) {
    const acc = new Float64Array(gx.length);
    forEachTap(g, (xb, wb, yi) => {
      const d = gy[yi]!;
      for (let i = 0; i < g.cin; i++) acc[xb + i]! += d * w[wb + i]!;
    });
    gx.set(acc);
  },
  conv2dBackwardWeights(g, x, gy, gw, gb) {
    const acc = new Float64Array(gw.length);
    forEachTap(g, (xb, wb, yi) => {
      const d = gy[yi]!;
      for (let i = 0; i < g.cin; i++) acc[wb + i]! += d * x[xb + i]!;
    });
    gw.set(acc);
    if (gb !== null) gb.set(sumRows(gy, g.cout));
  },
};

/** Column sums of a (rows, cols) row-major buffer, in float64. */
function sumRows(a: Storage, cols: number): Float64Array {
  const s = new Float64Array(cols);
  for (let i = 0; i < a.length; i++) s[i % cols]! += a[i]!;
  return s;
}
