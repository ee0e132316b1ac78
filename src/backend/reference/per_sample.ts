/** Reference per-sample kernels (the native backend runs these too: they are memory-bound loops). */
import type { PerSampleKernels } from '../kernels/per_sample.js';

export const referencePerSample: PerSampleKernels = {
  weightedSqDiffSum(pred, target, w, divisor, out) {
    const batch = w.length;
    const per = batch === 0 ? 0 : pred.length / batch;
    let total = 0;
    for (let n = 0; n < batch; n++) {
      let s = 0;
      for (let i = n * per; i < (n + 1) * per; i++) s += (pred[i]! - target[i]!) ** 2;
      total += w[n]! * s;
    }
    out[0] = total / divisor;
  },
  weightedSqDiffBackward(pred, target, gy, w, scale, divisor, g) {
    const batch = w.length;
    const per = batch === 0 ? 0 : pred.length / batch;
    const gy0 = gy[0]!;
    for (let n = 0; n < batch; n++) {
      const c = (scale * w[n]! * gy0) / divisor;
      for (let i = n * per; i < (n + 1) * per; i++) g[i] = c * (pred[i]! - target[i]!);
    }
  },
};
