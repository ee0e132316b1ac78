/** Reference matmul kernel: c[i] = alpha * op(a[i]) op(b[i]) + bias as plain loops, in the buffer's precision. */
import type { MatmulKernels } from '../kernels/matmul.js';

export const referenceMatmul: MatmulKernels = {
  matmul(p, a, b, bias, c) {
    const { batch, m: M, n: N, k: K, transA, transB, alpha } = p;
    for (let bi = 0; bi < batch; bi++) {
      const aOff = p.broadcastA ? 0 : bi * M * K;
      const bOff = p.broadcastB ? 0 : bi * K * N;
      const cOff = bi * M * N;
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let l = 0; l < K; l++) {
            // a stored (M, K) or (K, M); b stored (K, N) or (N, K).
            const av = a[aOff + (transA ? l * M + i : i * K + l)]!;
            const bv = b[bOff + (transB ? j * K + l : l * N + j)]!;
            s += av * bv;
          }
          c[cOff + i * N + j] = alpha * s + (bias === null ? 0 : bias[j]!);
        }
      }
    }
  },
};
