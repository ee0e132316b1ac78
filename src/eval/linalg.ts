/**
 * Dense float64 linear algebra for the evaluation statistics: feature means and covariances, the
 * symmetric eigendecomposition by cyclic Jacobi rotations (Golub & Van Loan, Matrix Computations,
 * 4th ed., Alg. 8.5.3), and the square root of a symmetric positive semi-definite matrix built on
 * it (A^{1/2} = V diag(sqrt(lambda)) V^T). Matrices are row-major Float64Arrays.
 */
import { ArgumentError, ShapeError } from '../tensor/errors.js';

/** Sweeps before Jacobi gives up; it converges quadratically, in well under 20 for n <= 512. */
const MAX_SWEEPS = 60;

/** Eigenvalues and eigenvectors of a symmetric matrix. */
export interface SymmetricEigen {
  /** (n) eigenvalues, ascending. */
  values: Float64Array;
  /** (n, n) row-major; column j is the unit eigenvector of values[j]. */
  vectors: Float64Array;
}

function checkSquare(op: string, a: ArrayLike<number>, n: number): void {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) throw new ShapeError(`${op}: expected an (n, n) matrix with n = ${n} (${n * n} values), found ${a.length} values`);
}

/**
 * Eigendecomposition of the symmetric (n, n) matrix `a` (only its values are read; it is not
 * modified) by cyclic Jacobi rotations: each rotation zeroes one off-diagonal pair, and sweeps
 * repeat until the off-diagonal mass is below 1e-30 of the total (machine precision).
 * @example const { values, vectors } = symmetricEigen(Float64Array.of(2, 1, 1, 2), 2); // values [1, 3]
 */
export function symmetricEigen(a: ArrayLike<number>, n: number): SymmetricEigen {
  const op = 'symmetricEigen';
  checkSquare(op, a, n);
  const m = Float64Array.from(a);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const x = m[i * n + j]!;
      const y = m[j * n + i]!;
      if (Number.isNaN(x) || Number.isNaN(y)) throw new ArgumentError(`${op}: the matrix holds NaN at (${i}, ${j})`);
      // Symmetrise: covariances from float arithmetic can differ in the last bits across the diagonal.
      m[i * n + j] = m[j * n + i] = (x + y) / 2;
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += m[i]! * m[i]!;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += 2 * m[p * n + q]! * m[p * n + q]!;
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (apq === 0) continue;
        // The rotation J (c, s in rows/columns p, q) that makes (J^T A J)_pq = 0; t = tan(angle),
        // the smaller root of t^2 + 2 theta t - 1 = 0 (a rotation of at most 45 degrees: stable).
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p]!;
          const akq = m[k * n + q]!;
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k]!;
          const aqk = m[q * n + k]!;
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
        m[p * n + q] = m[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  // Ascending order, eigenvectors permuted along.
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[i * n + i]! - m[j * n + j]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = m[src * n + src]!;
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src]!;
  });
  return { values, vectors };
}

/**
 * The symmetric square root of a symmetric positive semi-definite (n, n) matrix. Eigenvalues
 * below zero (rounding in a rank-deficient covariance) are taken as zero.
 * @example sqrtmPsd(Float64Array.of(4, 0, 0, 9), 2) // [2, 0, 0, 3]
 */
export function sqrtmPsd(a: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  const r = values.map((l) => Math.sqrt(Math.max(l, 0)));
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[i * n + k]! * r[k]! * vectors[j * n + k]!;
      out[i * n + j] = out[j * n + i] = s;
    }
  }
  return out;
}

/** (n, m) x (m, p) row-major product. */
export function matmul64(a: ArrayLike<number>, b: ArrayLike<number>, n: number, m: number, p: number): Float64Array {
  const out = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < p; j++) out[i * p + j]! += aik * b[k * p + j]!;
    }
  }
  return out;
}

/** Mean (d) and covariance (d, d) of n feature vectors. */
export interface Gaussian {
  mean: Float64Array;
  cov: Float64Array;
  dim: number;
  /** Number of vectors fitted. */
  count: number;
}

/**
 * The mean and the unbiased (n - 1) covariance of `x` (n, d), accumulated in float64 around the
 * mean (two passes: no cancellation).
 * @example const g = fitGaussian(features, 10000, 128);
 */
export function fitGaussian(x: ArrayLike<number>, n: number, d: number): Gaussian {
  if (!Number.isInteger(n) || n < 2) throw new ArgumentError(`fitGaussian: needs at least 2 vectors to estimate a covariance, found ${n}`);
  if (x.length !== n * d) throw new ShapeError(`fitGaussian: expected (${n}, ${d}) = ${n * d} values, found ${x.length}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j]! - mean[j]!;
    for (let j = 0; j < d; j++) {
      const rj = row[j]!;
      for (let k = j; k < d; k++) cov[j * d + k]! += rj * row[k]!;
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = j; k < d; k++) {
      const c = cov[j * d + k]! / (n - 1);
      cov[j * d + k] = cov[k * d + j] = c;
    }
  }
  return { mean, cov, dim: d, count: n };
}
