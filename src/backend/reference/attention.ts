/**
 * Reference fused attention: the plain definition in TypeScript (JS doubles, stored in the
 * buffer's precision), the oracle for native/kernels/attention.cc. Layout: q (b, lq, heads*dh),
 * k and v (b, lk, heads*dh), p (b, heads, lq, lk).
 */
import type { AttentionKernels } from '../kernels/attention.js';

export const referenceAttention: AttentionKernels = {
  attentionForward(q, k, v, { b, lq, lk, heads, dh }, scale, o, p) {
    const w = heads * dh;
    for (let n = 0; n < b; n++)
      for (let h = 0; h < heads; h++) {
        const pBase = (n * heads + h) * lq * lk;
        for (let i = 0; i < lq; i++) {
          const qi = (n * lq + i) * w + h * dh;
          const s = new Float64Array(lk);
          // Math.max propagates a NaN score to the row.
          let mx = -Infinity;
          for (let j = 0; j < lk; j++) {
            const kj = (n * lk + j) * w + h * dh;
            let dot = 0;
            for (let c = 0; c < dh; c++) dot += q[qi + c]! * k[kj + c]!;
            s[j] = scale * dot;
            mx = Math.max(mx, s[j]!);
          }
          let sum = 0;
          for (let j = 0; j < lk; j++) sum += (s[j] = Math.exp(s[j]! - mx));
          for (let j = 0; j < lk; j++) p[pBase + i * lk + j] = s[j]! / sum;
          for (let c = 0; c < dh; c++) {
            let acc = 0;
            for (let j = 0; j < lk; j++) acc += (s[j]! / sum) * v[(n * lk + j) * w + h * dh + c]!;
            o[qi + c] = acc;
          }
        }
      }
  },

  attentionBackward(q, k, v, p, go, { b, lq, lk, heads, dh }, scale, gq, gk, gv) {
    const w = heads * dh;
    gk.fill(0);
    gv.fill(0);
    for (let n = 0; n < b; n++)
      for (let h = 0; h < heads; h++) {
        const pBase = (n * heads + h) * lq * lk;
        for (let i = 0; i < lq; i++) {
          const qi = (n * lq + i) * w + h * dh;
          const dp = new Float64Array(lk);
          let rowdot = 0;
          for (let j = 0; j < lk; j++) {
            const vj = (n * lk + j) * w + h * dh;
            let acc = 0;
            for (let c = 0; c < dh; c++) acc += go[qi + c]! * v[vj + c]!;
            dp[j] = acc;
            rowdot += p[pBase + i * lk + j]! * acc;
          }
          const gqi = new Float64Array(dh);
          for (let j = 0; j < lk; j++) {
            const pij = p[pBase + i * lk + j]!;
            const ds = scale * pij * (dp[j]! - rowdot);
            const kj = (n * lk + j) * w + h * dh;
            for (let c = 0; c < dh; c++) {
              gqi[c] = gqi[c]! + ds * k[kj + c]!;
              gk[kj + c] = gk[kj + c]! + ds * q[qi + c]!;
              gv[kj + c] = gv[kj + c]! + pij * go[qi + c]!;
            }
          }
          for (let c = 0; c < dh; c++) gq[qi + c] = gqi[c]!;
        }
      }
  },
};
