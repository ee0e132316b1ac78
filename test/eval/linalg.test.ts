/**
 * Symmetric eigendecomposition (Jacobi) against closed forms and by reconstruction; the PSD square
 * root squares back; the fitted Gaussian matches a hand-computed mean and covariance.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { symmetricEigen, sqrtmPsd, matmul64, fitGaussian } from '../../src/eval/linalg.js';
import { rng } from '../helpers/data.js';

/** A random symmetric (n, n) matrix. */
function randomSymmetric(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = 2 * r() - 1;
  return a;
}

/** B B^T for a random (n, k) B: PSD of rank min(n, k). */
function randomPsd(n: number, k: number, seed: number): Float64Array {
  const r = rng(seed);
  const b = Float64Array.from({ length: n * k }, () => 2 * r() - 1);
  const bt = new Float64Array(k * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) bt[j * n + i] = b[i * k + j]!;
  return matmul64(b, bt, n, k, n);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('symmetricEigen', () => {
  it('finds the closed-form eigenvalues of a 2x2 matrix [[a, b], [b, c]]', () => {
    const [a, b, c] = [2, -0.7, 5];
    const { values, vectors } = symmetricEigen(Float64Array.of(a, b, b, c), 2);
    const mid = (a + c) / 2;
    const rad = Math.sqrt(((a - c) / 2) ** 2 + b * b);
    assert.ok(Math.abs(values[0]! - (mid - rad)) < 1e-14 && Math.abs(values[1]! - (mid + rad)) < 1e-14, `${values}`);
    // A v = lambda v for each column.
    for (let j = 0; j < 2; j++) {
      const v0 = vectors[j]!;
      const v1 = vectors[2 + j]!;
      assert.ok(Math.abs(a * v0 + b * v1 - values[j]! * v0) < 1e-14 && Math.abs(b * v0 + c * v1 - values[j]! * v1) < 1e-14);
    }
  });

  it('reconstructs random symmetric matrices (V diag(l) V^T = A, V^T V = I), odd sizes included', () => {
    for (const n of [1, 3, 17, 64]) {
      const a = randomSymmetric(n, n);
      const { values, vectors } = symmetricEigen(a, n);
      const rec = new Float64Array(n * n);
      const vtv = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          let t = 0;
          for (let k = 0; k < n; k++) {
            s += vectors[i * n + k]! * values[k]! * vectors[j * n + k]!;
            t += vectors[k * n + i]! * vectors[k * n + j]!;
          }
          rec[i * n + j] = s;
          vtv[i * n + j] = t - (i === j ? 1 : 0);
        }
      }
      assert.ok(maxDiff(rec, a) < 1e-12, `n=${n}: reconstruction error ${maxDiff(rec, a)}`);
      assert.ok(maxDiff(vtv, new Float64Array(n * n)) < 1e-12, `n=${n}: orthogonality error`);
      for (let k = 1; k < n; k++) assert.ok(values[k - 1]! <= values[k]!, 'ascending');
      // The trace is the sum of the eigenvalues.
      let tr = 0;
      for (let i = 0; i < n; i++) tr += a[i * n + i]!;
      assert.ok(Math.abs(tr - values.reduce((x, y) => x + y, 0)) < 1e-12);
    }
  });

  it('rejects a non-square buffer and NaN', () => {
    assert.throws(() => symmetricEigen(new Float64Array(5), 2), /expected an \(n, n\) matrix with n = 2 \(4 values\), found 5/);
    assert.throws(() => symmetricEigen(Float64Array.of(1, NaN, NaN, 1), 2), /NaN at \(1, 0\)/);
  });
});

describe('sqrtmPsd', () => {
  it('is the elementwise root of a diagonal matrix and squares back for a rank-deficient PSD one', () => {
    assert.deepEqual([...sqrtmPsd(Float64Array.of(4, 0, 0, 9), 2)], [2, 0, 0, 3]);
    const n = 12;
    const a = randomPsd(n, 5, 3); // rank 5: 7 zero eigenvalues (slightly negative by rounding)
    const r = sqrtmPsd(a, n);
    assert.ok(maxDiff(matmul64(r, r, n, n, n), a) < 1e-12);
    assert.ok(maxDiff(r, Float64Array.from({ length: n * n }, (_, k) => r[(k % n) * n + Math.floor(k / n)]!)) === 0, 'symmetric');
  });
});

describe('fitGaussian', () => {
  it('gives the mean and the unbiased covariance of a small set', () => {
    // Rows (1, 2), (3, 2), (5, 8): mean (3, 4); deviations (-2, -2), (0, -2), (2, 4).
    const g = fitGaussian(Float32Array.of(1, 2, 3, 2, 5, 8), 3, 2);
    assert.deepEqual([...g.mean], [3, 4]);
    assert.deepEqual([...g.cov], [8 / 2, 12 / 2, 12 / 2, 24 / 2]);
    assert.throws(() => fitGaussian(Float32Array.of(1, 2), 1, 2), /at least 2 vectors/);
  });
});
