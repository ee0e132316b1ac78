/**
 * Reference normalisation kernels (group norm, group norm + SiLU, layer norm, softmax): the
 * plain definitions in TypeScript, the oracle for native/kernels/norm.cc. Arithmetic runs in
 * JS doubles and results are stored in the buffer's own precision (float32 or float64).
 * Statistics are two-pass (mean, then the centred sum of squares) so no cancellation occurs.
 */
import type { NormKernels } from '../kernels/norm.js';
import type { Storage } from '../../tensor/tensor.js';

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Mean and rstd of x[off + k * stride + j], k < count, j < width (two passes). */
function stats(x: Storage, off: number, count: number, stride: number, width: number, eps: number): [number, number] {
  const m = count * width;
  let sum = 0;
  for (let k = 0; k < count; k++) for (let j = 0; j < width; j++) sum += x[off + k * stride + j]!;
  const mean = sum / m;
  let ss = 0;
  for (let k = 0; k < count; k++) {
    for (let j = 0; j < width; j++) {
      const d = x[off + k * stride + j]! - mean;
      ss += d * d;
    }
  }
  return [mean, 1 / Math.sqrt(ss / m + eps)];
}

export const referenceNorm: NormKernels = {
  groupNormForward(x, gamma, beta, { n, s, c, groups }, eps, silu, y, mean, rstd) {
    const cg = c / groups;
    for (let i = 0; i < n; i++) {
      for (let g = 0; g < groups; g++) {
        const off = i * s * c + g * cg;
        const [mu, r] = stats(x, off, s, c, cg, eps);
        mean[i * groups + g] = mu;
        rstd[i * groups + g] = r;
        for (let p = 0; p < s; p++) {
          for (let j = 0; j < cg; j++) {
            const k = off + p * c + j;
            const z = (x[k]! - mu) * r * gamma[g * cg + j]! + beta[g * cg + j]!;
            y[k] = silu ? z * sigmoid(z) : z;
          }
        }
      }
    }
  },

  groupNormBackward(x, gamma, beta, mean, rstd, gy, { n, s, c, groups }, silu, gx, gGamma, gBeta) {
    const cg = c / groups;
    const m = s * cg;
    gGamma.fill(0);
    gBeta.fill(0);
    for (let i = 0; i < n; i++) {
      for (let g = 0; g < groups; g++) {
        const off = i * s * c + g * cg;
        const mu = mean[i * groups + g]!;
        const r = rstd[i * groups + g]!;
        // gz = dL/dz (through silu when fused), kept in gx until the second pass.
        let sum1 = 0; // sum of gz * gamma over the group
        let sum2 = 0; // sum of gz * gamma * xHat over the group
        for (let p = 0; p < s; p++) {
          for (let j = 0; j < cg; j++) {
            const k = off + p * c + j;
            const ch = g * cg + j;
            const xHat = (x[k]! - mu) * r;
            let gz = gy[k]!;
            if (silu) {
              const z = xHat * gamma[ch]! + beta[ch]!;
              const sg = sigmoid(z);
              gz *= sg * (1 + z * (1 - sg));
            }
            gx[k] = gz;
            gGamma[ch]! += gz * xHat;
            gBeta[ch]! += gz;
            sum1 += gz * gamma[ch]!;
            sum2 += gz * gamma[ch]! * xHat;
          }
        }
        const mean1 = sum1 / m;
        const mean2 = sum2 / m;
        for (let p = 0; p < s; p++) {
          for (let j = 0; j < cg; j++) {
            const k = off + p * c + j;
            const xHat = (x[k]! - mu) * r;
            gx[k] = r * (gx[k]! * gamma[g * cg + j]! - mean1 - xHat * mean2);
          }
        }
      }
    }
  },

  layerNormForward(x, gamma, beta, rows, d, eps, y, mean, rstd) {
    for (let i = 0; i < rows; i++) {
      const off = i * d;
      const [mu, r] = stats(x, off, 1, d, d, eps);
      mean[i] = mu;
      rstd[i] = r;
      for (let j = 0; j < d; j++) {
        const xHat = (x[off + j]! - mu) * r;
        y[off + j] = xHat * (gamma ? gamma[j]! : 1) + (beta ? beta[j]! : 0);
      }
    }
  },

  layerNormBackward(x, gamma, mean, rstd, gy, rows, d, gx, gGamma, gBeta) {
    gGamma?.fill(0);
    gBeta?.fill(0);
    for (let i = 0; i < rows; i++) {
      const off = i * d;
      const mu = mean[i]!;
      const r = rstd[i]!;
      let sum1 = 0;
      let sum2 = 0;
      for (let j = 0; j < d; j++) {
        const xHat = (x[off + j]! - mu) * r;
        const g = gy[off + j]!;
        const gh = g * (gamma ? gamma[j]! : 1); // dL/dxHat
        sum1 += gh;
        sum2 += gh * xHat;
        if (gGamma) gGamma[j]! += g * xHat;
        if (gBeta) gBeta[j]! += g;
      }
      for (let j = 0; j < d; j++) {
        const xHat = (x[off + j]! - mu) * r;
        const gh = gy[off + j]! * (gamma ? gamma[j]! : 1);
        gx[off + j] = r * (gh - sum1 / d - xHat * (sum2 / d));
      }
    }
  },

  softmaxForward(x, rows, d, y) {
    for (let i = 0; i < rows; i++) {
      const off = i * d;
      // Subtract the row max so exp never overflows; Math.max propagates NaN to the whole row.
      let mx = -Infinity;
      for (let j = 0; j < d; j++) mx = Math.max(mx, x[off + j]!);
      let sum = 0;
      for (let j = 0; j < d; j++) sum += Math.exp(x[off + j]! - mx);
      for (let j = 0; j < d; j++) y[off + j] = Math.exp(x[off + j]! - mx) / sum;
    }
  },

  softmaxBackward(y, gy, rows, d, gx) {
    for (let i = 0; i < rows; i++) {
      const off = i * d;
      let dot = 0;
      for (let j = 0; j < d; j++) dot += gy[off + j]! * y[off + j]!;
      for (let j = 0; j < d; j++) gx[off + j] = y[off + j]! * (gy[off + j]! - dot);
    }
  },
};
