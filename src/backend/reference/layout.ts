/** Reference layout kernels: the plain definitions in TypeScript, in the buffer's own precision. */
import type { LayoutKernels } from '../kernels/layout.js';

export const referenceLayout: LayoutKernels = {
  permute(x, shape, axes, out) {
    const r = shape.length;
    // Row-major strides of x, then x's stride for each output axis.
    const inStride = new Array<number>(r).fill(1);
    for (let k = r - 2; k >= 0; k--) inStride[k] = inStride[k + 1]! * shape[k + 1]!;
    const outShape = axes.map((a) => shape[a]!);
    const stride = axes.map((a) => inStride[a]!);
    const idx = new Array<number>(r).fill(0);
    let src = 0;
    for (let i = 0; i < out.length; i++) {
      out[i] = x[src]!;
      // Odometer increment over the output index, tracking the source offset.
      for (let k = r - 1; k >= 0; k--) {
        idx[k]!++;
        src += stride[k]!;
        if (idx[k]! < outShape[k]!) break;
        src -= stride[k]! * outShape[k]!;
        idx[k] = 0;
      }
    }
  },

  concat(xs, outer, inners, out) {
    const total = inners.reduce((s, v) => s + v, 0);
    for (let o = 0; o < outer; o++) {
      let off = o * total;
      xs.forEach((x, k) => {
        const inner = inners[k]!;
        if (x === null) out.fill(0, off, off + inner);
        else for (let j = 0; j < inner; j++) out[off + j] = x[o * inner + j]!;
        off += inner;
      });
    }
  },

  split(x, outer, inners, outs) {
    const total = inners.reduce((s, v) => s + v, 0);
    for (let o = 0; o < outer; o++) {
      let off = o * total;
      outs.forEach((y, k) => {
        const inner = inners[k]!;
        if (y !== null) for (let j = 0; j < inner; j++) y[o * inner + j] = x[off + j]!;
        off += inner;
      });
    }
  },

  upsampleNearest2x(x, n, h, w, c, out) {
    for (let b = 0; b < n; b++)
      for (let i = 0; i < 2 * h; i++)
        for (let j = 0; j < 2 * w; j++) {
          const src = ((b * h + (i >> 1)) * w + (j >> 1)) * c;
          const dst = ((b * 2 * h + i) * 2 * w + j) * c;
          for (let ch = 0; ch < c; ch++) out[dst + ch] = x[src + ch]!;
        }
  },

  upsampleNearest2xBackward(gy, n, h, w, c, gx) {
    const W2 = 2 * w;
    for (let b = 0; b < n; b++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) {
          const dst = ((b * h + i) * w + j) * c;
          const top = ((b * 2 * h + 2 * i) * W2 + 2 * j) * c;
          const bottom = top + W2 * c;
          for (let ch = 0; ch < c; ch++) {
            gx[dst + ch] = gy[top + ch]! + gy[top + c + ch]! + gy[bottom + ch]! + gy[bottom + c + ch]!;
          }
        }
  },

  embedding(weight, v, d, indices, out) {
    for (let i = 0; i < indices.length; i++) {
      const r = indices[i]!;
      if (r < 0 || r >= v) throw new RangeError(`embedding: index ${r} at position ${i} is out of range for ${v} rows`);
      for (let j = 0; j < d; j++) out[i * d + j] = weight[r * d + j]!;
    }
  },

  embeddingBackward(gy, indices, v, d, gw) {
    gw.fill(0, 0, v * d);
    for (let i = 0; i < indices.length; i++) {
      const r = indices[i]!;
      if (r < 0 || r >= v) throw new RangeError(`embeddingBackward: index ${r} at position ${i} is out of range for ${v} rows`);
      for (let j = 0; j < d; j++) gw[r * d + j]! += gy[i * d + j]!;
    }
  },
};
